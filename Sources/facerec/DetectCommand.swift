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
            Without --keep-all only the selected (largest) face is listed. EXIF orientation is \
            ignored unless --apply-exif, as in the reference pipeline (PIL open + convert('RGB')).
            """)

    @Option(name: .customLong("weights-dir"), help: "Folder with pnet.pt, rnet.pt, onet.pt (default: $FACEREC_MTCNN_WEIGHTS or weights/).")
    var weightsDir: String?

    @Option(name: .customLong("min-face-size"), help: "Smallest face in pixels.")
    var minFaceSize: Double = 20

    @Flag(name: .customLong("keep-all"), help: "List every face, not only the selected one.")
    var keepAll = false

    @Flag(name: .customLong("apply-exif"), help: "Rotate images by their EXIF orientation first.")
    var applyEXIF = false

    @Option(name: .customLong("annotate"), help: "Write the image with boxes and landmarks drawn to this PNG (one image only).")
    var annotate: String?

    @Argument(help: "Image files (JPEG or PNG).")
    var images: [String]

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image") }
        if annotate != nil && images.count != 1 { throw ValidationError("--annotate takes exactly one image") }
    }

    func run() throws {
        let detector = try loadDetector(weightsDir: weightsDir,
                                        options: MTCNNOptions(minFaceSize: minFaceSize, keepAll: keepAll))
        var failures = 0
        for path in images {
            do {
                let image = try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: path),
                                                    options: DecodeOptions(applyEXIFOrientation: applyEXIF))
                let faces = try detector.detect(image)
                print(DetectionJSON.line(path: path, image: image, faces: faces))
                if let annotate {
                    let png = try ImageEncoder.png(FaceAnnotation.annotate(image, faces: faces))
                    try png.write(to: URL(fileURLWithPath: annotate))
                }
            } catch {
                failures += 1
                printError("facerec detect: \(withPath(path, error))")
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }
}

/// Builds the detector, turning a missing-weights error into the instructions for fetching them.
func loadDetector(weightsDir: String?, options: MTCNNOptions) throws -> MTCNN {
    let directory = weightsDir.map { URL(fileURLWithPath: $0) } ?? MTCNN.defaultWeightsDirectory
    do {
        return try MTCNN(weightsDirectory: directory, options: options)
    } catch {
        printError("facerec: \(error)")
        throw ExitCode(2)
    }
}

/// "PATH: error", unless the error's description already starts with the path.
func withPath(_ path: String, _ error: any Error) -> String {
    let text = "\(error)"
    return text.hasPrefix(path) ? text : "\(path): \(text)"
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// The JSON line format of `facerec detect` (hand-written for a stable key order).
enum DetectionJSON {
    static func line(path: String, image: RGBImage, faces: [DetectedFace]) -> String {
        let items = faces.map { face -> String in
            let box = face.box.array.map(number).joined(separator: ", ")
            let marks = face.landmarks.map { "[\(number($0.x)), \(number($0.y))]" }.joined(separator: ", ")
            return "{\"box\": [\(box)], \"prob\": \(number(face.probability)), \"landmarks\": [\(marks)]}"
        }
        return "{\"image\": \(string(path)), \"width\": \(image.width), \"height\": \(image.height), "
            + "\"faces\": [\(items.joined(separator: ", "))]}"
    }

    static func number(_ v: Float) -> String { v.isFinite ? "\(v)" : "null" }

    static func string(_ s: String) -> String { CLI.jsonString(s) }
}
