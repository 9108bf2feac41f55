import FaceRecognition

/// Rekognition's 0–100 `Similarity` from the Euclidean distance between two unit FaceNet
/// embeddings (0 … 2), by one monotone, piecewise-linear map anchored at the library's default
/// verification threshold (`FaceVerification.defaultThreshold`, 1.1):
///
/// | distance d | similarity |
/// |---|---|
/// | 0 | 100 |
/// | 0 … 1.1 | 100 − 20 · d / 1.1 |
/// | 1.1 (the verification threshold) | 80 (Rekognition's default `FaceMatchThreshold`) |
/// | 1.1 … 2 | 80 · (2 − d) / 0.9 |
/// | ≥ 2 | 0 |
///
/// So "similarity ≥ 80" means exactly "the same person at the default threshold", and the
/// thresholds an application passes (`FaceMatchThreshold`, `SimilarityThreshold`,
/// `UserMatchThreshold`) convert back to a distance with ``distance(forSimilarity:)``.
public enum SimilarityMapping {
    /// The distance that maps to 80.
    public static let anchorDistance: Float = FaceVerification.defaultThreshold(for: .euclidean).value
    public static let anchorSimilarity: Float = 80
    public static let maximumDistance: Float = 2

    public static func similarity(forDistance distance: Float) -> Float {
        let d = min(max(distance, 0), maximumDistance)
        if d <= anchorDistance { return 100 - (100 - anchorSimilarity) * d / anchorDistance }
        return anchorSimilarity * (maximumDistance - d) / (maximumDistance - anchorDistance)
    }

    /// The largest distance whose similarity is at least `similarity` (the inverse map).
    public static func distance(forSimilarity similarity: Float) -> Float {
        let s = min(max(similarity, 0), 100)
        if s >= anchorSimilarity { return (100 - s) * anchorDistance / (100 - anchorSimilarity) }
        return maximumDistance - s * (maximumDistance - anchorDistance) / anchorSimilarity
    }
}
