import Foundation

/// A face found in an image, with its embedding and the closest gallery identity.
///
/// Its JSON form (`Codable`) is the face's (`box`, `prob`, `landmarks`) plus `name`,
/// `distance`, `match`, `candidates` and `embedding`, as `facerec identify --json` prints it.
public struct RecognizedFace: Sendable, Equatable {
    /// Where the face is, as the detector found it.
    public let face: DetectedFace
    /// The face's FaceNet embedding (512 floats, unit length).
    public let embedding: Embedding
    /// The closest gallery entry within the threshold; nil when the gallery is empty or no entry
    /// is close enough ("unknown").
    public let match: Match?
    /// The closest entries regardless of the threshold (up to `topK`), closest first.
    public let candidates: [Match]

    /// A recognized face from its parts.
    public init(face: DetectedFace, embedding: Embedding, match: Match?, candidates: [Match]) {
        self.face = face
        self.embedding = embedding
        self.match = match
        self.candidates = candidates
    }
}

/// A face found in an image and its FaceNet embedding, without a gallery.
public struct EmbeddedFace: Sendable, Equatable {
    /// Where the face is, as the detector found it.
    public let face: DetectedFace
    /// The face's FaceNet embedding (512 floats, unit length).
    public let embedding: Embedding

    /// An embedded face from its parts.
    public init(face: DetectedFace, embedding: Embedding) {
        self.face = face
        self.embedding = embedding
    }
}

/// Why `FaceRecognizer.verify(_:_:threshold:)` could not compare two images.
public enum VerificationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Image 1 or 2 (its position in the call) holds no face the detector finds.
    case noFace(image: Int)

    public var description: String {
        switch self {
        case let .noFace(image): return "image \(image) of the pair holds no face that the detector finds"
        }
    }
}

/// "Who is in this photo?": MTCNN detection → face crop → FaceNet embedding → nearest gallery
/// entry. Defaults follow the course pipeline: MTCNN(image_size 240, margin 0, min_face_size 20),
/// the largest face, Euclidean distance as `torch.dist`, no threshold.
///
/// Safe to share across concurrent tasks: the detector and network are immutable and each
/// forward pass borrows its own workspace.
///
/// Every method has a synchronous form, which computes on the calling thread (and the threads
/// the budget grants it), and an `async` form, which runs the same work on the detector's
/// ``ComputeBudget`` threads so that a server's cooperative threads stay free.
///
/// ```swift
/// let recognizer = try FaceRecognizer(
///     detector: MTCNN(options: MTCNNOptions(keepAll: true)),
///     facenet: FaceNet(),
///     gallery: Gallery.load(contentsOf: URL(fileURLWithPath: "SampleData/data.pt")))
/// let faces = try await recognizer.recognize(ImageDecoder.decode(contentsOf: photoURL))
/// print(faces.map { $0.match?.name ?? FaceRecognizer.unknownLabel })
/// ```
public final class FaceRecognizer: Sendable {
    /// How faces are matched against the gallery.
    public struct Options: Sendable, Equatable {
        /// Distance beyond which a face is "unknown" (nil: always the nearest entry). For the
        /// vggface2 model, ``FaceVerification/defaultThreshold`` (Euclidean 1.1) is a sound
        /// start; ``recommended`` uses it.
        public var threshold: Float?
        /// How distances are measured (Euclidean by default, as `torch.dist`).
        public var metric: MatchMetric
        /// Candidates reported per face (``RecognizedFace/candidates``), at least 1.
        public var topK: Int

        /// The vggface2 model's default threshold (``FaceVerification/defaultThreshold``,
        /// Euclidean 1.1): faces farther than that from every entry are unknown.
        public static let recommended = Options(threshold: FaceVerification.defaultThreshold.value, metric: .euclidean)

        /// Options; the defaults take the nearest entry whatever its distance (the course's
        /// pipeline), by Euclidean distance, one candidate per face.
        public init(threshold: Float? = nil, metric: MatchMetric = .euclidean, topK: Int = 1) {
            self.threshold = threshold
            self.metric = metric
            self.topK = topK
        }
    }

    /// Finds the faces (its options decide whether all of them or the largest one).
    public let detector: MTCNN
    /// Embeds the face crops.
    public let facenet: FaceNet
    /// Searches the gallery.
    public let matcher: GalleryMatcher
    /// Threshold, metric and candidates per face.
    public let options: Options

    /// A recognizer over `gallery` (use an empty gallery, e.g. `Gallery(names: [],
    /// embeddings: [], dimension: FaceNet.embeddingSize)`, to detect and embed only).
    public init(detector: MTCNN, facenet: FaceNet, gallery: Gallery, options: Options = .init()) {
        self.detector = detector
        self.facenet = facenet
        self.matcher = GalleryMatcher(gallery: gallery, metric: options.metric)
        self.options = options
    }

    /// The identities faces are matched against.
    public var gallery: Gallery { matcher.gallery }

    /// Faces of one image (the largest only, unless the detector's options say keepAll).
    public func recognize(_ image: RGBImage) throws -> [RecognizedFace] {
        try recognize(batch: [image])[0]
    }

