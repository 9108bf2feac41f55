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
        let w = width, h = height
        // Source (sx, sy) = (ax + bx*ox + cx*oy, ay + by*ox + cy*oy) for output (ox, oy), so
        // the source pixel index is start + ox*stepX + oy*stepY: no per-pixel branching.
        let (ax, bx, cx, ay, by, cy): (Int, Int, Int, Int, Int, Int)
        switch orientation {
        case .up: (ax, bx, cx, ay, by, cy) = (0, 1, 0, 0, 0, 1)
        case .upMirrored: (ax, bx, cx, ay, by, cy) = (w - 1, -1, 0, 0, 0, 1)
        case .down: (ax, bx, cx, ay, by, cy) = (w - 1, -1, 0, h - 1, 0, -1)
        case .downMirrored: (ax, bx, cx, ay, by, cy) = (0, 1, 0, h - 1, 0, -1)
        case .leftMirrored: (ax, bx, cx, ay, by, cy) = (0, 0, 1, 0, 1, 0)
        case .right: (ax, bx, cx, ay, by, cy) = (0, 0, 1, h - 1, -1, 0)
        case .rightMirrored: (ax, bx, cx, ay, by, cy) = (w - 1, 0, -1, h - 1, -1, 0)
        case .left: (ax, bx, cx, ay, by, cy) = (w - 1, 0, -1, 0, 1, 0)
        }
        let start = ay * w + ax, stepX = by * w + bx, stepY = cy * w + cx
        // Rotations read the source down columns; 64x64 tiles keep those reads in cache.
        let tile = 64
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { srcBuffer in
            out.withUnsafeMutableBufferPointer { dstBuffer in
                guard let src = srcBuffer.baseAddress, let dst = dstBuffer.baseAddress else { return }
                for ty in stride(from: 0, to: outHeight, by: tile) {
                    for tx in stride(from: 0, to: outWidth, by: tile) {
                        for oy in ty..<min(ty + tile, outHeight) {
                            var s = start + tx * stepX + oy * stepY
                            var d = (oy * outWidth + tx) * 3
                            for _ in tx..<min(tx + tile, outWidth) {
                                dst[d] = src[3 * s]
                                dst[d + 1] = src[3 * s + 1]
                                dst[d + 2] = src[3 * s + 2]
                                s += stepX
                                d += 3
                            }
                        }
                    }
                }
            }
        }
        return RGBImage(uncheckedWidth: outWidth, height: outHeight, pixels: out)
    }
}
