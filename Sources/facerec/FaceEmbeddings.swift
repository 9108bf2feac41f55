import FaceRecognition
import Foundation

/// One face of an input image with its FaceNet embedding (calibrate and cluster).
struct EmbeddedFace: Sendable {
    /// The image it was found in.
    let path: String
    /// Its position among the image's faces kept, largest first.
    let index: Int
    let face: DetectedFace
    let quality: FaceQuality
    let embedding: Embedding
    /// The face crop, when asked for (`keepCrops`).
    let crop: RGBImage?
}

/// Detects and embeds the faces of many images in parallel batches, as identify does, and
/// returns them in input order. Unreadable images are reported on stderr and counted.
enum FaceEmbeddings {
    static func embed(files: [String], detector: MTCNN, facenet: FaceNet, applyEXIF: Bool, gate: QualityGate,
                      largestOnly: Bool, keepCrops: Bool, jobs: Int = ProcessInfo.processInfo.activeProcessorCount)
        -> (faces: [[EmbeddedFace]], failures: Int) {
        let slots = Slots(count: files.count)
        let progress = ProgressBar(total: files.count)
        defer { progress.finish() }
        BLASThreads.configure(parallelCallers: jobs)
        let batch = 8
        let batches = stride(from: 0, to: files.count, by: batch).map { $0..<min($0 + batch, files.count) }
        let next = Counter()
        let size = detector.options.imageSize
        DispatchQueue.concurrentPerform(iterations: min(jobs, max(batches.count, 1))) { _ in
            while let b = next.take(below: batches.count) {
                var crops: [(file: Int, index: Int, crop: FaceCrop, quality: FaceQuality)] = []
                for i in batches[b] {
                    do {
                        let image = try CLI.readImage(files[i], applyEXIF: applyEXIF)
                        var kept = gate.filter(try detector.extractFaces(image), in: image) { $0.face }
                        if largestOnly { kept = Array(kept.prefix(1)) }
                        if kept.isEmpty { CLI.note("\(files[i]): no face found") }
                        crops += kept.enumerated().map { (i, $0, $1.item, $1.quality) }
                        slots.set(i, [])
                    } catch {
                        slots.fail(error is InputFailure ? "\(error)" : "\(files[i]): \(error)")
                    }
                }
                do {
                    var input: [Float] = []
                    input.reserveCapacity(crops.count * 3 * size * size)
                    for item in crops { input.append(contentsOf: item.crop.tensor) }
                    let embeddings = crops.isEmpty ? []
                        : try facenet.embed(standardized: input, count: crops.count, height: size, width: size)
                    for (item, embedding) in zip(crops, embeddings) {
                        slots.append(item.file, EmbeddedFace(path: files[item.file], index: item.index, face: item.crop.face,
                                                             quality: item.quality, embedding: embedding,
                                                             crop: keepCrops ? item.crop.image : nil))
                    }
                } catch {
                    for file in Set(crops.map(\.file)) { slots.fail("\(files[file]): \(error)") }
                }
                progress.advance(by: batches[b].count)
            }
        }
        progress.finish()
        return (slots.faces, slots.failures)
    }

    /// Per-image results filled in by parallel workers.
    final class Slots: @unchecked Sendable {
        private let lock = NSLock()
        private var slots: [[EmbeddedFace]]
        private(set) var failures = 0
        init(count: Int) { slots = Array(repeating: [], count: count) }
        func set(_ i: Int, _ faces: [EmbeddedFace]) { lock.withLock { slots[i] = faces } }
        func append(_ i: Int, _ face: EmbeddedFace) { lock.withLock { slots[i].append(face) } }
        func fail(_ message: String) {
            lock.withLock {
                failures += 1
                CLI.warn(message)
            }
        }
        var faces: [[EmbeddedFace]] { lock.withLock { slots } }
    }
}
