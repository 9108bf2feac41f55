/// Everything that can go wrong reading or writing weights. Each case names the file (as passed
/// to the loader), and where it applies the byte offset, record or tensor key at fault.
public enum WeightsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be read or written at all.
    case io(file: String, reason: String)
    /// The first bytes match none of the supported formats.
    case unrecognisedFormat(file: String, firstBytes: String)
    /// The input ended before a field that should be at `offset` was complete.
    case truncated(file: String, offset: Int, needed: Int, what: String)
    /// The bytes at `offset` are present but invalid (bad opcode argument, stack underflow,
    /// inconsistent sizes, bad JSON, ...).
    case malformed(file: String, offset: Int, reason: String)
    /// A valid construct this reader deliberately does not support (deflated zip entries,
    /// unknown pickle globals, quantized tensors, ...).
    case unsupported(file: String, offset: Int, what: String)
    /// A record (zip entry, storage key, header field) the format requires is absent.
    case missingRecord(file: String, record: String)
    /// The tensor built from storage `key` is inconsistent with that storage.
    case badTensor(file: String, storage: String, reason: String)
    /// The checkpoint loaded but does not hold a state dict.
    case notAStateDict(file: String, found: String)
    /// `StateDict.require`: no tensor under `key`.
    case missingTensor(key: String)
    /// `StateDict.require`: the tensor has another shape.
    case shapeMismatch(key: String, actual: [Int], expected: [Int])
    /// `StateDict.require(_:count:)`: the tensor has another element count.
    case countMismatch(key: String, actual: Int, expected: Int)
    /// `StateDict.require`: NaN or infinity at flat `index`.
    case nonFinite(key: String, index: Int)
    /// ``WeightsLookup`` found no file for `what` (e.g. "FaceNet weights"); `searched` lists the
    /// paths tried, in order.
    case notFound(what: String, searched: [String])

    public var description: String {
        switch self {
        case let .io(file, reason):
            return "\(file): \(reason)"
        case let .unrecognisedFormat(file, firstBytes):
            return "\(file): not a PyTorch (zip or legacy) or safetensors file (first bytes: \(firstBytes))"
        case let .truncated(file, offset, needed, what):
            return "\(file): truncated at byte \(offset): \(what) needs \(needed) more byte(s)"
        case let .malformed(file, offset, reason):
            return "\(file): malformed at byte \(offset): \(reason)"
        case let .unsupported(file, offset, what):
            return "\(file): unsupported at byte \(offset): \(what)"
        case let .missingRecord(file, record):
            return "\(file): missing \(record)"
        case let .badTensor(file, storage, reason):
            return "\(file): tensor on storage '\(storage)': \(reason)"
        case let .notAStateDict(file, found):
            return "\(file): expected a state dict (a dict of tensors), found \(found)"
        case let .missingTensor(key):
            return "missing tensor '\(key)'"
        case let .shapeMismatch(key, actual, expected):
            return "tensor '\(key)' has shape \(actual), expected \(expected)"
        case let .countMismatch(key, actual, expected):
            return "tensor '\(key)' has \(actual) elements, expected \(expected)"
        case let .nonFinite(key, index):
            return "tensor '\(key)' holds non-finite values (first at flat index \(index))"
        case let .notFound(what, searched):
            return "\(what) not found; looked in " + searched.joined(separator: ", ")
        }
    }
}
