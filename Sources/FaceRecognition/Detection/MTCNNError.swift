/// Why ``MTCNN`` could not be built or could not run. Descriptions name the file, tensor,
/// option or stage at fault.
public enum MTCNNError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A weights file is missing; the description says how to fetch it.
    case weightsNotFound(file: String)
    /// No folder of the search path holds `pnet.pt`, `rnet.pt` and `onet.pt`
    /// (``WeightsLookup``); `searched` lists the folders tried, in order.
    case weightsNotFoundInSearchPath(searched: [String])
    /// A weights file exists but could not be loaded.
    case weightsUnreadable(file: String, reason: String)
    /// The C builder rejected the tensors of `net` (missing key, wrong shape, non-finite value).
    case invalidWeights(net: String, reason: String)
    /// An option is out of range.
    case invalidOption(field: String, reason: String)
    /// A forward pass failed (out of memory, invalid size).
    case inference(stage: String, reason: String)
    /// The image has no pixels.
    case emptyImage(width: Int, height: Int)

    public var description: String {
        switch self {
        case let .weightsNotFound(file):
            return "MTCNN weights not found: \(file) does not exist. The detector needs pnet.pt, rnet.pt "
                + "and onet.pt in one folder (weights/fetch_mtcnn_weights.sh copies them from the "
                + "facenet-pytorch wheel)."
        case let .weightsNotFoundInSearchPath(searched):
            return "MTCNN weights not found: no folder holds pnet.pt, rnet.pt and onet.pt; looked in "
                + searched.joined(separator: ", ") + ". Set \(WeightsLookup.mtcnnEnvironmentVariable) to "
                + "the folder that holds them, or put them in one of these (weights/fetch_mtcnn_weights.sh "
                + "copies them from the facenet-pytorch wheel)."
        case let .weightsUnreadable(file, reason):
            return "cannot load MTCNN weights \(file): \(reason)"
        case let .invalidWeights(net, reason):
            return "\(net) weights are invalid: \(reason)"
        case let .invalidOption(field, reason):
            return "invalid MTCNN option \(field): \(reason)"
        case let .inference(stage, reason):
            return "MTCNN \(stage) failed: \(reason)"
        case let .emptyImage(width, height):
            return "cannot detect faces in an empty \(width)x\(height) image"
        }
    }
}
