import Foundation

/// A face found in an image, with its embedding and the closest gallery identity.
public struct RecognizedFace: Sendable, Equatable {
    public let face: DetectedFace
    public let embedding: Embedding
    /// The closest gallery entry within the threshold; nil when the gallery is empty or no entry
    /// is close enough ("unknown").
    public let match: Match?
    /// The closest entries regardless of the threshold (up to `topK`), closest first.
    public let candidates: [Match]
}

/// "Who is in this photo?": MTCNN detection → face crop → FaceNet embedding → nearest gallery
/// entry. Defaults follow the course pipeline: MTCNN(image_size 240, margin 0, min_face_size 20),
/// the largest face, Euclidean distance as `torch.dist`, no threshold.
///
/// Safe to share across concurrent tasks: the detector and network are immutable and each
/// forward pass borrows its own workspace.
///
/// ```swift
/// let recognizer = try FaceRecognizer(
///     detector: MTCNN(weightsDirectory: URL(fileURLWithPath: "weights")),
///     facenet: FaceNet(contentsOf: URL(fileURLWithPath: "weights/20180402-114759-vggface2.pt")),
///     gallery: Gallery.load(contentsOf: URL(fileURLWithPath: "../shared/data/data.pt")))
/// let faces = try recognizer.recognize(ImageDecoder.decode(contentsOf: photoURL))
/// print(faces.first?.match?.name ?? "unknown")
/// ```
public final class FaceRecognizer: Sendable {
    public struct Options: Sendable, Equatable {
        /// Distance beyond which a face is "unknown" (nil: always the nearest entry).
        public var threshold: Float?
        public var metric: MatchMetric
        /// Candidates reported per face.
        public var topK: Int
        public init(threshold: Float? = nil, metric: MatchMetric = .euclidean, topK: Int = 1) {
            self.threshold = threshold
            self.metric = metric
            self.topK = topK
        }
    }

    public let detector: MTCNN
    public let facenet: FaceNet
    public let matcher: GalleryMatcher
    public let options: Options

    public init(detector: MTCNN, facenet: FaceNet, gallery: Gallery, options: Options = .init()) {
        self.detector = detector
        self.facenet = facenet
        self.matcher = GalleryMatcher(gallery: gallery, metric: options.metric)
        self.options = options
    }

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
