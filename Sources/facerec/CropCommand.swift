import ArgumentParser
import FaceRecognition
import Foundation

/// `facerec crop`: facenet-pytorch's extract_face crop of the selected face (or every face), as PNG.
struct CropCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crop",
        abstract: "Write the size x size face crop (extract_face) of each image as PNG.",
        discussion: """
            crop IMAGE OUT.png writes the largest face of one image. crop --out-dir DIR \
            IMAGE-OR-FOLDER... writes DIR/STEM.png for each image (with --keep-all: \
            DIR/STEM_0.png, DIR/STEM_1.png, … one per face, largest first); images found in a \
            folder keep their sub-folder under DIR. An image without a face is reported and \
            skipped. --min-quality skips faces whose quality score is below it (the largest \
            remaining face is the one written) and says how many on stderr. Output names must end \
            in .png (there is no JPEG encoder).
            """)

    @OptionGroup var detection: DetectionOptions
    @OptionGroup var quality: QualityOptions
    @OptionGroup var common: CommonOptions

    @Option(parsing: .unconditional, help: "Side of the square crop in pixels.")
    var size: Int = 240

    @Option(parsing: .unconditional, help: "Margin around the box, in pixels of the crop.")
    var margin: Int = 0

    @Flag(name: .customLong("keep-all"), help: "Write every face, not only the largest (needs --out-dir).")
    var keepAll = false

    @Option(name: .customLong("out-dir"), help: ArgumentHelp("Folder for the crops (created if missing).", valueName: "dir"))
    var outDir: String?

    @Argument(help: "IMAGE OUT.png, or with --out-dir: images and folders.")
    var paths: [String]

    func validate() throws {
        if size <= 0 || size > 4096 { throw ValidationError("--size must lie in 1...4096, got \(size)") }
        if margin < 0 || margin >= size { throw ValidationError("--margin must lie in 0..<--size (\(size)), got \(margin)") }
        if outDir == nil {
            if keepAll { throw ValidationError("--keep-all writes one file per face: give --out-dir DIR") }
            guard paths.count == 2 else {
                throw ValidationError("give IMAGE OUT.png, or --out-dir DIR with images and folders")
            }
            try CLI.checkImageOutput(paths[1], flag: "output")
        } else if paths.isEmpty {
            throw ValidationError("give at least one image or folder")
        }
    }

    func run() throws {
        let gate = QualityGate(quality)
        let detector = try CLI.loadDetector(detection, mtcnn: detection.mtcnn(keepAll: keepAll || gate.isActive, imageSize: size, margin: margin))
        /// The crops to write: every face kept, or the largest one.
        func facesToWrite(_ image: RGBImage) throws -> [FaceCrop] {
            let kept = gate.filter(try detector.extractFaces(image), in: image) { $0.face }.map(\.item)
            return keepAll ? kept : Array(kept.prefix(1))
        }
        guard let outDir else {
            let image: RGBImage
            do { image = try CLI.readImage(paths[0], applyEXIF: detection.applyEXIF) } catch { throw CLI.fail("\(error)") }
            guard let crop = try facesToWrite(image).first else {
                gate.report()
                throw CLI.fail("\(paths[0]): no face found")
            }
            try CLI.writeFile(try ImageEncoder.png(crop.image), to: paths[1])
            return
        }
        let jobs = try outputs(under: outDir)
        try CLI.makeDirectory(outDir)
        var failed = jobs.failed, processed = 0, written = 0
        let progress = ProgressBar(total: jobs.items.count)
        defer { progress.finish() }
        for (path, stem) in jobs.items {
            defer { progress.advance(by: 1) }
            let image: RGBImage
            do { image = try CLI.readImage(path, applyEXIF: detection.applyEXIF) } catch {
                failed += 1
                CLI.warn("\(error)")
                continue
            }
            let crops = try facesToWrite(image)
            processed += 1
            if crops.isEmpty { CLI.note("\(path): no face found") }
            let folder = (stem as NSString).deletingLastPathComponent
            if !folder.isEmpty && !crops.isEmpty { try CLI.makeDirectory(folder) }
            for (i, crop) in crops.enumerated() {
                try CLI.writeFile(try ImageEncoder.png(crop.image), to: keepAll ? "\(stem)_\(i).png" : "\(stem).png")
                written += 1
            }
        }
        progress.finish()
        gate.report()
        CLI.note("wrote \(written) crop(s) to \(outDir)")
        if processed > 0 && written == 0 { throw CLI.fail("no face found in any image") }
        try CLI.finish(processed: processed, failed: failed)
    }

    /// Each image and its output path without extension; refuses two images with one output name.
    private func outputs(under outDir: String) throws -> (items: [(String, String)], failed: Int) {
        var items: [(String, String)] = []
        var failed = 0
        var taken: [String: String] = [:]
        for argument in paths {
            let inputs = ImageInputs([argument])
            failed += inputs.reportFailures()
            let isFolder = inputs.files.first.map { $0 != argument } ?? false
            for file in inputs.files {
                let relative = isFolder ? String(String(file.dropFirst(argument.count)).trimmingPrefix("/")) : (file as NSString).lastPathComponent
                let stem = (outDir as NSString).appendingPathComponent((String(relative) as NSString).deletingPathExtension)
                if let other = taken[stem] {
                    throw CLI.fail("\(other) and \(file) would both be written as \(stem).png: crop them into different --out-dir folders",
                                   status: CLI.ExitStatus.usage)
                }
                taken[stem] = file
                items.append((file, stem))
            }
        }
        return (items, failed)
    }
}
