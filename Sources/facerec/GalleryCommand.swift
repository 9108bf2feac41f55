import ArgumentParser
import FaceRecognition
import Foundation

/// `facerec gallery list|import|add|remove`: inspect and edit gallery files.
struct GalleryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gallery",
        abstract: "Inspect and edit gallery files (safetensors; the course data.pt is read, never rewritten).",
        subcommands: [List.self, Import.self, Add.self, Remove.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List identities and how many embeddings each has.")
        @Argument(help: "Gallery file or data.pt.") var gallery: String
        @OptionGroup var common: CommonOptions
        func run() throws {
            let g = try CLI.loadGallery(gallery)
            var counts: [String: Int] = [:]
            for name in g.names { counts[name, default: 0] += 1 }
            for name in g.identities { CLI.printLine("\(name)\t\(counts[name]!)") }
            let threshold = g.threshold.map { "; threshold \($0.value) (\($0.metric.rawValue))" } ?? ""
            CLI.note("\(g.identities.count) identities, \(g.count) embeddings of \(g.dimension) values\(threshold)")
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Convert the course data.pt (or any gallery) to a gallery file.",
            discussion: "The input is never modified. The output must be a new file or an existing facerec gallery, and not a .pt name: facerec writes safetensors galleries only.")
        @Argument(help: "data.pt ([embeddings, names]) or a gallery file.") var input: String
        @Argument(help: "Gallery file to write (.safetensors; not the input).") var output: String
        @OptionGroup var common: CommonOptions
        func run() throws {
            if CLI.sameFile(output, input) {
                throw CLI.refusal("\(output) is the input file; import never overwrites its input: choose a new .safetensors file")
            }
            let (g, format) = try CLI.loadGalleryDetectingFormat(input)
            try CLI.checkGalleryOutput(output, option: nil, torchInput: format == .torch ? input : nil)
            try CLI.saveGallery(g, to: output)
            CLI.note("wrote \(output): \(g.identities.count) identities, \(g.count) embeddings")
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add the face of each image under one name (creates the gallery if needed).",
            discussion: "Edits a facerec safetensors gallery in place (atomically), or writes the result to --out. A torch data.pt is never rewritten: pass --out to start a safetensors gallery from it. Images need exactly one face; folders are searched recursively.")
        @Argument(help: "Gallery file (.safetensors), or data.pt with --out.") var gallery: String
        @Option(help: ArgumentHelp("Write the edited gallery to this new .safetensors file instead of changing GALLERY in place (required when GALLERY is a torch data.pt, which is never rewritten).", valueName: "path")) var out: String?
        @Option(help: "Identity name.") var name: String
        @Option(help: "FaceNet weights (.pt or .safetensors).") var weights: String
        @OptionGroup var detection: DetectionOptions
        @OptionGroup var common: CommonOptions
        @Argument(help: "Images with exactly one face, or folders of them.") var images: [String]
        func validate() throws {
            if images.isEmpty { throw ValidationError("give at least one image or folder") }
            if name.isEmpty { throw ValidationError("--name must not be empty") }
        }
        func run() throws {
            // Check where the result may go before the (slow) weights are loaded.
            let loaded = FileProblem.reading(gallery) == .noSuchFile ? nil : try CLI.loadGalleryDetectingFormat(gallery)
            let destination = try CLI.galleryDestination(editing: gallery, format: loaded?.format, out: out)
            var g = loaded?.gallery ?? Gallery()
            let enroller = try Enroller(weights: weights, detection: detection)
            let inputs = ImageInputs(images)
            var failed = inputs.reportFailures(), added = 0, processed = 0
            for path in inputs.files {
                switch enroller.embedding(of: path) {
                case .embedding(let embedding):
                    try g.add(name: name, embedding: embedding)
                    added += 1
                    processed += 1
                case .skipped: processed += 1
                case .unreadable: failed += 1
                }
            }
            guard added > 0 else { throw CLI.fail("no face added for \(name); \(destination) left as it was") }
            try CLI.saveGallery(g, to: destination)
            CLI.note("added \(added) embedding(s) for \(name)\(destination == gallery ? "" : " in \(destination)")")
            try CLI.finish(processed: processed, failed: failed)
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove every embedding of an identity.",
            discussion: "Edits a facerec safetensors gallery in place (atomically), or writes the result to --out. A torch data.pt is never rewritten: pass --out to write the edited gallery to a new safetensors file.")
        @Argument(help: "Gallery file (.safetensors), or data.pt with --out.") var gallery: String
        @Argument(help: "Identity name.") var name: String
        @Option(help: ArgumentHelp("Write the edited gallery to this new .safetensors file instead of changing GALLERY in place (required when GALLERY is a torch data.pt, which is never rewritten).", valueName: "path")) var out: String?
        @OptionGroup var common: CommonOptions
        func run() throws {
            let (loaded, format) = try CLI.loadGalleryDetectingFormat(gallery)
            let destination = try CLI.galleryDestination(editing: gallery, format: format, out: out)
            var g = loaded
            let removed = g.remove(name: name)
            guard removed > 0 else { throw CLI.fail("no identity named '\(name)' in \(gallery)") }
            try CLI.saveGallery(g, to: destination)
            CLI.note("removed \(removed) embedding(s) of \(name)\(destination == gallery ? "" : "; wrote \(destination)")")
        }
    }
}

