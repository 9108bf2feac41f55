import ArgumentParser
import FaceRecognition
import Foundation

/// `facerec detect`: MTCNN face detection, one JSON object per image on standard output.
struct DetectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Detect faces (facenet-pytorch MTCNN) and print one JSON line per image.",
        discussion: """
            Each line: {"image": PATH, "width": W, "height": H, "faces": [{"box": [x1, y1, x2, y2], \
            "prob": p, "landmarks": [[x, y] x5], "quality": {"score", "sharpness", "brightness", \
            "size", "yaw", "roll", "frontal"}}]}, faces in facenet-pytorch's order (largest \
            first). Without --keep-all only the selected (largest) face is listed. --min-quality \
            leaves out faces whose quality score is below it (the largest remaining face is the \
            selected one) and says how many on stderr. Folders are searched \
            recursively for JPEG and PNG files. EXIF orientation is ignored unless --apply-exif, \
            as in the reference pipeline (PIL open + convert('RGB')).
            """)

    @OptionGroup var detection: DetectionOptions
    @OptionGroup var quality: QualityOptions
    @OptionGroup var common: CommonOptions

    @Flag(name: .customLong("keep-all"), help: "List every face, not only the selected one.")
    var keepAll = false

    @Option(name: .customLong("annotate"), help: ArgumentHelp("Write the image with boxes and landmarks drawn to this .png (one image only).", valueName: "png"))
    var annotate: String?

    @Argument(help: "Images (JPEG or PNG) or folders of them.")
    var images: [String]

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image or folder") }
        if let annotate {
            var isDirectory: ObjCBool = false
            if images.count != 1 || (FileManager.default.fileExists(atPath: images[0], isDirectory: &isDirectory) && isDirectory.boolValue) {
                throw ValidationError("--annotate takes exactly one image")
            }
            try CLI.checkImageOutput(annotate, flag: "--annotate")
        }
    }

    func run() throws {
        let gate = QualityGate(quality)
        let detector = try CLI.loadDetector(detection, mtcnn: detection.mtcnn(keepAll: keepAll || gate.isActive))
        let inputs = ImageInputs(images)
        var failed = inputs.reportFailures(), processed = 0
        let progress = ProgressBar(total: inputs.files.count)
        defer { progress.finish() }
        for path in inputs.files {
            defer { progress.advance(by: 1) }
            do {
                let image = try CLI.readImage(path, applyEXIF: detection.applyEXIF)
                var faces = gate.filter(try detector.detect(image), in: image) { $0 }
                if !keepAll { faces = Array(faces.prefix(1)) }
                CLI.printLine(DetectionJSON.line(path: path, image: image, faces: faces))
                processed += 1
                if let annotate {
                    try CLI.writeFile(try ImageEncoder.png(FaceAnnotation.annotate(image, faces: faces.map(\.item))), to: annotate)
                }
            } catch let failure as InputFailure {
                failed += 1
                CLI.warn("\(failure)")
            } catch let exit as ExitCode {
                throw exit
            } catch {
                failed += 1
                CLI.warn("\(path): \(error)")
            }
        }
        progress.finish()
        gate.report()
        try CLI.finish(processed: processed, failed: failed)
    }
}

/// The JSON line format of `facerec detect` (hand-written for a stable key order).
enum DetectionJSON {
    static func line(path: String, image: RGBImage, faces: [(item: DetectedFace, quality: FaceQuality)]) -> String {
        let items = faces.map { face, quality -> String in
            let box = face.box.array.map(number).joined(separator: ", ")
            let marks = face.landmarks.map { "[\(number($0.x)), \(number($0.y))]" }.joined(separator: ", ")
            return "{\"box\": [\(box)], \"prob\": \(number(face.probability)), \"landmarks\": [\(marks)], "
                + "\"quality\": \(QualityJSON.object(quality))}"
        }
        return "{\"image\": \(string(path)), \"width\": \(image.width), \"height\": \(image.height), "
            + "\"faces\": [\(items.joined(separator: ", "))]}"
    }

    static func number(_ v: Float) -> String { CLI.jsonNumber(v) }

    static func string(_ s: String) -> String { CLI.jsonString(s) }
}
