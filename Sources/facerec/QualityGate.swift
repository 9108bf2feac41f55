import FaceRecognition
import Foundation

/// Applies `--min-quality` and counts what it skipped, across parallel workers.
final class QualityGate: @unchecked Sendable {
    let minimum: Float?
    private let lock = NSLock()
    private var skipped = 0

    init(_ options: QualityOptions) { minimum = options.minQuality }

    /// Whether faces are filtered (the detector must then return every face, and the command
    /// takes the first kept one itself when it wants only the largest).
    var isActive: Bool { minimum != nil }

    /// The items whose face passes, with every item's quality; counts the others.
    func filter<Item>(_ items: [Item], in image: RGBImage, face: (Item) -> DetectedFace) -> [(item: Item, quality: FaceQuality)] {
        let assessed = items.map { ($0, FaceQuality.assess(image, face: face($0))) }
        guard let minimum else { return assessed }
        let kept = assessed.filter { $0.1.score >= minimum }
        if kept.count < assessed.count { lock.withLock { skipped += assessed.count - kept.count } }
        return kept
    }

    /// `facerec: skipped N face(s) below --min-quality M` (unless --quiet), when any was.
    func report() {
        guard let minimum else { return }
        let count = lock.withLock { skipped }
        if count > 0 { CLI.note("skipped \(count) face(s) below --min-quality \(minimum)") }
    }
}

enum QualityJSON {
    /// `{"score", "sharpness", "brightness", "size", "yaw", "roll", "frontal"}` (pose fields null
    /// without landmarks).
    static func object(_ q: FaceQuality) -> String {
        let n = CLI.jsonNumber
        let pose = q.pose.map { "\"yaw\": \(n($0.yaw)), \"roll\": \(n($0.roll)), \"frontal\": \(n($0.frontal))" }
            ?? "\"yaw\": null, \"roll\": null, \"frontal\": null"
        return "{\"score\": \(n(q.score)), \"sharpness\": \(n(q.sharpness)), \"brightness\": \(n(q.brightness)), "
            + "\"size\": \(n(q.size)), \(pose)}"
    }
}
