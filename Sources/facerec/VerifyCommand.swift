import ArgumentParser
import FaceRecognition
import Foundation

/// `facerec verify A B`: are the largest faces of two images the same person?
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Tell whether the largest faces of two images are the same person.",
        discussion: """
            Embeds the largest face of each image and compares their distance with the threshold \
            (--threshold, else the vggface2 default: Euclidean 1.1 on unit embeddings, cosine \
            0.605), like DeepFace.verify or face_recognition.compare_faces. Prints \
            "same person" or "different people" with the distance, threshold and metric; with \
            --json {"image1", "image2", "verified", "distance", "threshold", "metric"}. Either \
            answer exits 0; an image that cannot be read or has no face exits 1.
            """)

    @Option(help: "FaceNet weights: a facenet-pytorch .pt checkpoint or .safetensors.")
    var weights: String

    @Option(parsing: .unconditional, help: ArgumentHelp("Largest distance that is still the same person.", valueName: "distance"))
    var threshold: ThresholdArgument?

    @Option(help: "euclidean or cosine.")
    var metric: MatchMetric = .euclidean

    @Flag(help: "Print the result as one JSON object.")
    var json = false

    @OptionGroup var detection: DetectionOptions
    @OptionGroup var common: CommonOptions

    @Argument(help: "First image.") var first: String
    @Argument(help: "Second image.") var second: String

    func validate() throws {
        try threshold?.check()
    }

    func run() throws {
        let facenet = try CLI.loadFaceNet(weights)
        let detector = try CLI.loadDetector(detection, mtcnn: detection.mtcnn())
        let size = detector.options.imageSize
        var embeddings: [Embedding] = []
        for path in [first, second] {
            let image: RGBImage
            do { image = try CLI.readImage(path, applyEXIF: detection.applyEXIF) } catch { throw CLI.fail("\(error)") }
            guard let crop = try detector.extractFaces(image).first else { throw CLI.fail("\(path): no face found") }
            embeddings.append(try facenet.embed(standardized: crop.tensor, count: 1, height: size, width: size)[0])
        }
        let limit = threshold.map { DistanceThreshold($0.value, metric: metric) } ?? FaceVerification.defaultThreshold(for: metric)
        let result = FaceVerification.verify(embeddings[0], embeddings[1], threshold: limit)
        if json {
            CLI.printLine(CLI.jsonLine(VerificationLine(image1: first, image2: second, result: result)))
        } else {
            let verdict = result.isMatch ? "same person" : "different people"
            let relation = result.isMatch ? "<=" : ">"
            CLI.printLine("\(verdict): \(result.metric.rawValue) distance \(result.distance) \(relation) threshold \(result.threshold)")
        }
    }
}

/// `verify --json`: the two paths and the library's `Verification` JSON form.
private struct VerificationLine: Encodable {
    let image1: String
    let image2: String
    let result: Verification

    enum CodingKeys: String, CodingKey { case image1, image2 }

    func encode(to encoder: any Encoder) throws {
        try result.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(image1, forKey: .image1)
        try container.encode(image2, forKey: .image2)
    }
}
