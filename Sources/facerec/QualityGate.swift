import FaceRecognition
import Foundation

/// Applies `--min-quality` and counts what it skipped, across parallel workers.
final class QualityGate: @unchecked Sendable {
    let minimum: Float?
    private let lock = NSLock()
    private var skipped = 0

    init(_ options: QualityOptions) { minimum = options.minQuality }

    /// No filter: every face kept, with its quality.
    init() { minimum = nil }

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

/// A face's library JSON form with its quality beside it: `{…the face's fields…, "quality": {…}}`.
struct AssessedFace<Face: Encodable>: Encodable {
    let face: Face
    let quality: FaceQuality

    enum CodingKeys: String, CodingKey { case quality }

    func encode(to encoder: any Encoder) throws {
        try face.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(quality, forKey: .quality)
    }
}
