import CloudPipeline
import Dispatch
import FaceRecognition
import Foundation

/// The face-recognition library behind the pipeline's `ImageRecognizing` seam, used by the
/// workers (queued jobs) and by the upload API (`POST /v1/recognize`, upload validation).
///
/// Two modes: **identify** (MTCNN → FaceNet → gallery, the same `FaceRecognizer` and labels as
/// `facerec identify`) and **detection only**, for machines without the FaceNet weights: faces
/// are found and reported, and the label says that nobody was identified; a name is never
/// invented.
///
/// The networks are CPU-bound and synchronous, so they run on a private dispatch queue, never on
/// Swift's cooperative pool (whose threads must stay free for I/O, lease renewals and HTTP).
/// Concurrent requests are coalesced by a ``MicroBatcher``: at most ``lanes`` analyses run at
/// once, and images that arrive while they run go through the networks together, up to
/// ``maxBatchSize`` per forward pass (FaceNet costs less per face in a batch). The answers are
/// those of one image at a time: a face's embedding in a batch equals its embedding alone to
/// float rounding (< 1e-5, `FaceNetParityTests`).
public final class FaceRecognitionEngine: ImageRecognizing {
    public enum Mode: Sendable {
        case identify(FaceRecognizer)
        case detectionOnly(MTCNN)
    }

    /// Label of an image whose faces were found but not identified (detection-only mode).
    public static let unidentifiedLabel = "Unidentified"

    public let mode: Mode
    /// Analyses (batches) run at once.
    public let lanes: Int
    /// Most images per forward pass.
    public let maxBatchSize: Int
    public let decodeOptions: DecodeOptions
    private let queue = DispatchQueue(label: "facerec.engine", attributes: .concurrent)
    /// Bounds the decodes running at once (a huge JPEG costs as much as a small analysis).
    private let decodeLimiter: AsyncLimiter
    private let batcher: MicroBatcher<RGBImage, ImageAnalysis>

    public init(mode: Mode, lanes: Int = ProcessInfo.processInfo.activeProcessorCount, maxBatchSize: Int = 8,
                decodeOptions: DecodeOptions = .init()) {
        self.mode = mode
        self.lanes = max(1, lanes)
        self.maxBatchSize = max(1, maxBatchSize)
        self.decodeOptions = decodeOptions
        self.decodeLimiter = AsyncLimiter(limit: max(1, lanes))
        let queue = self.queue
        self.batcher = MicroBatcher(lanes: lanes, maxBatchSize: maxBatchSize) { images in
            await withCheckedContinuation { continuation in
                queue.async { continuation.resume(returning: Self.analyze(batch: images, mode: mode)) }
            }
        }
    }

    public var identifies: Bool {
        if case .identify = mode { return true }
        return false
    }

    /// Sizes FaceNet's workspaces for ``lanes`` batches of ``maxBatchSize`` faces, each of which
    /// FaceNet may run as several passes side by side (identify mode; detection only has
    /// nothing to prepare), so that a worker's memory is flat from the start rather than
    /// stepping up when its first full batch arrives. Returns the workspace bytes then held:
    /// `lanes × threadsPerPass` workspaces (at most one per budget thread), each for a whole
    /// batch, since any may run one — with one thread per lane (the default) that is one per
    /// lane.
    @discardableResult
    public func prepare() async throws -> Int {
        guard case .identify(let recognizer) = mode else { return 0 }
        let size = recognizer.detector.options.imageSize
        let facenet = recognizer.facenet
        return try await withCheckedThrowingContinuation { [lanes, maxBatchSize, queue] continuation in
            queue.async {
                continuation.resume(with: Result {
                    try facenet.prepare(batchSize: maxBatchSize, height: size, width: size,
                                        concurrentPasses: lanes * facenet.budget.threadsPerPass)
                    return facenet.workspaceBytes
                })
            }
        }
    }

    /// How many batches of each size have run (for tests and the benchmark's report).
    public func batchSizes() async -> [Int: Int] { await batcher.batchSizes }

    // MARK: ImageRecognizing

    public func recognize(imageData: Data, key: String) async throws -> RecognitionAnswer {
        let analysis = try await analyze(imageData)
        return RecognitionAnswer(label: analysis.label, detailsJSON: analysis.jsonString())
    }

    /// Decodes and analyses an image.
    /// - Throws: `UnprocessableImage` when the bytes are not a decodable image; the library's
    ///   errors otherwise.
    public func analyze(_ data: Data) async throws -> ImageAnalysis {
        try await batcher.submit(decode(data))
    }

    /// Analyses an already decoded image.
    public func analyze(_ image: RGBImage) async throws -> ImageAnalysis {
        try await batcher.submit(image)
    }

