// FaceRecognition: image decoding, weights loading, MTCNN detection, FaceNet embeddings,
// galleries and matching. The networks run in CFaceNet (C on OpenBLAS).

/// Facts about this package.
public enum FaceRecognitionPackage {
    /// The package's version, as `facerec --version` prints it (the one place it is defined).
    public static let version = "0.1.0"
}
