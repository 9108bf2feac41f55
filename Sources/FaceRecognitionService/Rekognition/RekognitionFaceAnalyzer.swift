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
            let landmarkNames = ["eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight"]
            let landmarks = zip(landmarkNames, face.landmarks).map { Landmark(Type: $0, X: $1.x / w, Y: $1.y / h) }
            let detail = FaceDetail(
                BoundingBox: BoundingBox(Width: (box.x2 - box.x1) / w, Height: (box.y2 - box.y1) / h, Left: box.x1 / w, Top: box.y1 / h),
                Landmarks: landmarks, Pose: FacePoseEstimate.pose(landmarks: face.landmarks),
                Quality: FaceQualityMeasure.quality(of: image, box: box), Confidence: min(100, face.probability * 100))
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

/// Head pose from MTCNN's five landmarks (degrees). An estimate: roll is the eye line's angle;
/// yaw and pitch come from where the nose sits between the eyes and between the eye and mouth
/// lines (±90° at the extremes). Rekognition's model gives finer values.
enum FacePoseEstimate {
    static func pose(landmarks: [FacePoint]) -> Pose {
        guard landmarks.count == 5 else { return Pose(Roll: 0, Yaw: 0, Pitch: 0) }
        let (le, re, nose, ml, mr) = (landmarks[0], landmarks[1], landmarks[2], landmarks[3], landmarks[4])
        let roll = atan2(re.y - le.y, re.x - le.x) * 180 / .pi
        let eyeMid = FacePoint(x: (le.x + re.x) / 2, y: (le.y + re.y) / 2)
        let mouthMid = FacePoint(x: (ml.x + mr.x) / 2, y: (ml.y + mr.y) / 2)
        let eyeSpan = max(hypot(re.x - le.x, re.y - le.y), 1e-3)
        let yawRatio = max(-1, min(1, 2 * (nose.x - eyeMid.x) / eyeSpan))
        let faceHeight = max(mouthMid.y - eyeMid.y, 1e-3)
        // A frontal face's nose tip sits about 55 % of the way from the eye line to the mouth line.
        let pitchRatio = max(-1, min(1, ((nose.y - eyeMid.y) / faceHeight - 0.55) / 0.45))
        return Pose(Roll: roll, Yaw: yawRatio * 90, Pitch: -pitchRatio * 90)
    }
}

/// Brightness and sharpness of a face region, 0–100 (Rekognition's `Quality`).
///
/// Brightness: the mean luma (BT.601) of the box, /255 × 100. Sharpness: the variance `v` of the
/// 4-neighbour Laplacian of the box's luma, mapped to 100 · (1 − e^(−v/1000)) (a flat region
/// scores 0, a crisp face ~100).
enum FaceQualityMeasure {
    static func quality(of image: RGBImage, box: FaceBox) -> ImageQuality {
        let x0 = max(0, Int(box.x1.rounded(.down))), y0 = max(0, Int(box.y1.rounded(.down)))
        let x1 = min(image.width, Int(box.x2.rounded(.up))), y1 = min(image.height, Int(box.y2.rounded(.up)))
        guard x1 - x0 >= 3, y1 - y0 >= 3 else { return ImageQuality(Brightness: 0, Sharpness: 0) }
        let w = x1 - x0, h = y1 - y0
        var luma = [Float](repeating: 0, count: w * h)
        image.pixels.withUnsafeBufferPointer { p in
            for y in 0..<h {
                for x in 0..<w {
                    let i = ((y0 + y) * image.width + (x0 + x)) * 3
                    luma[y * w + x] = 0.299 * Float(p[i]) + 0.587 * Float(p[i + 1]) + 0.114 * Float(p[i + 2])
                }
            }
        }
        let mean = luma.reduce(0, +) / Float(luma.count)
        var sum: Float = 0, sumSquares: Float = 0, n: Float = 0
        for y in 1..<(h - 1) {
            for x in 1..<(w - 1) {
                let c = luma[y * w + x]
                let l = luma[y * w + x - 1] + luma[y * w + x + 1] + luma[(y - 1) * w + x] + luma[(y + 1) * w + x] - 4 * c
                sum += l
                sumSquares += l * l
                n += 1
            }
        }
        let variance = n > 0 ? max(0, sumSquares / n - (sum / n) * (sum / n)) : 0
        return ImageQuality(Brightness: mean / 255 * 100, Sharpness: 100 * (1 - exp(-variance / 1000)))
    }
}
