import Foundation

/// The recognition step the worker runs on each image: the seam between the pipeline and the
/// face-recognition library (which CloudPipeline does not depend on). `FaceRecognitionService` adapts
/// `FaceRecognizer` to it.
public protocol ImageRecognizing: Sendable {
    /// Recognises the image stored under `key`.
    /// - Throws: ``UnprocessableImage`` when the bytes can never be recognised (not an image,
    ///   corrupt, too large); the worker records an error result for it. Any other error is
    ///   treated as transient and the job is retried.
    func recognize(imageData: Data, key: String) async throws -> RecognitionAnswer
}

/// What recognition found in one image.
public struct RecognitionAnswer: Sendable, Hashable, Codable {
    /// The result's label: a gallery name, `NoFace`, `Unknown`, or what a detection-only
    /// service reports. Becomes the result object's body and the `NAME` of `STEM:NAME`.
    public var label: String
    /// Optional JSON with the details (boxes, distances) for richer clients.
    public var detailsJSON: String?

    public init(label: String, detailsJSON: String? = nil) {
        self.label = label
        self.detailsJSON = detailsJSON
    }
}

/// A permanent failure: these bytes will never be recognised, however often the job is retried.
public struct UnprocessableImage: Error, Sendable, Hashable, CustomStringConvertible {
    public let reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { reason }
}
