import Foundation

/// A distance limit under one metric: two embeddings closer than `value` are the same person.
///
/// JSON: `{"value": 1.1, "metric": "euclidean"}`.
public struct DistanceThreshold: Sendable, Equatable {
    /// The largest distance that still counts as the same person.
    public var value: Float
    /// The metric `value` is measured in.
    public var metric: MatchMetric

    /// A limit of `value` under `metric`.
    public init(_ value: Float, metric: MatchMetric) {
        self.value = value
        self.metric = metric
    }

    /// The same limit under `other`, for unit-length embeddings (FaceNet's): there the squared
    /// Euclidean distance is twice the cosine distance, e² = 2 (1 − cos), so the conversion is exact.
    public func converted(to other: MatchMetric) -> DistanceThreshold {
        switch (metric, other) {
        case (.euclidean, .cosine): return DistanceThreshold(value * value / 2, metric: .cosine)
        case (.cosine, .euclidean): return DistanceThreshold((2 * max(value, 0)).squareRoot(), metric: .euclidean)
        default: return self
        }
    }
}

/// The answer to "are these two faces the same person?".
///
/// JSON: `{"verified": true, "distance": 0.83, "threshold": 1.1, "metric": "euclidean"}`.
public struct Verification: Sendable, Equatable {
    /// Distance between the two embeddings under `metric` (smaller is closer).
    public let distance: Float
    /// The limit it was compared with.
    public let threshold: Float
    /// The metric of `distance` and `threshold`.
    public let metric: MatchMetric
    /// `distance <= threshold`.
    public var isMatch: Bool { distance <= threshold }
}

/// Face verification (one face against another) with the vggface2 model's default threshold, as
/// `DeepFace.verify` and `face_recognition.compare_faces` do it.
///
/// ```swift
/// let result = FaceVerification.verify(embeddingA, embeddingB)   // Euclidean, threshold 1.1
/// print(result.isMatch, result.distance)
/// ```
public enum FaceVerification {
    /// The default limit: Euclidean distance 1.1 between L2-normalised embeddings of
    /// facenet-pytorch's `InceptionResnetV1(pretrained='vggface2')` (David Sandberg's
    /// 20180402-114759 checkpoint).
    ///
    /// Where it comes from: neither facenet-pytorch nor Sandberg's facenet publishes a fixed
    /// threshold for this checkpoint. Sandberg's `validate_on_lfw.py` reports LFW accuracy
    /// 0.99650 with the threshold chosen per fold by 10-fold cross-validation (a sweep of squared
    /// Euclidean distances over 0…4); 1.1 on the (unsquared) distance, i.e. 1.21 squared, is the
    /// operating point commonly quoted for it. It has not been re-measured here (the real weights
    /// are not on this machine): measure your own with `facerec evaluate` and pass `--threshold`,
    /// or store one in a gallery (`facerec enroll --threshold`).
    public static let defaultThreshold = DistanceThreshold(1.1, metric: .euclidean)

    /// ``defaultThreshold`` under `metric` (cosine: 1.1² / 2 = 0.605, the same limit for unit
    /// embeddings).
    public static func defaultThreshold(for metric: MatchMetric) -> DistanceThreshold {
        defaultThreshold.converted(to: metric)
    }

    /// The distance between two embeddings, exactly as ``GalleryMatcher`` reports it: Euclidean
    /// √Σ(a − b)² (the course's `torch.dist`) or cosine 1 − a·b / (‖a‖ ‖b‖).
    /// - Precondition: `a.count == b.count`.
    public static func distance(_ a: Embedding, _ b: Embedding, metric: MatchMetric = .euclidean) -> Float {
        precondition(a.count == b.count, "embeddings of different lengths (\(a.count) and \(b.count))")
        switch metric {
        case .euclidean:
            var sum: Float = 0
            for (x, y) in zip(a, b) { sum += (x - y) * (x - y) }
            return sum.squareRoot()
        case .cosine:
            var dot: Float = 0, aa: Float = 0, bb: Float = 0
            for (x, y) in zip(a, b) { dot += x * y; aa += x * x; bb += y * y }
            return 1 - dot / max((aa * bb).squareRoot(), 1e-12)
        }
    }

    /// Whether `a` and `b` are the same person: their distance under `threshold.metric` against
    /// `threshold.value` (default: ``defaultThreshold``).
    public static func verify(_ a: Embedding, _ b: Embedding,
                              threshold: DistanceThreshold = defaultThreshold) -> Verification {
        Verification(distance: distance(a, b, metric: threshold.metric), threshold: threshold.value,
                     metric: threshold.metric)
    }
}
