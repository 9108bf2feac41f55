/// The EXIF Orientation tag (0x0112): how the stored pixels must be transformed to display
/// upright. Raw values as in the TIFF/EXIF specification.
public enum EXIFOrientation: Int, Sendable, CaseIterable {
    case up = 1                 // as stored
    case upMirrored = 2         // flip left-right
    case down = 3               // rotate 180°
    case downMirrored = 4       // flip top-bottom
    case leftMirrored = 5       // transpose (swap x and y)
    case right = 6              // rotate 90° clockwise to display
    case rightMirrored = 7      // transverse
    case left = 8               // rotate 90° counter-clockwise to display

    /// Whether displaying swaps width and height.
    public var swapsDimensions: Bool { rawValue >= 5 }
}

extension RGBImage {
    /// The image as it should be displayed for `orientation`, matching PIL's
    /// `ImageOps.exif_transpose` (2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM,
    /// 5 TRANSPOSE, 6 ROTATE_270, 7 TRANSVERSE, 8 ROTATE_90).
    public func oriented(_ orientation: EXIFOrientation) -> RGBImage {
        if orientation == .up || width == 0 || height == 0 { return self }
        let outWidth = orientation.swapsDimensions ? height : width
        let outHeight = orientation.swapsDimensions ? width : height
        var out = [UInt8](repeating: 0, count: pixels.count)
        let w = width, h = height
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for oy in 0..<outHeight {
                    for ox in 0..<outWidth {
                        // Source pixel that lands at (ox, oy).
                        let sx: Int, sy: Int
                        switch orientation {
                        case .up: (sx, sy) = (ox, oy)
                        case .upMirrored: (sx, sy) = (w - 1 - ox, oy)
                        case .down: (sx, sy) = (w - 1 - ox, h - 1 - oy)
                        case .downMirrored: (sx, sy) = (ox, h - 1 - oy)
                        case .leftMirrored: (sx, sy) = (oy, ox)
                        case .right: (sx, sy) = (oy, h - 1 - ox)
                        case .rightMirrored: (sx, sy) = (w - 1 - oy, h - 1 - ox)
                        case .left: (sx, sy) = (w - 1 - oy, ox)
                        }
                        let s = (sy * w + sx) * 3, d = (oy * outWidth + ox) * 3
                        dst[d] = src[s]
                        dst[d + 1] = src[s + 1]
                        dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
        return RGBImage(uncheckedWidth: outWidth, height: outHeight, pixels: out)
    }
}