    /// Faces of many images; every crop of the batch goes through FaceNet in one forward pass.
    public func recognize(batch images: [RGBImage]) throws -> [[RecognizedFace]] {
        var crops: [(image: Int, crop: FaceCrop)] = []
        for (i, image) in images.enumerated() {
            for crop in try detector.extractFaces(image) { crops.append((i, crop)) }
        }
        var results = Array(repeating: [RecognizedFace](), count: images.count)
        guard !crops.isEmpty else { return results }
        let size = detector.options.imageSize
        var input: [Float] = []
        input.reserveCapacity(crops.count * 3 * size * size)
        for item in crops { input.append(contentsOf: item.crop.tensor) }
        let embeddings = try facenet.embed(standardized: input, count: crops.count, height: size, width: size)
        let matches = try matcher.nearest(embeddings, k: max(options.topK, 1))
        for ((item, embedding), candidates) in zip(zip(crops, embeddings), matches) {
            let best = candidates.first.flatMap { m in options.threshold.map { m.distance <= $0 } ?? true ? m : nil }
            results[item.image].append(RecognizedFace(face: item.crop.face, embedding: embedding, match: best,
                                                      candidates: candidates))
        }
        return results
    }
}

extension FaceRecognizer {
    /// The faces of one image, as the detector's options select them.
    public func detect(_ image: RGBImage) throws(MTCNNError) -> [DetectedFace] {
        try detector.detect(image)
    }

    /// The faces of one image with their embeddings, in `detect(_:)` order.
    public func embed(_ image: RGBImage) throws -> [EmbeddedFace] {
        let crops = try detector.extractFaces(image)
        guard !crops.isEmpty else { return [] }
        let size = detector.options.imageSize
        var input: [Float] = []
        input.reserveCapacity(crops.count * 3 * size * size)
        for crop in crops { input.append(contentsOf: crop.tensor) }
        let embeddings = try facenet.embed(standardized: input, count: crops.count, height: size, width: size)
        return zip(crops, embeddings).map { EmbeddedFace(face: $0.face, embedding: $1) }
    }

    /// Whether the first face of each image (the largest, unless the detector's options select
    /// otherwise) is the same person: their distance against `threshold`.
    /// - Throws: ``VerificationError/noFace(image:)`` when an image has no face, or what
    ///   detection and embedding throw.
    public func verify(_ first: RGBImage, _ second: RGBImage,
                       threshold: DistanceThreshold = FaceVerification.defaultThreshold) throws -> Verification {
        guard let a = try embed(first).first else { throw VerificationError.noFace(image: 1) }
        guard let b = try embed(second).first else { throw VerificationError.noFace(image: 2) }
        return FaceVerification.verify(a.embedding, b.embedding, threshold: threshold)
    }
}

// MARK: - Async

extension FaceRecognizer {
    /// The synchronous `recognize(_:)`, computed on the detector's budget threads.
    public func recognize(_ image: RGBImage) async throws -> [RecognizedFace] {
        try await detector.budget.run { try self.recognize(image) }
    }

    /// The faces of many images, each computed on the detector's budget threads in turn.
    /// Cancelling the task stops it between two images (throwing `CancellationError`); the
    /// image being computed finishes first.
    public func recognize(batch images: [RGBImage]) async throws -> [[RecognizedFace]] {
        try await recognize(batch: images, afterEachImage: { _ in })
    }

    /// The same, awaiting `afterEachImage` with the number of images done after each one (for
    /// progress reports, or to pause or cancel between images).
    public func recognize(batch images: [RGBImage],
                          afterEachImage: @Sendable (Int) async -> Void) async throws -> [[RecognizedFace]] {
        var results: [[RecognizedFace]] = []
        results.reserveCapacity(images.count)
        for image in images {
            try Task.checkCancellation()
            results.append(try await detector.budget.run { try self.recognize(image) })
            await afterEachImage(results.count)
        }
        return results
    }

    /// The synchronous `detect(_:)`, computed on the detector's budget threads.
    public func detect(_ image: RGBImage) async throws -> [DetectedFace] {
        try await detector.budget.run { try self.detector.detect(image) }
    }

    /// The synchronous `embed(_:)`, computed on the detector's budget threads.
    public func embed(_ image: RGBImage) async throws -> [EmbeddedFace] {
        try await detector.budget.run { try self.embed(image) }
    }

    /// The synchronous `verify(_:_:threshold:)`, computed on the detector's budget
    /// threads; cancellable between the two images.
    public func verify(_ first: RGBImage, _ second: RGBImage,
                       threshold: DistanceThreshold = FaceVerification.defaultThreshold) async throws -> Verification {
        guard let a = try await embed(first).first else { throw VerificationError.noFace(image: 1) }
        try Task.checkCancellation()
        guard let b = try await embed(second).first else { throw VerificationError.noFace(image: 2) }
        return FaceVerification.verify(a.embedding, b.embedding, threshold: threshold)
    }
}

extension FaceRecognizer {
    /// Label of an image without a face.
    public static let noFaceLabel = "NoFace"
    /// Label of a face farther than the threshold from every gallery entry.
    public static let unknownLabel = "Unknown"

    /// The one-word answer for an image, as the course's `STEM:NAME` lines give it: the first
    /// (largest) face's gallery name, ``unknownLabel`` when it matched nothing within the
    /// threshold, ``noFaceLabel`` when there is no face.
    public static func label(for faces: [RecognizedFace]) -> String {
        guard let face = faces.first else { return noFaceLabel }
        return face.match?.name ?? unknownLabel
    }
}
