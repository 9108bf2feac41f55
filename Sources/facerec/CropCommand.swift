import ArgumentParser
import FaceRecognition
import Foundation

/// `facerec crop`: facenet-pytorch's extract_face crop of the selected face, as a PNG.
struct CropCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crop",
        abstract: "Detect the largest face and write its size x size crop (extract_face) as PNG.")

    @Option(name: .customLong("weights-dir"), help: "Folder with pnet.pt, rnet.pt, onet.pt (default: $FACEREC_MTCNN_WEIGHTS or weights/).")
    var weightsDir: String?

    @Option(help: "Side of the square crop in pixels.")
    var size: Int = 240

    @Option(help: "Margin around the box, in pixels of the crop.")
    var margin: Int = 0

    @Option(name: .customLong("min-face-size"), help: "Smallest face in pixels.")
    var minFaceSize: Double = 20

    @Flag(name: .customLong("apply-exif"), help: "Rotate the image by its EXIF orientation first.")
    var applyEXIF = false

    @Argument(help: "Input image (JPEG or PNG).")
    var image: String

    @Argument(help: "Output PNG.")
    var output: String

    func validate() throws {
        if size <= 0 || size > 4096 { throw ValidationError("--size must lie in 1...4096") }
        if margin < 0 || margin >= size { throw ValidationError("--margin must lie in 0..<size") }
    }

    func run() throws {
        let detector = try loadDetector(weightsDir: weightsDir, options: MTCNNOptions(
            minFaceSize: minFaceSize, imageSize: size, margin: margin))
        do {
            let decoded = try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: image),
                                                  options: DecodeOptions(applyEXIFOrientation: applyEXIF))
            guard let crop = try detector.extractFaces(decoded).first else {
                printError("facerec crop: \(image): no face found")
                throw ExitCode(1)
            }
            try ImageEncoder.png(crop.image).write(to: URL(fileURLWithPath: output))
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError("facerec crop: \(withPath(image, error))")
            throw ExitCode(1)
        }
    }
}
