import CImageIO
import Foundation

/// How ``ImageDecoder`` treats metadata and size.
public struct DecodeOptions: Sendable, Equatable {
    /// Rotate/flip by the EXIF Orientation tag (JPEG APP1 or PNG eXIf). PIL's `Image.open` and
    /// facenet-pytorch ignore it, so pass `false` for bit-parity with them.
    public var applyEXIFOrientation: Bool = true
    /// Largest `width * height` accepted, checked against the header before any pixel buffer is
    /// allocated (decompression bombs). PIL's own warning threshold is ~89M; 50M is 150 MB RGB.
    /// Zero or less removes the limit: only for trusted input.
    public var maxPixels: Int = 50_000_000

    /// Options; by default the EXIF orientation is applied and images over 50 MP are refused.
    public init(applyEXIFOrientation: Bool = true, maxPixels: Int = 50_000_000) {
        self.applyEXIFOrientation = applyEXIFOrientation
        self.maxPixels = maxPixels
    }
}

/// The container formats ``ImageDecoder`` recognises by their magic bytes.
public enum ImageFormat: String, Sendable {
    case jpeg, png

    /// Sniffs the format from the leading bytes; `nil` when neither signature matches.
    public static func sniff(_ data: Data) -> ImageFormat? {
        let format = data.withUnsafeBytes { raw -> cio_format in
            cio_sniff(raw.bindMemory(to: UInt8.self).baseAddress, raw.count)
        }
        switch format {
        case CIO_FORMAT_JPEG: return .jpeg
        case CIO_FORMAT_PNG: return .png
        default: return nil
        }
    }
}

/// JPEG/PNG bytes → ``RGBImage``, with the pixels PIL's `Image.open(f).convert("RGB")` gives
/// (see `Sources/CImageIO` for the per-mode rules), then the EXIF orientation if enabled.
public enum ImageDecoder {
    /// Decodes JPEG or PNG data. Throws ``ImageDecodingError`` for empty, unknown, truncated,
    /// corrupt or oversized input; never traps on bad bytes.
    public static func decode(_ data: Data, options: DecodeOptions = .init()) throws(ImageDecodingError) -> RGBImage {
        let decoded = try decodeWithMetadata(data, options: options)
        return decoded.image
    }

    /// Reads and decodes a file; errors are tagged with its path.
    public static func decode(contentsOf url: URL, options: DecodeOptions = .init()) throws(ImageDecodingError) -> RGBImage {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw .unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        do {
            return try decode(data, options: options)
        } catch {
            throw .inFile(path: url.path, error)
        }
    }

    /// What a decode found besides the pixels.
    public struct Decoded: Sendable {
        /// The final image (orientation applied if requested).
        public var image: RGBImage
        /// What the bytes were.
    public var format: ImageFormat
        /// The EXIF Orientation tag (1–8) if present and valid, whether or not it was applied.
        public var exifOrientation: EXIFOrientation?
    }

    /// Decodes and also reports the format and the EXIF orientation found.
    public static func decodeWithMetadata(_ data: Data, options: DecodeOptions = .init()) throws(ImageDecodingError) -> Decoded {
        guard !data.isEmpty else { throw .empty }
        guard let format = ImageFormat.sniff(data) else {
            throw .unknownFormat(leadingBytes: Array(data.prefix(8)))
        }
        let limit = options.maxPixels
        var raw = cio_image()
        let status = data.withUnsafeBytes { bytes -> cio_status in
            let base = bytes.bindMemory(to: UInt8.self).baseAddress
            return cio_decode(base, bytes.count, Int64(limit), &raw)
        }
        defer { cio_image_free(&raw) }
        guard status == CIO_OK else {
            let message = withUnsafeBytes(of: raw.message) { buffer in
                String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
            }
            switch status {
            case CIO_ERR_EMPTY: throw .empty
            case CIO_ERR_TRUNCATED: throw .truncated(message)
            case CIO_ERR_TOO_LARGE:
                throw .tooLarge(width: Int(raw.declared_width), height: Int(raw.declared_height), limit: limit)
            case CIO_ERR_NO_MEMORY: throw .outOfMemory(message)
            case CIO_ERR_UNSUPPORTED: throw .unsupported(message)
            case CIO_ERR_UNKNOWN_FORMAT: throw .unknownFormat(leadingBytes: Array(data.prefix(8)))
            default: throw .corrupt(message)
            }
        }
        let width = Int(raw.width), height = Int(raw.height)
        let count = width * height * 3
        guard let source = raw.pixels else { throw .corrupt("decoder returned no pixels") }
        let pixels = [UInt8](UnsafeBufferPointer(start: source, count: count))
        var image = RGBImage(uncheckedWidth: width, height: height, pixels: pixels)

        var orientation: EXIFOrientation?
        if let exif = raw.exif, raw.exif_size > 0 {
            orientation = EXIFParser.orientation(in: UnsafeRawBufferPointer(start: exif, count: raw.exif_size))
        }
        if options.applyEXIFOrientation, let orientation {
            image = image.oriented(orientation)
        }
        return Decoded(image: image, format: format, exifOrientation: orientation)
    }
}
