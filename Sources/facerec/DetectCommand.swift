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
            "prob": p, "landmarks": [[x, y] x5]}]}, faces in facenet-pytorch's order (largest first). \
            Without --keep-all only the selected (largest) face is listed. Folders are searched \
            recursively for JPEG and PNG files. EXIF orientation is ignored unless --apply-exif, \
            as in the reference pipeline (PIL open + convert('RGB')).
            """)

    @OptionGroup var detection: DetectionOptions
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
        let detector = try CLI.loadDetector(detection, mtcnn: detection.mtcnn(keepAll: keepAll))
        let inputs = ImageInputs(images)
        var failed = inputs.reportFailures(), processed = 0
        let progress = ProgressBar(total: inputs.files.count)
        defer { progress.finish() }
        for path in inputs.files {
            defer { progress.advance(by: 1) }
            do {
                let image = try CLI.readImage(path, applyEXIF: detection.applyEXIF)
                let faces = try detector.detect(image)
                CLI.printLine(DetectionJSON.line(path: path, image: image, faces: faces))
                processed += 1
                if let annotate {
                    try CLI.writeFile(try ImageEncoder.png(FaceAnnotation.annotate(image, faces: faces)), to: annotate)
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
        try CLI.finish(processed: processed, failed: failed)
    }
}

/// The JSON line format of `facerec detect`: the image, its size and its faces in the
/// library's `DetectedFace` JSON form.
enum DetectionJSON {
    struct Line: Encodable {
        let image: String
        let width: Int
        let height: Int
        let faces: [DetectedFace]
    }

    static func line(path: String, image: RGBImage, faces: [DetectedFace]) -> String {
        CLI.jsonLine(Line(image: path, width: image.width, height: image.height, faces: faces))
    }
}
