import CloudPipeline
import Dispatch
import FaceRecognition
import Foundation

/// The face-recognition library behind the pipeline's ``ImageRecognizing`` seam, used by the
/// workers (queued jobs) and by the upload API (`POST /v1/recognize`, upload validation).
///
/// Two modes: **identify** (MTCNN → FaceNet → gallery, the same ``FaceRecognizer`` and labels as
/// `facerec identify`) and **detection only**, for machines without the FaceNet weights: faces
/// are found and reported, and the label says that nobody was identified; a name is never
/// invented.
///
/// The networks are CPU-bound and synchronous, so they run on a private dispatch queue, never on
/// Swift's cooperative pool (whose threads must stay free for I/O, lease renewals and HTTP), at
/// most ``maxConcurrentAnalyses`` at a time.
public final class FaceRecognitionEngine: ImageRecognizing {
    public enum Mode: Sendable {
        case identify(FaceRecognizer)
        case detectionOnly(MTCNN)
    }

    /// Label of an image whose faces were found but not identified (detection-only mode).
    public static let unidentifiedLabel = "Unidentified"

    public let mode: Mode
    public let maxConcurrentAnalyses: Int
    public let decodeOptions: DecodeOptions
    private let queue = DispatchQueue(label: "facerec.engine", attributes: .concurrent)
    private let limiter: AsyncLimiter

    public init(mode: Mode, maxConcurrentAnalyses: Int = ProcessInfo.processInfo.activeProcessorCount,
                decodeOptions: DecodeOptions = .init()) {
        self.mode = mode
        self.maxConcurrentAnalyses = max(1, maxConcurrentAnalyses)
        self.decodeOptions = decodeOptions
        self.limiter = AsyncLimiter(limit: max(1, maxConcurrentAnalyses))
    }

    public var identifies: Bool {
        if case .identify = mode { return true }
        return false
    }

    // MARK: ImageRecognizing

    public func recognize(imageData: Data, key: String) async throws -> RecognitionAnswer {
        let analysis = try await analyze(imageData)
        return RecognitionAnswer(label: analysis.label, detailsJSON: analysis.jsonString())
    }

    /// Decodes and analyses an image.
    /// - Throws: ``UnprocessableImage`` when the bytes are not a decodable image; the library's
    ///   errors otherwise.
    public func analyze(_ data: Data) async throws -> ImageAnalysis {
        try await offload { [mode, decodeOptions] in
            let image: RGBImage
            do {
                image = try ImageDecoder.decode(data, options: decodeOptions)
            } catch {
                throw UnprocessableImage(reason: "not a decodable image: \(error)")
            }
            return try Self.analyze(image, mode: mode)
        }
    }

    /// Checks that `data` decodes as an image (the upload API's 415 check), off the cooperative pool.
    public func validateImage(_ data: Data) async throws -> (width: Int, height: Int) {
        try await offload { [decodeOptions] in
            do {
                let image = try ImageDecoder.decode(data, options: decodeOptions)
                return (image.width, image.height)
            } catch {
                throw UnprocessableImage(reason: "not a decodable image: \(error)")
            }
        }
    }

    static func analyze(_ image: RGBImage, mode: Mode) throws -> ImageAnalysis {
        switch mode {
        case .identify(let recognizer):
            let faces = try recognizer.recognize(image)
            return ImageAnalysis(
                label: FaceRecognizer.label(for: faces), identified: true, width: image.width, height: image.height,
                faces: faces.map { face in
                    FaceReport(box: face.face.box.array, probability: face.face.probability,
                               name: face.match?.name ?? FaceRecognizer.unknownLabel, distance: face.candidates.first?.distance)
                })
        case .detectionOnly(let detector):
            let faces = try detector.detect(image)
            return ImageAnalysis(
                label: faces.isEmpty ? FaceRecognizer.noFaceLabel : unidentifiedLabel, identified: false,
                width: image.width, height: image.height,
                faces: faces.map { FaceReport(box: $0.box.array, probability: $0.probability, name: nil, distance: nil) })
        }
    }

    private func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await limiter.run {
            try await withCheckedThrowingContinuation { continuation in
                queue.async { continuation.resume(with: Result { try work() }) }
            }
        }
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

/// One face of an ``ImageAnalysis``.
public struct FaceReport: Sendable, Codable, Equatable {
    /// x1, y1, x2, y2 in pixels of the (EXIF-oriented) image.
    public var box: [Float]
    public var probability: Float
    /// Gallery name or `Unknown`; nil when not identified.
    public var name: String?
    /// Distance to the nearest gallery entry.
    public var distance: Float?
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
