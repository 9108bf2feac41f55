import CImageIO
import Foundation

/// ``RGBImage`` → file bytes (for the CLI's crops and annotated outputs).
public enum ImageEncoder {
    /// An 8-bit truecolour, non-interlaced PNG of the image.
    public static func png(_ image: RGBImage) throws(ImageDecodingError) -> Data {
        guard image.width > 0, image.height > 0 else {
            throw .invalidDimensions(width: image.width, height: image.height,
                                     reason: "PNG cannot hold an empty image")
        }
        guard image.width <= Int(Int32.max), image.height <= Int(Int32.max) else {
            throw .invalidDimensions(width: image.width, height: image.height, reason: "over PNG's 2^31-1 limit")
        }
        var output: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: Int(CIO_MESSAGE_SIZE))
        let status = image.pixels.withUnsafeBufferPointer { pixels in
            cio_encode_png_rgb8(pixels.baseAddress, Int32(image.width), Int32(image.height),
                                &output, &size, &message)
        }
        defer { cio_free(output) }
        guard status == CIO_OK, let output else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw .encodingFailed(text.isEmpty ? "status \(status.rawValue)" : text)
        }
        return Data(bytes: output, count: size)
    }
}