    /// Checks that `data` decodes as an image (the upload API's 415 check), off the cooperative pool.
    public func validateImage(_ data: Data) async throws -> (width: Int, height: Int) {
        let image = try await decode(data)
        return (image.width, image.height)
    }

    private func decode(_ data: Data) async throws -> RGBImage {
        try await decodeLimiter.run { [queue, decodeOptions] in
            try await withCheckedThrowingContinuation { continuation in
                queue.async {
                    continuation.resume(with: Result {
                        do {
                            return try ImageDecoder.decode(data, options: decodeOptions)
                        } catch {
                            throw UnprocessableImage(reason: "not a decodable image: \(error)")
                        }
                    })
                }
            }
        }
    }

    /// One result per image. In identify mode the faces of the whole batch go through FaceNet in
    /// one pass; should that pass fail, each image is retried alone so that one bad image
    /// cannot fail the others.
    static func analyze(batch images: [RGBImage], mode: Mode) -> [Result<ImageAnalysis, any Error>] {
        if case .identify(let recognizer) = mode, images.count > 1,
           let faces = try? recognizer.recognize(batch: images) {
            return zip(images, faces).map { .success(analysis(of: $0, identified: $1)) }
        }
        return images.map { image in Result { try analyze(image, mode: mode) } }
    }

    /// Analyses one image, synchronously, on the calling thread.
    public static func analyze(_ image: RGBImage, mode: Mode) throws -> ImageAnalysis {
        switch mode {
        case .identify(let recognizer):
            return analysis(of: image, identified: try recognizer.recognize(image))
        case .detectionOnly(let detector):
            let faces = try detector.detect(image)
            return ImageAnalysis(
                label: faces.isEmpty ? FaceRecognizer.noFaceLabel : unidentifiedLabel, identified: false,
                width: image.width, height: image.height,
                faces: faces.map { FaceReport(face: $0, name: nil, distance: nil) })
        }
    }

    private static func analysis(of image: RGBImage, identified faces: [RecognizedFace]) -> ImageAnalysis {
        ImageAnalysis(
            label: FaceRecognizer.label(for: faces), identified: true, width: image.width, height: image.height,
            faces: faces.map { face in
                FaceReport(face: face.face, name: face.match?.name ?? FaceRecognizer.unknownLabel,
                           distance: face.candidates.first?.distance)
            })
    }
}

/// What the engine found in one image (the JSON of `POST /v1/recognize`).
public struct ImageAnalysis: Sendable, Codable, Equatable {
    /// `STEM:NAME`'s NAME: a gallery name, `Unknown`, `NoFace`, or `Unidentified`.
    public var label: String
    /// False in detection-only mode (no FaceNet weights): `faces[].name` is then null.
    public var identified: Bool
    public var width: Int
    public var height: Int
    public var faces: [FaceReport]

    public func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// One face of an ``ImageAnalysis``. Its JSON is the library's face form, as `facerec
/// identify --json` prints it: `{"box": [x1, y1, x2, y2], "prob": p, "landmarks": [[x, y] × 5],
/// "name": …, "distance": …}`.
public struct FaceReport: Sendable, Codable, Equatable {
    /// The detected face (box and landmarks in pixels of the EXIF-oriented image).
    public var face: DetectedFace
    /// Gallery name or `Unknown`; nil when not identified.
    public var name: String?
    /// Distance to the nearest gallery entry.
    public var distance: Float?

    public init(face: DetectedFace, name: String?, distance: Float?) {
        self.face = face
        self.name = name
        self.distance = distance
    }

    /// x1, y1, x2, y2 in pixels of the (EXIF-oriented) image.
    public var box: [Float] { face.box.array }
    /// The detector's face probability.
    public var probability: Float { face.probability }

    enum CodingKeys: String, CodingKey { case name, distance }

    public func encode(to encoder: any Encoder) throws {
        try face.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(distance, forKey: .distance)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(face: try DetectedFace(from: decoder), name: try container.decodeIfPresent(String.self, forKey: .name),
                  distance: try container.decodeIfPresent(Float.self, forKey: .distance))
    }
}

/// Lets at most `limit` operations run at once; the rest wait in arrival order.
public actor AsyncLimiter {
    private let limit: Int
    private var running = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init(limit: Int) { self.limit = max(1, limit) }

    public func run<T: Sendable>(_ operation: @Sendable () async throws -> T) async throws -> T {
        if running >= limit {
            await withCheckedContinuation { waiters.append($0) }
        } else {
            running += 1
        }
        defer { release() }
        return try await operation()
    }

    private func release() {
        if waiters.isEmpty {
            running -= 1
        } else {
            // The slot passes straight to the next waiter; `running` stays the same.
            waiters.removeFirst().resume()
        }
    }
}
