import Foundation

/// How ``MTCNN`` picks the face it returns when ``MTCNNOptions/keepAll`` is false
/// (facenet-pytorch's `selection_method`).
public enum FaceSelectionMethod: String, Sendable, CaseIterable {
    /// The highest detection probability.
    case probability
    /// The largest box.
    case largest
    /// The largest box among those with probability above 0.9.
    case largestOverThreshold = "largest_over_threshold"
    /// Box area minus 2 × the squared distance of its centre from the image centre.
    case centerWeightedSize = "center_weighted_size"
}

/// The parameters of facenet-pytorch's `MTCNN(...)`, with its defaults except `imageSize`
/// (240, the size the recognition pipeline uses).
public struct MTCNNOptions: Sendable, Equatable {
    /// Smallest face, in pixels, the image pyramid searches for.
    public var minFaceSize: Double = 20
    /// P-Net, R-Net and O-Net probability thresholds.
    public var thresholds: (pnet: Float, rnet: Float, onet: Float) = (0.6, 0.7, 0.7)
    /// Scale step of the image pyramid.
    public var factor: Double = 0.709
    /// Order faces largest first (otherwise most probable first) and select the largest.
    public var selectLargest: Bool = true
    /// Overrides `selectLargest` for the choice of the single face when set.
    public var selectionMethod: FaceSelectionMethod? = nil
    /// Return every face instead of the selected one.
    public var keepAll: Bool = false
    /// Side of the square face crop.
    public var imageSize: Int = 240
    /// Margin added around the box, in pixels of the final crop.
    public var margin: Int = 0
    /// Standardise crops as (x − 127.5) / 128 (`fixed_image_standardization`).
    public var postProcess: Bool = true
    /// Threads one detection may use (the pyramid's rows and the crops are split between them):
    /// 0 picks one per active core, at most 4. The detector's ``ComputeBudget`` grants at most
    /// what is free, so concurrent detections share its threads. Results do not depend on it.
    public var threads: Int = 0
    /// When the image as given has no face, look again in it turned 90°, 180° and 270°
    /// clockwise, and report the faces of the turn whose best face is the most probable (with their
    /// ``DetectedFace/orientation``, boxes and landmarks mapped back to the image as given,
    /// crops taken upright). For photos from phones that stored them sideways without EXIF.
    /// Off by default, as in facenet-pytorch.
    public var tryRotations: Bool = false

    /// Options with facenet-pytorch's defaults, except `imageSize` 240; see each property.
    public init(minFaceSize: Double = 20, thresholds: (pnet: Float, rnet: Float, onet: Float) = (0.6, 0.7, 0.7),
                factor: Double = 0.709, selectLargest: Bool = true,
                selectionMethod: FaceSelectionMethod? = nil, keepAll: Bool = false,
                imageSize: Int = 240, margin: Int = 0, postProcess: Bool = true, threads: Int = 0,
                tryRotations: Bool = false) {
        self.minFaceSize = minFaceSize
        self.thresholds = thresholds
        self.factor = factor
        self.selectLargest = selectLargest
        self.selectionMethod = selectionMethod
        self.keepAll = keepAll
        self.imageSize = imageSize
        self.margin = margin
        self.postProcess = postProcess
        self.threads = threads
        self.tryRotations = tryRotations
    }

    /// `threads`, with 0 resolved to the active core count (at most 4).
    var effectiveThreads: Int {
        threads > 0 ? threads : max(1, min(ProcessInfo.processInfo.activeProcessorCount, 4))
    }

    /// The method used for the single face: `selectionMethod`, else largest or probability.
    public var effectiveSelectionMethod: FaceSelectionMethod {
        selectionMethod ?? (selectLargest ? .largest : .probability)
    }

    /// Equal when every option is (the thresholds compared one by one).
    public static func == (lhs: MTCNNOptions, rhs: MTCNNOptions) -> Bool {
        lhs.minFaceSize == rhs.minFaceSize && lhs.thresholds == rhs.thresholds
            && lhs.factor == rhs.factor && lhs.selectLargest == rhs.selectLargest
            && lhs.selectionMethod == rhs.selectionMethod && lhs.keepAll == rhs.keepAll
            && lhs.imageSize == rhs.imageSize && lhs.margin == rhs.margin
            && lhs.postProcess == rhs.postProcess && lhs.threads == rhs.threads
            && lhs.tryRotations == rhs.tryRotations
    }

    /// Throws when a value would make the pyramid infinite or the crop meaningless.
    func validate() throws(MTCNNError) {
        guard minFaceSize.isFinite, minFaceSize > 0 else {
            throw .invalidOption(field: "minFaceSize", reason: "must be a positive number, got \(minFaceSize)")
        }
        guard factor.isFinite, factor > 0, factor < 1 else {
            throw .invalidOption(field: "factor", reason: "must lie in (0, 1), got \(factor)")
        }
        for (name, t) in [("thresholds.pnet", thresholds.pnet), ("thresholds.rnet", thresholds.rnet),
                          ("thresholds.onet", thresholds.onet)] where !t.isFinite {
            throw .invalidOption(field: name, reason: "must be finite, got \(t)")
        }
        guard imageSize > 0, imageSize <= 4096 else {
            throw .invalidOption(field: "imageSize", reason: "must lie in 1...4096, got \(imageSize)")
        }
        guard margin >= 0, margin < imageSize else {
            throw .invalidOption(field: "margin", reason: "must lie in 0..<imageSize, got \(margin)")
        }
        guard threads >= 0, threads <= 64 else {
            throw .invalidOption(field: "threads", reason: "must lie in 0...64, got \(threads)")
        }
    }
}
