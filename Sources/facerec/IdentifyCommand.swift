import ArgumentParser
import FaceRecognition
import Foundation

/// `facerec identify`: who is in each photo, one line per image (`STEM:NAME`, the course format).
struct IdentifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identify",
        abstract: "Name the faces of each image against a gallery.",
        discussion: """
            Prints one line per image, in the order given (a folder's images sorted by path): \
            STEM:NAME (e.g. test_00:Paul) for the largest face, or with --keep-all STEM:NAME1,NAME2 \
            for every face, largest first. An image with no face prints STEM:NoFace; a face \
            farther than the threshold from every gallery entry is Unknown. The threshold is \
            --threshold, else the one stored in the gallery, else the vggface2 default \
            (Euclidean 1.1 on unit embeddings; cosine 0.605); --threshold none always takes the \
            nearest entry, as the course's reference pipeline does. With --json each line is one \
            face: {"image", "face", "box", "prob", "landmarks", "orientation", "name", "distance", \
            "match", "threshold", "metric", "candidates": [{"name", "index", "distance"} x --top-k], \
            "quality": {...} as in detect} (the library's RecognizedFace JSON; the distance is the \
            nearest entry's even when the threshold rejects it); an image without a face is one line \
            with "face": null and "name": "NoFace". --min-quality skips faces whose quality score is \
            below it (an image left without a face is NoFace, with "skipped": N in --json) and says \
            how many on stderr. Images are processed in parallel over the cores.
            """
    )

    @Option(help: "Gallery: the course data.pt or a gallery file written by `facerec enroll`/`gallery`.")
    var gallery: String

    @Option(help: "FaceNet weights: a facenet-pytorch .pt checkpoint or .safetensors.")
    var weights: String

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Distance beyond which a face is Unknown, or none (default: the gallery's, else the vggface2 default).",
                               valueName: "distance"))
    var threshold: ThresholdArgument?

    @Option(help: "euclidean (the course's torch.dist) or cosine.")
    var metric: MatchMetric = .euclidean

    @Flag(name: .customLong("keep-all"), help: "Name every face, not only the largest.")
    var keepAll = false

    @Option(name: .customLong("top-k"), parsing: .unconditional, help: "Candidates listed per face in --json output.")
    var topK: Int = 1

    @Flag(help: "Print one JSON object per face.")
    var json = false

    @Option(parsing: .unconditional, help: "Parallel workers (default: the number of cores).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @OptionGroup var detection: DetectionOptions
    @OptionGroup var precision: PrecisionOptions
    @OptionGroup var quality: QualityOptions
    @OptionGroup var common: CommonOptions

    @Argument(help: "Images (JPEG or PNG) or folders of them.")
    var images: [String]

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image or folder") }
        try threshold?.check()
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1, got \(jobs)") }
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1, got \(topK)") }
        if topK > 1 && !json { throw ValidationError("--top-k lists candidates in the JSON output: add --json") }
    }

    func run() throws {
        // Weights are checked before the detector's (exit 3 before 6); int8 needs the detector first.
        let float = precision.precision == .float32 ? try CLI.loadFaceNet(weights) : nil
        let gate = QualityGate(quality)
        // With --min-quality every face is recognised, and the largest one kept is taken here.
        let detector = try CLI.loadDetector(detection, mtcnn: detection.mtcnn(keepAll: keepAll || gate.isActive))
        let facenet = try float ?? CLI.loadFaceNet(weights, precision: try precision.facenetPrecision { image in
            try detector.extractFaces(image).first?.image
        })
        let loaded = try CLI.loadGallery(gallery)
        let limit = threshold.map { DistanceThreshold($0.value, metric: metric) }
            ?? loaded.threshold?.converted(to: metric) ?? FaceVerification.defaultThreshold(for: metric)
        let recognizer = FaceRecognizer(detector: detector, facenet: facenet, gallery: loaded,
                                        options: .init(threshold: limit.value, metric: metric, topK: topK))
        let inputs = ImageInputs(images)
        let inputFailures = inputs.reportFailures()
        let files = inputs.files
        // One BLAS thread per parallel batch: the batches already use every core.
        BLASThreads.configure(parallelCallers: jobs)
        let lines = LineSlots(count: files.count)
        let progress = ProgressBar(total: files.count)
        // Workers take batches of images in turn; lines are printed in input order at the end
        // of each contiguous prefix, so output order never depends on timing.
        let batch = 8
        let batches = stride(from: 0, to: files.count, by: batch).map { $0..<min($0 + batch, files.count) }
        let next = Counter()
        let applyEXIF = detection.applyEXIF
        DispatchQueue.concurrentPerform(iterations: min(jobs, max(batches.count, 1))) { _ in
            while let b = next.take(below: batches.count) {
                let range = batches[b]
                var decoded: [(Int, RGBImage)] = []
                for i in range {
                    do {
                        decoded.append((i, try CLI.readImage(files[i], applyEXIF: applyEXIF)))
                    } catch {
                        lines.set(i, nil, error: "\(error)")
                    }
                }
                func answer(_ i: Int, _ image: RGBImage, _ faces: [RecognizedFace]) {
                    var kept = gate.filter(faces, in: image) { $0.face }
                    if !keepAll { kept = Array(kept.prefix(1)) }
                    lines.set(i, format(path: files[i], faces: kept, skipped: kept.isEmpty ? faces.count : 0,
                                        threshold: limit), error: nil)
                }
                do {
                    let results = try recognizer.recognize(batch: decoded.map(\.1))
                    for ((i, image), faces) in zip(decoded, results) { answer(i, image, faces) }
                } catch {
                    // As the service's MicroBatcher does: a failed batch is retried image by
                    // image, so one bad image fails alone, not its neighbours.
                    for (i, image) in decoded {
                        do {
                            answer(i, image, try recognizer.recognize(image))
                        } catch {
                            lines.set(i, nil, error: "\(files[i]): \(error)")
                        }
                    }
                }
                progress.advance(by: range.count)
                lines.flushReady()
            }
        }
        lines.flushReady()
        progress.finish()
        gate.report()
        try CLI.finish(processed: files.count - lines.failures, failed: inputFailures + lines.failures)
    }

    /// The output lines of one image; `skipped`: faces --min-quality left out of an image left
    /// without any.
    private func format(path: String, faces assessed: [(item: RecognizedFace, quality: FaceQuality)], skipped: Int,
                        threshold: DistanceThreshold) -> [String] {
        let stem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let faces = assessed.map(\.item)
        guard json else {
            let names = keepAll && !faces.isEmpty
                ? faces.map { $0.match?.name ?? FaceRecognizer.unknownLabel }.joined(separator: ",")
                : FaceRecognizer.label(for: faces)
            return ["\(stem):\(names)"]
        }
        guard !faces.isEmpty else { return [CLI.jsonLine(NoFaceLine(image: path, skipped: skipped))] }
        return assessed.enumerated().map { i, item in
            CLI.jsonLine(FaceLine(image: path, face: i, recognized: item.item, quality: item.quality,
                                  threshold: threshold), omitsEmbeddings: true)
        }
    }
}

