/// 8-bit interleaved RGB, row-major, no padding: the one image type every stage exchanges.
public struct RGBImage: Sendable, Equatable {
    /// Columns of pixels.
    public let width: Int
    /// Rows of pixels.
    public let height: Int
    /// `width * height * 3` bytes: R, G, B of pixel (0,0), then (1,0), … row by row.
    public var pixels: [UInt8]

    /// Wraps existing pixels, checking that there are exactly `width * height * 3` of them.
    /// Zero-sized images are allowed (PIL's crop can produce them); negative sizes are not.
    public init(width: Int, height: Int, pixels: [UInt8]) throws(ImageDecodingError) {
        guard width >= 0, height >= 0 else {
            throw .invalidDimensions(width: width, height: height, reason: "negative size")
        }
        let (area, overflow1) = width.multipliedReportingOverflow(by: height)
        let (count, overflow2) = area.multipliedReportingOverflow(by: 3)
        guard !overflow1, !overflow2 else {
            throw .invalidDimensions(width: width, height: height, reason: "size overflows Int")
        }
        guard pixels.count == count else {
            throw .invalidDimensions(
                width: width, height: height,
                reason: "pixel buffer has \(pixels.count) bytes, expected \(count)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// For code in this module that has already established the invariant.
    init(uncheckedWidth width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGBImage invariant broken")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A black image (PIL's `Image.new("RGB", size)`).
    public init(width: Int, height: Int) throws(ImageDecodingError) {
        guard width >= 0, height >= 0,
              !width.multipliedReportingOverflow(by: height).overflow,
              !(width * height).multipliedReportingOverflow(by: 3).overflow
        else {
            throw .invalidDimensions(width: width, height: height, reason: "negative or overflowing size")
        }
        self.init(uncheckedWidth: width, height: height,
                  pixels: [UInt8](repeating: 0, count: width * height * 3))
    }

    /// The pixel at column `x`, row `y`. Traps when out of bounds, like an array index.
    public subscript(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        precondition(x >= 0 && x < width && y >= 0 && y < height,
                     "pixel (\(x), \(y)) outside \(width)x\(height)")
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }
}
