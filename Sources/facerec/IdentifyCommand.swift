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
            face: {"image", "face", "box", "prob", "name", "distance", "threshold", "metric", \
            "candidates": [{"name", "distance"} x --top-k], "quality": {...} as in detect} (the \
            distance is the nearest entry's even when the threshold rejects it); an image without \
            a face is one line with "face": null and "name": "NoFace". --min-quality skips faces \
            whose quality score is below it (an image left without a face is NoFace, with \
            "skipped": N in --json) and says how many on stderr. Images are processed in parallel over the cores.
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
        let facenet = try CLI.loadFaceNet(weights)
        let gate = QualityGate(quality)
        // With --min-quality every face is recognised, and the largest one kept is taken here.
        let detector = try CLI.loadDetector(detection, mtcnn: detection.mtcnn(keepAll: keepAll || gate.isActive))
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
                do {
                    let results = try recognizer.recognize(batch: decoded.map(\.1))
                    for ((i, image), faces) in zip(decoded, results) {
                        var kept = gate.filter(faces, in: image) { $0.face }
                        if !keepAll { kept = Array(kept.prefix(1)) }
                        lines.set(i, format(path: files[i], faces: kept, skipped: kept.isEmpty ? faces.count : 0,
                                            threshold: limit), error: nil)
                    }
                } catch {
                    for (i, _) in decoded { lines.set(i, nil, error: "\(files[i]): \(error)") }
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
        let image = CLI.jsonString(path)
        guard !faces.isEmpty else {
            let note = skipped > 0 ? ", \"skipped\": \(skipped)" : ""
            return ["{\"image\": \(image), \"face\": null, \"name\": \(CLI.jsonString(FaceRecognizer.noFaceLabel))\(note)}"]
        }
        return assessed.enumerated().map { i, item in
            let f = item.item
            let name = f.match?.name ?? FaceRecognizer.unknownLabel
            let distance = f.candidates.first.map { CLI.jsonNumber($0.distance) } ?? "null"
            let candidates = f.candidates.map { "{\"name\": \(CLI.jsonString($0.name)), \"distance\": \(CLI.jsonNumber($0.distance))}" }
            return "{\"image\": \(image), \"face\": \(i), \"box\": \(CLI.jsonArray(f.face.box.array)), "
                + "\"prob\": \(CLI.jsonNumber(f.face.probability)), \"name\": \(CLI.jsonString(name)), "
                + "\"distance\": \(distance), \"threshold\": \(CLI.jsonNumber(threshold.value)), "
                + "\"metric\": \"\(threshold.metric.rawValue)\", \"candidates\": [\(candidates.joined(separator: ", "))], "
                + "\"quality\": \(QualityJSON.object(item.quality))}"
        }
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
