import Dispatch
import FaceRecognition
import Foundation

/// One face of an analysed image, in Rekognition's terms.
public struct AnalyzedFace: Sendable {
    public var detail: FaceDetail
    /// Box side lengths in pixels (the quality filter's size check).
    public var pixelWidth: Float
    public var pixelHeight: Float
    /// O-Net probability, 0–1.
    public var probability: Float
    public var embedding: [Float]
}

/// Finds every face of an image and embeds each: MTCNN with `keepAll` (largest face first),
/// then one FaceNet pass over all the crops. Work runs on a private dispatch queue, at most
/// `lanes` images at once; beyond ``maxPending`` waiting images a call is refused with
/// `ProvisionedThroughputExceededException` (load shedding) instead of queueing without bound.
public final class RekognitionFaceAnalyzer: Sendable {
    public let detector: MTCNN
    public let facenet: FaceNet
    public let decodeOptions: DecodeOptions
    /// Images admitted (running or waiting) before new ones are shed.
    public let maxPending: Int
    private let limiter: AsyncLimiter
    private let admission: AdmissionCounter
    private let queue = DispatchQueue(label: "facerec.rekognition.analyzer", attributes: .concurrent)

    /// `detector` should be built with `keepAll: true` (``makeDetector(weightsDirectory:)``).
    public init(detector: MTCNN, facenet: FaceNet, lanes: Int = ProcessInfo.processInfo.activeProcessorCount,
                maxPending: Int = 256, decodeOptions: DecodeOptions = .init()) {
        self.detector = detector
        self.facenet = facenet
        self.decodeOptions = decodeOptions
        self.maxPending = max(0, maxPending)
        self.limiter = AsyncLimiter(limit: max(1, lanes))
        self.admission = AdmissionCounter(limit: max(0, maxPending))
    }

    /// MTCNN with the service's defaults but every face kept.
    public static func makeDetector(weightsDirectory: URL) throws -> MTCNN {
        var options = MTCNNOptions()
        options.keepAll = true
        return try MTCNN(weightsDirectory: weightsDirectory, options: options)
    }

    /// Every face of the image, largest first.
    /// - Throws: ``RekognitionError`` (`InvalidImageFormatException`, `ProvisionedThroughputExceededException`).
    public func analyze(_ data: Data) async throws -> [AnalyzedFace] {
        guard admission.enter() else {
            throw RekognitionError.provisionedThroughputExceeded(
                "The server is analysing \(maxPending) images; try again with back-off.")
        }
        defer { admission.leave() }
        return try await limiter.run { [queue, detector, facenet, decodeOptions] in
            try await withCheckedThrowingContinuation { continuation in
                queue.async {
                    continuation.resume(with: Result {
                        try Self.analyze(data, detector: detector, facenet: facenet, decodeOptions: decodeOptions)
                    })
                }
            }
        }
    }

    /// The library's ``FaceQuality`` on Rekognition's 0–100 scales: Brightness = mean grey / 255 × 100,
    /// Sharpness = 100 × min(Laplacian variance / 100, 1) (the library's sharpness part of its score).
    static func quality(_ quality: FaceQuality) -> ImageQuality {
        ImageQuality(Brightness: quality.brightness / 255 * 100,
                     Sharpness: 100 * min(max(quality.sharpness, 0) / FaceQuality.sharpnessReference, 1))
    }

    /// The library's ``FacePose`` (yaw and roll from the landmarks; pitch is not estimated).
    static func pose(_ pose: FacePose?) -> Pose {
        Pose(Roll: pose?.roll ?? 0, Yaw: pose?.yaw ?? 0, Pitch: nil)
    }

    static func analyze(_ data: Data, detector: MTCNN, facenet: FaceNet, decodeOptions: DecodeOptions) throws -> [AnalyzedFace] {
        let image: RGBImage
        do {
            image = try ImageDecoder.decode(data, options: decodeOptions)
        } catch {
            throw RekognitionError.invalidImageFormat("Request has invalid image format: \(error)")
        }
        let faces = try detector.detect(image)
        guard !faces.isEmpty else { return [] }
        let crops = faces.map { detector.extractFace(image, face: $0) }
        let size = detector.options.imageSize
        let embeddings = try facenet.embed(standardized: crops.flatMap(\.tensor), count: crops.count, height: size, width: size)
        let w = Float(image.width), h = Float(image.height)
        return zip(faces, embeddings).map { face, embedding in
            let box = face.box
            let quality = FaceQuality.assess(image, face: face)
            let landmarkNames = ["eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight"]
            let landmarks = zip(landmarkNames, face.landmarks).map { Landmark(Type: $0, X: $1.x / w, Y: $1.y / h) }
            let detail = FaceDetail(
                BoundingBox: BoundingBox(Width: (box.x2 - box.x1) / w, Height: (box.y2 - box.y1) / h, Left: box.x1 / w, Top: box.y1 / h),
                Landmarks: landmarks, Pose: Self.pose(quality.pose), Quality: Self.quality(quality),
                Confidence: min(100, face.probability * 100))
            return AnalyzedFace(detail: detail, pixelWidth: box.x2 - box.x1, pixelHeight: box.y2 - box.y1,
                                probability: face.probability, embedding: embedding)
        }
    }
}

/// Counts admitted calls against a limit (lock-based: `enter`/`leave` never suspend).
final class AdmissionCounter: @unchecked Sendable {
    // @unchecked: `count` is only touched under `lock`.
    private let lock = NSLock()
    private var count = 0
    let limit: Int
    init(limit: Int) { self.limit = limit }
    func enter() -> Bool { lock.withLock { guard count < limit else { return false }; count += 1; return true } }
    func leave() { lock.withLock { count -= 1 } }
}
