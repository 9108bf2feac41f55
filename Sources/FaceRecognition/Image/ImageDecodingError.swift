/// Why bytes could not become an ``RGBImage`` (or an image could not be encoded). Each
/// description names the offending file, field or offset where it is known.
public enum ImageDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Zero bytes of input.
    case empty
    /// The first bytes are neither a JPEG (FF D8 FF) nor a PNG signature.
    case unknownFormat(leadingBytes: [UInt8])
    /// The data stops before the image is complete (detail names where).
    case truncated(String)
    /// The codec rejected the data (libjpeg/libpng's message).
    case corrupt(String)
    /// The header declares more pixels than ``DecodeOptions/maxPixels``; nothing was allocated.
    case tooLarge(width: Int, height: Int, limit: Int)
    /// Valid, but a variant this decoder does not handle (e.g. a 2-component JPEG).
    case unsupported(String)
    /// Allocation failed for a legitimately sized image.
    case outOfMemory(String)
    /// A size or buffer that does not describe an image.
    case invalidDimensions(width: Int, height: Int, reason: String)
    /// The file could not be read at all.
    case unreadableFile(path: String, reason: String)
    /// A decoding error, tagged with the file it came from.
    indirect case inFile(path: String, ImageDecodingError)
    /// The PNG encoder failed.
    case encodingFailed(String)

    public var description: String {
        switch self {
        case .empty: return "image data is empty"
        case .unknownFormat(let bytes):
            let hex = bytes.map { String($0, radix: 16, uppercase: true) }
                .map { $0.count == 1 ? "0" + $0 : $0 }.joined(separator: " ")
            return "unknown image format: leading bytes [\(hex)] are neither JPEG nor PNG"
        case .truncated(let detail): return "truncated image: \(detail)"
        case .corrupt(let detail): return "corrupt image: \(detail)"
        case .tooLarge(let w, let h, let limit):
            return "image is \(w)x\(h) = \(w * h) pixels, over the limit of \(limit)"
        case .unsupported(let detail): return "unsupported image: \(detail)"
        case .outOfMemory(let detail): return "out of memory: \(detail)"
        case .invalidDimensions(let w, let h, let reason):
            return "invalid image dimensions \(w)x\(h): \(reason)"
        case .unreadableFile(let path, let reason): return "cannot read \(path): \(reason)"
        case .inFile(let path, let error): return "\(path): \(error)"
        case .encodingFailed(let detail): return "PNG encoding failed: \(detail)"
        }
    }

    /// The error without its file tag, for matching on the cause.
    public var cause: ImageDecodingError {
        if case .inFile(_, let inner) = self { return inner.cause }
        return self
    }
}
