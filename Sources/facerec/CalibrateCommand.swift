import ArgumentParser
import FaceRecognition
import Foundation

/// `facerec calibrate`: choose the match threshold from labelled faces.
struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Measure genuine and impostor distances of labelled faces and suggest a threshold (ROC, EER, FAR/FRR).",
        discussion: """
            Labels come from --labels CSV (the course's Image,Results: IMAGE is the file name \
            without extension) or, without it, from each image's folder name (people/NAME/*.jpg). \
            The largest face of each image is embedded; every pair of faces is genuine (same \
            label) or impostor. Reports the pair counts, the distances' ranges, the ROC's AUC, the \
            equal error rate (FAR = FRR) and its threshold, which is the suggested one (or, with \
            --target-far, the largest threshold whose FAR is at most that), and FAR/FRR at the \
            vggface2 default, at the suggestion and at each --at threshold. A pair is the same \
            person when its distance is at most the threshold. --plot writes a PNG with the ROC \
            and the two histograms; --json prints one JSON object (with --distances, also every \
            genuine and impostor distance and the ROC points); --gallery stores the suggested \
            threshold in a facerec gallery's metadata (atomically; a torch data.pt needs --out).
            """)

    @Option(help: "FaceNet weights: a facenet-pytorch .pt checkpoint or .safetensors.")
    var weights: String

    @Option(help: ArgumentHelp("CSV of names (Image,Results); without it, each image's folder name is its label.", valueName: "csv"))
    var labels: String?

    @Option(help: "euclidean or cosine.")
    var metric: MatchMetric = .euclidean

    @Option(parsing: .unconditional, help: ArgumentHelp("Also report FAR and FRR at these thresholds (comma-separated).", valueName: "t1,t2,..."))
    var at: String?

    @Option(name: .customLong("target-far"), parsing: .unconditional,
            help: ArgumentHelp("Suggest the largest threshold whose false accept rate is at most this (0-1) instead of the EER threshold.", valueName: "rate"))
    var targetFAR: Double?

    @Option(help: ArgumentHelp("Write the ROC and the distance histograms to this .png.", valueName: "png"))
    var plot: String?

    @Option(help: ArgumentHelp("Store the suggested threshold in this facerec gallery.", valueName: "gallery"))
    var gallery: String?

    @Option(help: ArgumentHelp("With --gallery: write the gallery with the threshold to this new .safetensors file instead (required for a torch data.pt).", valueName: "path"))
    var out: String?

    @Flag(help: "Print the report as one JSON object.")
    var json = false

    @Flag(help: "With --json: include every genuine and impostor distance and the ROC points.")
    var distances = false

    @OptionGroup var detection: DetectionOptions
    @OptionGroup var common: CommonOptions

    @Argument(help: "Images (JPEG or PNG) or folders of them (people/NAME/*.jpg without --labels).")
    var images: [String]

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image or folder") }
        _ = try extraThresholds()
        if let targetFAR, !(targetFAR >= 0 && targetFAR <= 1) {
            throw ValidationError("--target-far must lie in 0...1, got \(targetFAR)")
        }
        if let plot { try CLI.checkImageOutput(plot, flag: "--plot") }
        if out != nil && gallery == nil { throw ValidationError("--out names where --gallery is written: give --gallery too") }
        if distances && !json { throw ValidationError("--distances lists values in the JSON output: add --json") }
    }

    func extraThresholds() throws -> [Float] {
        guard let at else { return [] }
        return try at.split(separator: ",").map {
            guard let t = Float($0.trimmingCharacters(in: .whitespaces)), t.isFinite, t >= 0 else {
                throw ValidationError("--at takes distances of 0 or more separated by commas, got \(at)")
            }
            return t
        }
    }

    func run() throws {
        let expected = try labels.map(EvaluateCommand.readLabels)
        // Check where the threshold may go before anything slow.
        var target: (gallery: Gallery, path: String)?
        if let gallery {
            let loaded = try CLI.loadGalleryDetectingFormat(gallery)
            target = (loaded.gallery, try CLI.galleryDestination(editing: gallery, format: loaded.format, out: out))
        }
        let facenet = try CLI.loadFaceNet(weights)
        let detector = try CLI.loadDetector(detection, mtcnn: detection.mtcnn())
        let inputs = ImageInputs(images)
        var failed = inputs.reportFailures()
        var files: [String] = [], names: [String] = [], unlabelled = 0
        for path in inputs.files {
            let label: String?
            if let expected {
                label = expected[URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent]
            } else {
                label = URL(fileURLWithPath: path).deletingLastPathComponent().lastPathComponent
            }
            guard let label, !label.isEmpty else { unlabelled += 1; continue }
            files.append(path)
            names.append(label)
        }
        if unlabelled > 0 { CLI.note("\(unlabelled) image(s) without a label skipped") }
        let embedded = FaceEmbeddings.embed(files: files, detector: detector, facenet: facenet, applyEXIF: detection.applyEXIF,
                                            gate: QualityGate(), largestOnly: true, keepCrops: false)
        failed += embedded.failures
        let faces = zip(names, embedded.faces).compactMap { name, faces in faces.first.map { (label: name, embedding: $0.embedding) } }
        let calibration = Calibration(labelled: faces, metric: metric)
        guard !calibration.genuine.isEmpty, !calibration.impostor.isEmpty else {
            throw CLI.fail("calibration needs two faces of one person and faces of two people: got \(faces.count) face(s) of \(Set(faces.map(\.label)).count) name(s)")
        }
        let suggested: Float
        if let targetFAR {
            guard let t = calibration.threshold(forFAR: targetFAR) else {
                throw CLI.fail("no threshold has a false accept rate of \(targetFAR) or less on these faces")
            }
            suggested = t
        } else {
            suggested = calibration.eerThreshold
        }
        let defaultThreshold = FaceVerification.defaultThreshold(for: metric).value
        var thresholds: [Float] = []
        for t in [defaultThreshold, suggested] + (try extraThresholds()) where !thresholds.contains(t) { thresholds.append(t) }

        if let plot { try CLI.writeFile(try CalibrationPlot.png(calibration, threshold: suggested), to: plot) }
        if var target {
            target.gallery.threshold = DistanceThreshold(suggested, metric: metric)
            try CLI.saveGallery(target.gallery, to: target.path)
            CLI.note("stored threshold \(suggested) (\(metric.rawValue)) in \(target.path)")
        }
        let report = Report(calibration: calibration, metric: metric, faces: faces.count,
                            names: Set(faces.map(\.label)).count, suggested: suggested, targetFAR: targetFAR,
                            thresholds: thresholds, defaultThreshold: defaultThreshold)
        if json { CLI.printLine(report.json(distances: distances)) } else { report.text().forEach(CLI.printLine) }
        try CLI.finish(processed: files.count - embedded.failures, failed: failed)
    }

    struct Report {
        let calibration: Calibration
        let metric: MatchMetric
        let faces: Int
        let names: Int
        let suggested: Float
        let targetFAR: Double?
        let thresholds: [Float]
        let defaultThreshold: Float

        static func percent(_ rate: Double) -> String { String(format: "%.2f%%", 100 * rate) }

        func text() -> [String] {
            let c = calibration
            func range(_ v: [Float]) -> String {
                let mean = v.reduce(0, +) / Float(v.count)
                return String(format: "%.4f...%.4f, mean %.4f", v.first!, v.last!, mean)
            }
            var lines = [
                "faces: \(faces) of \(names) names   metric: \(metric.rawValue)",
                "genuine pairs: \(c.genuine.count)   distance \(range(c.genuine))",
                "impostor pairs: \(c.impostor.count)   distance \(range(c.impostor))",
                String(format: "ROC AUC: %.4f   EER: ", c.auc) + Self.percent(c.eer) + String(format: " at threshold %.4f", c.eerThreshold),
                "suggested threshold: \(suggested)" + (targetFAR.map { " (largest with FAR <= \($0))" } ?? " (EER)"),
                "threshold   FAR       FRR",
            ]
            for t in thresholds {
                let r = c.rates(at: t)
                let label = t == defaultThreshold ? "  (vggface2 default)" : t == suggested ? "  (suggested)" : ""
                let far: String = Self.percent(r.far).padding(toLength: 8, withPad: " ", startingAt: 0)
                let frr: String = Self.percent(r.frr).padding(toLength: 8, withPad: " ", startingAt: 0)
                let row: String = String(format: "%-9.4f   ", t) + far + "  " + frr + label
                lines.append(row.trimmingCharacters(in: .whitespaces))
            }
            return lines
        }

        /// `--json`: the figures above, and with `distances` every pair's distance and the ROC curve.
        func json(distances: Bool) -> String {
            let c = calibration
            return CLI.jsonLine(JSONReport(
                faces: faces, names: names, metric: metric.rawValue, genuinePairs: c.genuine.count, impostorPairs: c.impostor.count,
                auc: c.auc, eer: c.eer, eerThreshold: c.eerThreshold, suggestedThreshold: suggested, defaultThreshold: defaultThreshold,
                rates: thresholds.map { t in
                    let r = c.rates(at: t)
                    return .init(threshold: t, far: r.far, frr: r.frr)
                },
                genuine: distances ? c.genuine : nil, impostor: distances ? c.impostor : nil,
                roc: distances ? .init(threshold: c.roc.map(\.threshold), far: c.roc.map(\.far), tpr: c.roc.map { 1 - $0.frr }) : nil))
        }

        struct JSONReport: Encodable {
            struct Rates: Encodable { let threshold: Float; let far: Double; let frr: Double }
            struct ROC: Encodable { let threshold: [Float]; let far: [Double]; let tpr: [Double] }
            let faces: Int
            let names: Int
            let metric: String
            let genuinePairs: Int
            let impostorPairs: Int
            let auc: Double
            let eer: Double
            let eerThreshold: Float
            let suggestedThreshold: Float
            let defaultThreshold: Float
            let rates: [Rates]
            let genuine: [Float]?
            let impostor: [Float]?
            let roc: ROC?

            enum CodingKeys: String, CodingKey {
                case faces, names, metric, auc, eer, rates, genuine, impostor, roc
                case genuinePairs = "genuine_pairs", impostorPairs = "impostor_pairs", eerThreshold = "eer_threshold"
                case suggestedThreshold = "suggested_threshold", defaultThreshold = "default_threshold"
            }
        }
    }
}
