import ArgumentParser
import FaceRecognition
import Foundation

/// `facerec embed`: FaceNet embeddings of face crops as JSON lines.
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Print the FaceNet embedding of each image as one JSON object per line.",
        discussion: """
            With --no-detect each image is taken as a face crop: resized to --size × --size (PIL \
            bilinear) when it has another size, standardised as facenet-pytorch's \
            fixed_image_standardization ((x − 127.5) / 128) and embedded. Output lines are \
            {"image": "PATH", "embedding": [512 numbers]}. An image that cannot be read is reported \
            on stderr, the others are still embedded, and the exit code is 4.
            """
    )

    @Option(help: "FaceNet weights: a facenet-pytorch .pt checkpoint (zip or legacy) or .safetensors.")
    var weights: String

    @Option(help: "Side of the square input the network sees (80 or more; 160 is FaceNet's native size).")
    var size: Int = 160

    @Flag(help: "Take each image as an already-cropped face instead of detecting faces.")
    var noDetect = false

    @Option(help: "Faces per forward pass.")
    var batchSize: Int = 8

    @Argument(help: "Image files (JPEG or PNG).")
    var images: [String]

    func validate() throws {
        guard size >= FaceNet.minimumInputSize else {
            throw ValidationError("--size must be at least \(FaceNet.minimumInputSize)")
        }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard noDetect else {
            throw ValidationError("embedding without --no-detect needs face detection: run `facerec detect` or pass --no-detect for crops")
        }
    }

    func run() throws {
        let facenet = try CLI.loadFaceNet(weights)
        var failures = 0
        var pending: [(path: String, crop: RGBImage)] = []

        func flush() throws {
            guard !pending.isEmpty else { return }
            let embeddings = try facenet.embed(pending.map(\.crop))
            for (item, embedding) in zip(pending, embeddings) {
                CLI.printLine("{\"image\": \(CLI.jsonString(item.path)), \"embedding\": \(CLI.jsonArray(embedding))}")
            }
            pending.removeAll(keepingCapacity: true)
        }

        for path in images {
            do {
                var image = try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: path))
                if image.width != size || image.height != size {
                    image = image.resizedBilinear(width: size, height: size)
                }
                pending.append((path, image))
            } catch {
                failures += 1
                CLI.warn("\(path): \(error)")
            }
            if pending.count == batchSize { try flush() }
        }
        try flush()
        if failures > 0 { throw ExitCode(CLI.ExitStatus.someInputsFailed) }
    }
}
