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
        func run() throws {
            let g = try CLI.loadGallery(gallery)
            var counts: [String: Int] = [:]
            for name in g.names { counts[name, default: 0] += 1 }
            for name in g.identities { CLI.printLine("\(name)\t\(counts[name]!)") }
            CLI.warn("\(g.identities.count) identities, \(g.count) embeddings of \(g.dimension) values")
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Convert the course data.pt (or any gallery) to a gallery file.",
            discussion: "The input is never modified. The output must be a new file or an existing facerec gallery, and not a .pt name: facerec writes safetensors galleries only.")
        @Argument(help: "data.pt ([embeddings, names]) or a gallery file.") var input: String
        @Argument(help: "Gallery file to write (.safetensors; not the input).") var output: String
        func run() throws {
            if CLI.sameFile(output, input) {
                throw CLI.refusal("\(output) is the input file; import never overwrites its input: choose a new .safetensors file")
            }
            let (g, format) = try CLI.loadGalleryDetectingFormat(input)
            try CLI.checkGalleryOutput(output, option: nil, torchInput: format == .torch ? input : nil)
            try CLI.saveGallery(g, to: output)
            CLI.warn("wrote \(output): \(g.identities.count) identities, \(g.count) embeddings")
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add the face of each image under one name (creates the gallery if needed).",
            discussion: "Edits a facerec safetensors gallery in place (atomically), or writes the result to --out. A torch data.pt is never rewritten: pass --out to start a safetensors gallery from it.")
        @Argument(help: "Gallery file (.safetensors), or data.pt with --out.") var gallery: String
        @Option(help: ArgumentHelp("Write the edited gallery to this new .safetensors file instead of changing GALLERY in place (required when GALLERY is a torch data.pt, which is never rewritten).", valueName: "path")) var out: String?
        @Option(help: "Identity name.") var name: String
        @Option(help: "FaceNet weights (.pt or .safetensors).") var weights: String
        @Option(help: "Directory holding MTCNN's pnet.pt, rnet.pt, onet.pt.") var mtcnnWeights: String = MTCNN.defaultWeightsDirectory.path
        @Argument(help: "Images with exactly one face.") var images: [String]
        func run() throws {
            // Check where the result may go before the (slow) weights are loaded.
            let loaded = FileManager.default.fileExists(atPath: gallery) ? try CLI.loadGalleryDetectingFormat(gallery) : nil
            let destination = try CLI.galleryDestination(editing: gallery, format: loaded?.format, out: out)
            var g = loaded?.gallery ?? Gallery()
            let enroller = try Enroller(weights: weights, mtcnnDirectory: mtcnnWeights)
            var failures = 0
            for path in images {
                if let embedding = enroller.embedding(of: path) { try g.add(name: name, embedding: embedding) } else { failures += 1 }
            }
            try CLI.saveGallery(g, to: destination)
            CLI.warn("added \(images.count - failures) embedding(s) for \(name)\(destination == gallery ? "" : " in \(destination)")")
            if failures > 0 { throw ExitCode(CLI.ExitStatus.someInputsFailed) }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove every embedding of an identity.",
            discussion: "Edits a facerec safetensors gallery in place (atomically), or writes the result to --out. A torch data.pt is never rewritten: pass --out to write the edited gallery to a new safetensors file.")
        @Argument(help: "Gallery file (.safetensors), or data.pt with --out.") var gallery: String
        @Argument(help: "Identity name.") var name: String
        @Option(help: ArgumentHelp("Write the edited gallery to this new .safetensors file instead of changing GALLERY in place (required when GALLERY is a torch data.pt, which is never rewritten).", valueName: "path")) var out: String?
        func run() throws {
            let (loaded, format) = try CLI.loadGalleryDetectingFormat(gallery)
            let destination = try CLI.galleryDestination(editing: gallery, format: format, out: out)
            var g = loaded
            let removed = g.remove(name: name)
            guard removed > 0 else {
                CLI.warn("no identity named '\(name)' in \(gallery)")
                throw ExitCode.failure
            }
            try CLI.saveGallery(g, to: destination)
            CLI.warn("removed \(removed) embedding(s) of \(name)\(destination == gallery ? "" : "; wrote \(destination)")")
        }
    }
}

/// `facerec enroll`: build a gallery from a folder tree people/NAME/*.jpg.
struct EnrollCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll",
        abstract: "Build a gallery from a folder tree: people/NAME/*.jpg, one face per image.",
        discussion: "An image with no face or several faces is skipped with a warning that names it."
    )
    @Option(help: "FaceNet weights (.pt or .safetensors).") var weights: String
    @Option(help: "Gallery file to write (.safetensors).") var out: String
    @Option(help: "Directory holding MTCNN's pnet.pt, rnet.pt, onet.pt.") var mtcnnWeights: String = MTCNN.defaultWeightsDirectory.path
    @Argument(help: "Folder with one sub-folder per person.") var people: String

    func run() throws {
        try CLI.checkGalleryOutput(out, option: "--out", torchInput: nil)
        let root = URL(fileURLWithPath: people)
        let fm = FileManager.default
        let names = try fm.contentsOfDirectory(atPath: root.path).filter {
            var isDir: ObjCBool = false
            return fm.fileExists(atPath: root.appendingPathComponent($0).path, isDirectory: &isDir) && isDir.boolValue
        }.sorted()
        let work: [(String, String)] = try names.flatMap { name in
            try fm.contentsOfDirectory(atPath: root.appendingPathComponent(name).path).sorted()
                .filter { ["jpg", "jpeg", "png"].contains(($0 as NSString).pathExtension.lowercased()) }
                .map { (name, root.appendingPathComponent(name).appendingPathComponent($0).path) }
        }
        let enroller = try Enroller(weights: weights, mtcnnDirectory: mtcnnWeights)
        var gallery = Gallery()
        let progress = ProgressBar(total: work.count)
        var skipped = 0
        for (name, path) in work {
            if let embedding = enroller.embedding(of: path) { try gallery.add(name: name, embedding: embedding) } else { skipped += 1 }
            progress.advance(by: 1)
        }
        progress.finish()
        try CLI.saveGallery(gallery, to: out)
        CLI.warn("wrote \(out): \(gallery.identities.count) identities, \(gallery.count) embeddings, \(skipped) image(s) skipped")
    }
}

/// Detects the single face of an enrolment image and embeds it.
struct Enroller {
    let detector: MTCNN
    let facenet: FaceNet

    init(weights: String, mtcnnDirectory: String) throws {
        facenet = try CLI.loadFaceNet(weights)
        var options = MTCNNOptions()
        options.keepAll = true
        do {
            detector = try MTCNN(weightsDirectory: URL(fileURLWithPath: mtcnnDirectory), options: options)
        } catch {
            CLI.warn("\(error)")
            throw ExitCode(CLI.ExitStatus.badDetectorWeights)
        }
    }

    /// The embedding of the one face in `path`, or nil (with a warning naming the image).
    func embedding(of path: String) -> Embedding? {
        do {
            let image = try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: path))
            let crops = try detector.extractFaces(image)
            guard crops.count == 1 else {
                CLI.warn("skipping \(path): \(crops.isEmpty ? "no face" : "\(crops.count) faces") (enrolment needs exactly one)")
                return nil
            }
            let size = detector.options.imageSize
            return try facenet.embed(standardized: crops[0].tensor, count: 1, height: size, width: size)[0]
        } catch {
            CLI.warn("skipping \(path): \(error)")
            return nil
        }
    }
}