/// `facerec enroll`: build a gallery from a folder tree people/NAME/*.jpg.
struct EnrollCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll",
        abstract: "Build a gallery from a folder tree: people/NAME/*.jpg, one face per image.",
        discussion: """
            Each sub-folder of PEOPLE is one identity; its JPEG and PNG files (recognised by \
            content, at any depth) are enrolled under its name. An image with no face or several \
            faces is skipped with a message that names it; an unreadable image is reported and \
            the exit status is 4. No gallery is written when no face was enrolled (exit 1). \
            --threshold stores a match limit in the gallery, which identify then uses.
            """
    )
    @Option(help: "FaceNet weights (.pt or .safetensors).") var weights: String
    @Option(help: "Gallery file to write (.safetensors).") var out: String
    @Option(parsing: .unconditional, help: ArgumentHelp("Match limit to store in the gallery (identify uses it unless given --threshold).", valueName: "distance"))
    var threshold: ThresholdArgument?
    @Option(help: "Metric of --threshold: euclidean or cosine.") var metric: MatchMetric = .euclidean
    @OptionGroup var detection: DetectionOptions
    @OptionGroup var common: CommonOptions
    @Argument(help: "Folder with one sub-folder per person.") var people: String

    func validate() throws {
        try threshold?.check()
        if let threshold, !threshold.value.isFinite { throw ValidationError("--threshold none cannot be stored: give a distance") }
    }

    func run() throws {
        try CLI.checkGalleryOutput(out, option: "--out", torchInput: nil)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: people, isDirectory: &isDirectory) else {
            throw CLI.fail("\(people): \(FileProblem.reading(people) ?? .noSuchFile)")
        }
        guard isDirectory.boolValue else { throw CLI.fail("\(people): not a folder (give a folder with one sub-folder per person)") }
        let root = URL(fileURLWithPath: people)
        let entries: [String]
        do { entries = try FileManager.default.contentsOfDirectory(atPath: root.path) } catch {
            throw CLI.fail("\(people): \(FileProblem(error))")
        }
        var failed = 0
        var work: [(name: String, path: String)] = []
        for entry in entries.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) where !entry.hasPrefix(".") {
            let folder = root.appendingPathComponent(entry).path
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
                if case .success(true) = ImageInputs.sniff(folder) { CLI.note("skipping \(folder): not in a NAME folder") }
                continue
            }
            let found = ImageInputs.images(under: folder)
            for failure in found.failures { CLI.warn("\(failure)") }
            failed += found.failures.count
            work += found.images.map { (entry, $0) }
        }
        guard !work.isEmpty else {
            throw CLI.fail("\(people): no images found (expected \(people)/NAME/*.jpg or .png); no gallery written")
        }
        let enroller = try Enroller(weights: weights, detection: detection)
        var gallery = Gallery(threshold: threshold.map { DistanceThreshold($0.value, metric: metric) })
        let progress = ProgressBar(total: work.count)
        defer { progress.finish() }
        var skipped = 0, processed = 0
        for (name, path) in work {
            switch enroller.embedding(of: path) {
            case .embedding(let embedding):
                try gallery.add(name: name, embedding: embedding)
                processed += 1
            case .skipped:
                skipped += 1
                processed += 1
            case .unreadable: failed += 1
            }
            progress.advance(by: 1)
        }
        progress.finish()
        guard !gallery.isEmpty else { throw CLI.fail("no face enrolled from \(people) (\(skipped) image(s) skipped); no gallery written") }
        try CLI.saveGallery(gallery, to: out)
        CLI.note("wrote \(out): \(gallery.identities.count) identities, \(gallery.count) embeddings, \(skipped) image(s) skipped")
        try CLI.finish(processed: processed, failed: failed)
    }
}

/// Detects the single face of an enrolment image and embeds it.
struct Enroller {
    enum Outcome {
        case embedding(Embedding)
        /// No face or several (reported).
        case skipped
        /// The file could not be read (reported).
        case unreadable
    }

    let detector: MTCNN
    let facenet: FaceNet
    let applyEXIF: Bool

    init(weights: String, detection: DetectionOptions) throws {
        facenet = try CLI.loadFaceNet(weights)
        detector = try CLI.loadDetector(detection, mtcnn: detection.mtcnn(keepAll: true))
        applyEXIF = detection.applyEXIF
    }

    /// The embedding of the one face in `path`, or why there is none (reported, naming the image).
    func embedding(of path: String) -> Outcome {
        do {
            let image = try CLI.readImage(path, applyEXIF: applyEXIF)
            let crops = try detector.extractFaces(image)
            guard crops.count == 1 else {
                CLI.warn("skipping \(path): \(crops.isEmpty ? "no face" : "\(crops.count) faces") (enrolment needs exactly one)")
                return .skipped
            }
            let size = detector.options.imageSize
            return .embedding(try facenet.embed(standardized: crops[0].tensor, count: 1, height: size, width: size)[0])
        } catch let failure as InputFailure {
            CLI.warn("\(failure)")
            return .unreadable
        } catch {
            CLI.warn("\(path): \(error)")
            return .unreadable
        }
    }
}
