import CFaceNet

/// Failures of the neural networks (FaceNet, MTCNN) in CFaceNet.
public enum InferenceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The weights were rejected while building `network`: a tensor is missing, misshapen or not
    /// finite. `message` names the tensor.
    case invalidWeights(network: String, message: String)
    /// The input does not fit the network (size, batch, channel count).
    case invalidInput(network: String, message: String)
    /// An allocation failed.
    case outOfMemory(String)
    /// A forward pass failed for another reason.
    case forwardFailed(network: String, message: String)

    public var description: String {
        switch self {
        case let .invalidWeights(network, message): return "\(network) weights rejected: \(message)"
        case let .invalidInput(network, message): return "\(network) input rejected: \(message)"
        case let .outOfMemory(message): return "out of memory: \(message)"
        case let .forwardFailed(network, message): return "\(network) forward pass failed: \(message)"
        }
    }

    /// Maps a CFaceNet status and its message to an error.
    static func fromForward(_ status: cfn_status, network: String, message: String) -> InferenceError {
        switch status {
        case CFN_ERROR_INVALID_ARGUMENT: return .invalidInput(network: network, message: message)
        case CFN_ERROR_OUT_OF_MEMORY: return .outOfMemory(message)
        default: return .forwardFailed(network: network, message: message)
        }
    }

    static func fromBuild(_ status: cfn_status, network: String, message: String) -> InferenceError {
        status == CFN_ERROR_OUT_OF_MEMORY ? .outOfMemory(message) : .invalidWeights(network: network, message: message)
    }
}
