import ArgumentParser
import FaceRecognition
import Foundation

/// `facerec embed`: FaceNet embeddings of every face (or of face crops) as JSON lines.
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Print the FaceNet embedding of every face as one JSON object per line.",
        discussion: """
            By default faces are detected (MTCNN, every face, largest first) and each --size × \
            --size crop (default 240, as identify and enroll use) is embedded: {"box": [x1, y1, x2, y2], \
            "embedding": [512 numbers], "face": I, "image": PATH, "landmarks": [[x, y] × 5], "orientation": 0, \
            "prob": P} (the face in the library's JSON form, as detect prints it). An image \
            without a face prints nothing (a note on stderr). --min-quality skips detected faces \
            whose quality score is below it and says how many on stderr. With --no-detect each image is taken \
            as a face crop: resized to --size × --size (default 160, PIL bilinear) when it has \
            another size, standardised as facenet-pytorch's fixed_image_standardization \
            ((x − 127.5) / 128) and embedded: {"embedding": [512 numbers], "image": PATH}.
            """
    )

    @Option(help: "FaceNet weights: a facenet-pytorch .pt checkpoint (zip or legacy) or .safetensors.")
    var weights: String

    @Option(parsing: .unconditional, help: "Side of the square input the network sees (80 or more; default 240 with detection, 160 with --no-detect).")
    var size: Int?

    @Flag(help: "Take each image as an already-cropped face instead of detecting faces.")
    var noDetect = false

    @Option(parsing: .unconditional, help: "Faces per forward pass.")
    var batchSize: Int = 8

    @OptionGroup var detection: DetectionOptions
    @OptionGroup var precision: PrecisionOptions
    @OptionGroup var quality: QualityOptions
    @OptionGroup var common: CommonOptions

    @Argument(help: "Images (JPEG or PNG) or folders of them.")
    var images: [String]

    var inputSize: Int { size ?? (noDetect ? 160 : 240) }

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image or folder") }
        guard inputSize >= FaceNet.minimumInputSize, inputSize <= 4096 else {
            throw ValidationError("--size must lie in \(FaceNet.minimumInputSize)...4096, got \(inputSize)")
        }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if noDetect && quality.minQuality != nil {
            throw ValidationError("--min-quality judges detected faces: it cannot be used with --no-detect")
        }
    }

    func run() throws {
        // Weights are checked before the detector's (exit 3 before 6); int8 needs the detector first.
        let float = precision.precision == .float32 ? try CLI.loadFaceNet(weights) : nil
        let detector = noDetect ? nil : try CLI.loadDetector(detection, mtcnn: detection.mtcnn(keepAll: true, imageSize: inputSize))
        let facenet = try float ?? CLI.loadFaceNet(weights, precision: try precision.facenetPrecision { image in
            if let detector { return try detector.extractFaces(image).first?.image }
            return image.width == inputSize && image.height == inputSize
                ? image : image.resizedBilinear(width: inputSize, height: inputSize)
        })
        let gate = QualityGate(quality)
        let inputs = ImageInputs(images)
        var failed = inputs.reportFailures(), processed = 0
        // Faces waiting for a forward pass: where each came from, and its crop.
        var pending: [(source: EmbeddingLine.Source, crop: RGBImage)] = []
        let progress = ProgressBar(total: inputs.files.count)
        defer { progress.finish() }

        func flush() throws {
            guard !pending.isEmpty else { return }
            let embeddings = try facenet.embed(pending.map(\.crop))
            for (item, embedding) in zip(pending, embeddings) {
                CLI.printLine(CLI.jsonLine(EmbeddingLine(source: item.source, embedding: embedding)))
            }
            pending.removeAll(keepingCapacity: true)
        }

        for path in inputs.files {
            defer { progress.advance(by: 1) }
            let image: RGBImage
            do { image = try CLI.readImage(path, applyEXIF: detection.applyEXIF) } catch {
                failed += 1
                CLI.warn("\(error)")
                continue
            }
            processed += 1
            if let detector {
                let found = try detector.extractFaces(image)
                let crops = gate.filter(found, in: image) { $0.face }.map(\.item)
                if found.isEmpty { CLI.note("\(path): no face found") }
                for (i, crop) in crops.enumerated() {
                    pending.append((.detected(image: path, index: i, face: crop.face), crop.image))
                    if pending.count >= batchSize { try flush() }
                }
            } else {
                let crop = image.width == inputSize && image.height == inputSize
                    ? image : image.resizedBilinear(width: inputSize, height: inputSize)
                pending.append((.crop(image: path), crop))
                if pending.count >= batchSize { try flush() }
            }
        }
        try flush()
        progress.finish()
        gate.report()
        try CLI.finish(processed: processed, failed: failed)
    }
}

/// One line of `facerec embed`: the image, the face in the library's `DetectedFace` JSON form
/// with its number (none for --no-detect crops), and the embedding.
struct EmbeddingLine: Encodable {
    enum Source {
        case detected(image: String, index: Int, face: DetectedFace)
        case crop(image: String)
    }

    let source: Source
    let embedding: [Float]

    enum CodingKeys: String, CodingKey { case image, face, embedding }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch source {
        case .detected(let image, let index, let face):
            try face.encode(to: encoder)
            try container.encode(image, forKey: .image)
            try container.encode(index, forKey: .face)
        case .crop(let image):
            try container.encode(image, forKey: .image)
        }
        try container.encode(embedding, forKey: .embedding)
    }
}
