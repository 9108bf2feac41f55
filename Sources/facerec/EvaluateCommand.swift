import ArgumentParser
import FaceRecognition
import Foundation

/// `facerec evaluate --labels CSV`: identify against known answers and report how it did.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Identify labelled images and report accuracy, per-name counts, confusions and the unknown rate.",
        discussion: """
            --labels is the course's CSV: a header line, then IMAGE,NAME per line, IMAGE being the \
            file name without extension (test_00,Paul). Each image whose stem has a label is \
            identified as `identify` does (largest face, same threshold rules) and compared with \
            it; images without a label are skipped with a note, labels without an image are \
            counted. The prediction is the name, Unknown (beyond the threshold) or NoFace. With \
            --json the report is one JSON object.
            """)

    @Option(help: "CSV of expected names (Image,Results).")
    var labels: String

    @Option(help: "Gallery: the course data.pt or a gallery file.")
    var gallery: String

    @Option(help: "FaceNet weights: a facenet-pytorch .pt checkpoint or .safetensors.")
    var weights: String

    @Option(parsing: .unconditional, help: ArgumentHelp("Distance beyond which a face is Unknown, or none (default: the gallery's, else the vggface2 default).", valueName: "distance"))
    var threshold: ThresholdArgument?

    @Option(help: "euclidean or cosine.")
    var metric: MatchMetric = .euclidean

    @Option(parsing: .unconditional, help: "Confusions listed (most frequent first).")
    var confusions: Int = 10

    @Flag(help: "Print the report as one JSON object.")
    var json = false

    @OptionGroup var detection: DetectionOptions
    @OptionGroup var common: CommonOptions

    @Argument(help: "Images (JPEG or PNG) or folders of them.")
    var images: [String]

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image or folder") }
        try threshold?.check()
        guard confusions >= 0 else { throw ValidationError("--confusions must be 0 or more, got \(confusions)") }
    }

    /// stem → expected name.
    static func readLabels(_ path: String) throws -> [String: String] {
        let data: Data
        do { data = try CLI.readFile(path) } catch { throw CLI.fail("labels \(error)") }
        var labels: [String: String] = [:]
        for (number, raw) in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if number == 0 || line.isEmpty { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count >= 2, !fields[0].isEmpty else {
                throw CLI.fail("labels \(path): line \(number + 1) is not IMAGE,NAME: \(line)")
            }
            labels[((fields[0] as NSString).lastPathComponent as NSString).deletingPathExtension] = fields[1]
        }
        guard !labels.isEmpty else { throw CLI.fail("labels \(path): no IMAGE,NAME lines") }
        return labels
    }

    func run() throws {
        let expected = try Self.readLabels(labels)
        let facenet = try CLI.loadFaceNet(weights)
        let detector = try CLI.loadDetector(detection, mtcnn: detection.mtcnn())
        let loaded = try CLI.loadGallery(gallery)
        let limit = threshold.map { DistanceThreshold($0.value, metric: metric) }
            ?? loaded.threshold?.converted(to: metric) ?? FaceVerification.defaultThreshold(for: metric)
        let recognizer = FaceRecognizer(detector: detector, facenet: facenet, gallery: loaded,
                                        options: .init(threshold: limit.value, metric: metric))
        let inputs = ImageInputs(images)
        var failed = inputs.reportFailures()
        var labelled: [(path: String, label: String)] = []
        var unlabelled = 0
        for path in inputs.files {
            let stem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            if let label = expected[stem] { labelled.append((path, label)) } else { unlabelled += 1 }
        }
        let work = labelled
        if unlabelled > 0 { CLI.note("\(unlabelled) image(s) without a label in \(labels) skipped") }
        guard !work.isEmpty else { throw CLI.fail("no image has a label in \(labels)") }

        // Identify in parallel batches, as identify does.
        BLASThreads.configure(parallelCallers: ProcessInfo.processInfo.activeProcessorCount)
        let predictions = Predictions(count: work.count)
        let progress = ProgressBar(total: work.count)
        defer { progress.finish() }
        let batches = stride(from: 0, to: work.count, by: 8).map { $0..<min($0 + 8, work.count) }
        let next = Counter()
        let applyEXIF = detection.applyEXIF
        DispatchQueue.concurrentPerform(iterations: min(ProcessInfo.processInfo.activeProcessorCount, batches.count)) { _ in
            while let b = next.take(below: batches.count) {
                var decoded: [(Int, RGBImage)] = []
                for i in batches[b] {
                    do { decoded.append((i, try CLI.readImage(work[i].path, applyEXIF: applyEXIF))) } catch { CLI.warn("\(error)") }
                }
                do {
                    let results = try recognizer.recognize(batch: decoded.map(\.1))
                    for ((i, _), faces) in zip(decoded, results) { predictions.set(i, FaceRecognizer.label(for: faces)) }
                } catch {
                    for (i, _) in decoded { CLI.warn("\(work[i].path): \(error)") }
                }
                progress.advance(by: batches[b].count)
            }
        }
        progress.finish()

        let seen = Set(work.map { URL(fileURLWithPath: $0.path).deletingPathExtension().lastPathComponent })
        let report = Report(pairs: zip(work, predictions.values).compactMap { item, predicted in predicted.map { (item.label, $0) } },
                            missingImages: expected.keys.filter { !seen.contains($0) }.count, limit: limit)
        failed += work.count - report.total
        if json { CLI.printLine(report.json(confusions: confusions)) } else { report.text(confusions: confusions).forEach(CLI.printLine) }
        try CLI.finish(processed: report.total, failed: failed)
    }

    /// Predicted labels filled in by parallel workers.
    final class Predictions: @unchecked Sendable {
        private let lock = NSLock()
        private var slots: [String?]
        init(count: Int) { slots = Array(repeating: nil, count: count) }
        func set(_ index: Int, _ label: String) { lock.withLock { slots[index] = label } }
        var values: [String?] { lock.withLock { slots } }
    }

    /// The counts of one evaluation.
    struct Report {
        let total: Int
        let correct: Int
        let unknown: Int
        let noFace: Int
        /// name → (images labelled with it, of which correct), sorted by name.
        let perName: [(name: String, total: Int, correct: Int)]
        /// (expected, predicted, count) for wrong answers, most frequent first.
        let confusions: [(expected: String, predicted: String, count: Int)]
        let missingImages: Int
        let limit: DistanceThreshold

        init(pairs: [(expected: String, predicted: String)], missingImages: Int, limit: DistanceThreshold) {
            total = pairs.count
            correct = pairs.filter { $0.expected == $0.predicted }.count
            unknown = pairs.filter { $0.predicted == FaceRecognizer.unknownLabel }.count
            noFace = pairs.filter { $0.predicted == FaceRecognizer.noFaceLabel }.count
            var names: [String: (Int, Int)] = [:]
            var wrong: [String: [String: Int]] = [:]
            for (e, p) in pairs {
                names[e, default: (0, 0)].0 += 1
                if e == p { names[e]!.1 += 1 } else { wrong[e, default: [:]][p, default: 0] += 1 }
            }
            perName = names.map { ($0.key, $0.value.0, $0.value.1) }.sorted { $0.name < $1.name }
            confusions = wrong.flatMap { e, ps in ps.map { (e, $0.key, $0.value) } }
                .sorted { ($0.count, $1.expected, $1.predicted) > ($1.count, $0.expected, $0.predicted) }
            self.missingImages = missingImages
            self.limit = limit
        }

        func rate(_ n: Int) -> Double { total > 0 ? Double(n) / Double(total) : 0 }
        func percent(_ n: Int) -> String { String(format: "%.1f%%", 100 * rate(n)) }

        func text(confusions limit: Int) -> [String] {
            var lines = [
                "images: \(total)   threshold: \(self.limit.value) (\(self.limit.metric.rawValue))",
                "accuracy: \(correct)/\(total) = \(percent(correct))",
                "unknown: \(unknown) (\(percent(unknown)))   no face: \(noFace) (\(percent(noFace)))",
            ]
            if missingImages > 0 { lines.append("labels without an image: \(missingImages)") }
            lines.append("per name (correct/images):")
            let width = perName.map(\.name.count).max() ?? 0
            lines += perName.map { "  \($0.name.padding(toLength: width, withPad: " ", startingAt: 0))  \($0.correct)/\($0.total)" }
            if limit > 0 && !confusions.isEmpty {
                lines.append("top confusions (expected -> predicted: images):")
                lines += confusions.prefix(limit).map { "  \($0.expected) -> \($0.predicted): \($0.count)" }
            }
            return lines
        }

        /// `--json`: the figures above, with at most `limit` confusions.
        func json(confusions limit: Int) -> String {
            CLI.jsonLine(JSONReport(
                images: total, correct: correct, accuracy: rate(correct), unknown: unknown, unknownRate: rate(unknown),
                noFace: noFace, labelsWithoutImage: missingImages,
                threshold: self.limit.value.isFinite ? self.limit.value : nil, metric: self.limit.metric.rawValue,
                perName: Dictionary(uniqueKeysWithValues: perName.map { ($0.name, JSONReport.NameCount(images: $0.total, correct: $0.correct)) }),
                confusions: confusions.prefix(limit).map { .init(expected: $0.expected, predicted: $0.predicted, count: $0.count) }))
        }

        struct JSONReport: Encodable {
            struct NameCount: Encodable { let images: Int; let correct: Int }
            struct Confusion: Encodable { let expected: String; let predicted: String; let count: Int }
            let images: Int
            let correct: Int
            let accuracy: Double
            let unknown: Int
            let unknownRate: Double
            let noFace: Int
            let labelsWithoutImage: Int
            /// Null for `--threshold none`.
            let threshold: Float?
            let metric: String
            let perName: [String: NameCount]
            let confusions: [Confusion]

            enum CodingKeys: String, CodingKey {
                case images, correct, accuracy, unknown, threshold, metric, confusions
                case unknownRate = "unknown_rate", noFace = "no_face", labelsWithoutImage = "labels_without_image", perName = "per_name"
            }

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(images, forKey: .images)
                try container.encode(correct, forKey: .correct)
                try container.encode(accuracy, forKey: .accuracy)
                try container.encode(unknown, forKey: .unknown)
                try container.encode(unknownRate, forKey: .unknownRate)
                try container.encode(noFace, forKey: .noFace)
                try container.encode(labelsWithoutImage, forKey: .labelsWithoutImage)
                try container.encode(threshold, forKey: .threshold)  // null, not absent, for none
                try container.encode(metric, forKey: .metric)
                try container.encode(perName, forKey: .perName)
                try container.encode(confusions, forKey: .confusions)
            }
        }
    }
}
