import ArgumentParser
import FaceRecognition
import Foundation

/// `facerec identify`: who is in each photo, one line per image (`STEM:NAME`, the course format).
struct IdentifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identify",
        abstract: "Name the largest face of each image against a gallery.",
        discussion: """
            Prints one line per image, in the order given: STEM:NAME (e.g. test_00:Paul). An image \
            with no face prints STEM:NoFace; a face farther than --threshold from every gallery \
            entry prints STEM:Unknown. With --json each line is the full result instead. Images \
            are processed in parallel over the cores. An unreadable image is reported on stderr \
            and the others are still processed; the exit code is then 4 (3: bad weights, 5: bad \
            gallery).
            """
    )

    @Option(help: "Gallery: the course data.pt or a gallery file written by `facerec enroll`/`gallery`.")
    var gallery: String

    @Option(help: "FaceNet weights: a facenet-pytorch .pt checkpoint or .safetensors.")
    var weights: String

    @Option(help: "Directory holding MTCNN's pnet.pt, rnet.pt, onet.pt (weights/fetch_mtcnn_weights.sh).")
    var mtcnnWeights: String = MTCNN.defaultWeightsDirectory.path

    @Option(help: "Distance beyond which a face is Unknown (default: always the nearest entry).")
    var threshold: Float?

    @Option(help: "euclidean (the course's torch.dist) or cosine.")
    var metric: String = "euclidean"

    @Flag(help: "Print the full result as JSON lines.")
    var json = false

    @Option(help: "Parallel workers (default: the number of cores).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Argument(help: "Image files (JPEG or PNG).")
    var images: [String]

    func validate() throws {
        guard MatchMetric(rawValue: metric) != nil else { throw ValidationError("--metric must be euclidean or cosine") }
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        let recognizer = try CLI.loadRecognizer(weights: weights, mtcnnDirectory: mtcnnWeights, gallery: gallery,
                                                options: .init(threshold: threshold, metric: MatchMetric(rawValue: metric)!))
        // One BLAS thread per parallel batch: the batches already use every core.
        BLASThreads.configure(parallelCallers: jobs)
        let lines = LineSlots(count: images.count)
        let progress = ProgressBar(total: images.count)
        // Workers take batches of images in turn; lines are printed in input order at the end
        // of each contiguous prefix, so output order never depends on timing.
        let batch = 8
        let batches = stride(from: 0, to: images.count, by: batch).map { $0..<min($0 + batch, images.count) }
        let next = Counter()
        DispatchQueue.concurrentPerform(iterations: min(jobs, max(batches.count, 1))) { _ in
            while let b = next.take(below: batches.count) {
                let range = batches[b]
                var decoded: [(Int, RGBImage)] = []
                for i in range {
                    do {
                        decoded.append((i, try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: images[i]))))
                    } catch {
                        lines.set(i, nil, error: "\(images[i]): \(error)")
                    }
                }
                do {
                    let results = try recognizer.recognize(batch: decoded.map(\.1))
                    for ((i, _), faces) in zip(decoded, results) {
                        lines.set(i, format(path: images[i], faces: faces), error: nil)
                    }
                } catch {
                    for (i, _) in decoded { lines.set(i, nil, error: "\(images[i]): \(error)") }
                }
                progress.advance(by: range.count)
                lines.flushReady()
            }
        }
        lines.flushReady()
        progress.finish()
        if lines.failures > 0 { throw ExitCode(CLI.ExitStatus.someInputsFailed) }
    }

    private func format(path: String, faces: [RecognizedFace]) -> String {
        let stem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        guard json else { return "\(stem):\(FaceRecognizer.label(for: faces))" }
        let facesJSON = faces.map { f in
            let box = CLI.jsonArray(f.face.box.array)
            let match = f.match.map { "{\"name\": \(CLI.jsonString($0.name)), \"distance\": \($0.distance)}" } ?? "null"
            return "{\"box\": \(box), \"prob\": \(f.face.probability), \"match\": \(match)}"
        }
        let name = FaceRecognizer.label(for: faces)
        return "{\"image\": \(CLI.jsonString(path)), \"name\": \(CLI.jsonString(name)), \"faces\": [\(facesJSON.joined(separator: ", "))]}"
    }
}

/// Output lines filled in by parallel workers and printed strictly in input order.
final class LineSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [String??]
    private var printed = 0
    private(set) var failures = 0

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    /// `line` nil with an error: the image failed (reported on stderr, no stdout line).
    func set(_ index: Int, _ line: String?, error: String?) {
        lock.withLock {
            slots[index] = .some(line)
            if let error {
                failures += 1
                CLI.warn(error)
            }
        }
    }

    func flushReady() {
        lock.withLock {
            while printed < slots.count, let slot = slots[printed] {
                if let line = slot { CLI.printLine(line) }
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

/// A progress bar on stderr for long runs (only when stderr is a terminal and there are many images).
final class ProgressBar: @unchecked Sendable {
    private let lock = NSLock()
    private let total: Int
    private var done = 0
    private let enabled: Bool
    private let start = Date()

    init(total: Int) {
        self.total = total
        enabled = total >= 20 && isatty(STDERR_FILENO) == 1
    }

    func advance(by count: Int) {
        guard enabled else { return }
        lock.withLock {
            done += count
            let width = 30
            let filled = total > 0 ? width * done / total : width
            let rate = Double(done) / max(Date().timeIntervalSince(start), 1e-3)
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardError.write(Data(String(format: "\r[%@] %d/%d  %.1f images/s", bar, done, total, rate).utf8))
        }
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