/// One face of `identify --json`: the image and face number, the library's `RecognizedFace`
/// JSON form (without the embedding), and the threshold it was judged by.
private struct FaceLine: Encodable {
    let image: String
    let face: Int
    let recognized: RecognizedFace
    let quality: FaceQuality
    let threshold: DistanceThreshold

    enum CodingKeys: String, CodingKey { case image, face, quality, threshold, metric }

    func encode(to encoder: any Encoder) throws {
        try recognized.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(image, forKey: .image)
        try container.encode(face, forKey: .face)
        try container.encode(quality, forKey: .quality)
        try container.encode(threshold.value.isFinite ? threshold.value : nil, forKey: .threshold)
        try container.encode(threshold.metric, forKey: .metric)
    }
}

/// The line of an image without a face: `{"face": null, "image": …, "name": "NoFace"}`, with
/// `"skipped": N` when --min-quality left out the N faces it had.
private struct NoFaceLine: Encodable {
    let image: String
    let skipped: Int

    enum CodingKeys: String, CodingKey { case image, face, name, skipped }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(image, forKey: .image)
        try container.encodeNil(forKey: .face)
        try container.encode(FaceRecognizer.noFaceLabel, forKey: .name)
        if skipped > 0 { try container.encode(skipped, forKey: .skipped) }
    }
}

/// Output lines filled in by parallel workers and printed strictly in input order.
final class LineSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [[String]?]
    private var printed = 0
    private(set) var failures = 0

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    /// `lines` nil with an error: the image failed (reported on stderr, no stdout line).
    func set(_ index: Int, _ lines: [String]?, error: String?) {
        lock.withLock {
            slots[index] = lines ?? []
            if let error {
                failures += 1
                CLI.warn(error)
            }
        }
    }

    func flushReady() {
        lock.withLock {
            while printed < slots.count, let slot = slots[printed] {
                for line in slot { CLI.printLine(line) }
                printed += 1
            }
        }
    }
}

/// A shared work index.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func take(below limit: Int) -> Int? {
        lock.withLock {
            guard value < limit else { return nil }
            defer { value += 1 }
            return value
        }
    }
}
