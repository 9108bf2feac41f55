import CFaceNet

/// PIL's `Image.resize(size, Image.BILINEAR)` for 8-bit RGB, ported from Pillow's
/// `src/libImaging/Resample.c` so facenet-pytorch's `extract_face` crops come out bit-identical:
/// separable convolution with the triangle filter (support 1, widened by the downscale factor so
/// downscaling antialiases), weights normalised per output pixel then rounded to 22-bit fixed
/// point (`PRECISION_BITS = 32 - 8 - 2`), a horizontal pass over only the rows the vertical pass
/// will read, then the vertical pass; each pass rounds (+0.5 in fixed point) and clips to 8 bits.
struct BilinearResampler {
    static let precisionBits = 32 - 8 - 2

    /// One axis's filter: for output index i, `count[i]` taps starting at source index
    /// `first[i]`, with fixed-point weights at `weights[i * stride ..< i * stride + count[i]]`.
    /// Int32, as `cfn_pil_resample_horizontal` and `cfn_pil_resample_vertical` take them.
    struct Coefficients {
        var first: [Int32]
        var count: [Int32]
        var weights: [Int32]
        var stride: Int
    }

    /// Pillow's `precompute_coeffs` followed by `normalize_coeffs_8bpc`. `in0`/`in1` are the box
    /// edges, `Float` as in Pillow (its box is `float[4]`), so the arithmetic rounds the same way.
    static func coefficients(inSize: Int, in0: Float, in1: Float, outSize: Int) -> Coefficients {
        let support = 1.0  // bilinear
        let scale = Double(in1 - in0) / Double(outSize)
        let filterScale = max(scale, 1.0)
        let scaledSupport = support * filterScale
        let stride = Int(scaledSupport.rounded(.up)) * 2 + 1
        var first = [Int32](repeating: 0, count: outSize)
        var count = [Int32](repeating: 0, count: outSize)
        var weights = [Int32](repeating: 0, count: outSize * stride)
        var k = [Double](repeating: 0, count: stride)
        let ss = 1.0 / filterScale
        let one = Double(1 << precisionBits)
        for xx in 0..<outSize {
            let center = Double(in0) + (Double(xx) + 0.5) * scale
            // C's (int) cast truncates toward zero, as Int(_: Double) does.
            var xmin = Int(center - scaledSupport + 0.5)
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + scaledSupport + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            xmax = max(0, min(xmax, stride))
            var ww = 0.0
            for x in 0..<xmax {
                var t = (Double(x + xmin) - center + 0.5) * ss
                if t < 0 { t = -t }
                let w = t < 1.0 ? 1.0 - t : 0.0
                k[x] = w
                ww += w
            }
            for x in 0..<xmax where ww != 0.0 { k[x] /= ww }
            for x in 0..<xmax {
                let v = k[x]
                weights[xx * stride + x] = Int32(v < 0 ? -0.5 + v * one : 0.5 + v * one)
            }
            first[xx] = Int32(xmin)
            count[xx] = Int32(xmax)
        }
        return Coefficients(first: first, count: count, weights: weights, stride: stride)
    }

    @inline(__always)
    static func clip8(_ value: Int32) -> UInt8 {
        let shifted = value >> Int32(precisionBits)
        return shifted < 0 ? 0 : (shifted > 255 ? 255 : UInt8(shifted))
    }

    /// Resamples `source` to `outWidth`×`outHeight` over the full image box.
    static func resize(_ source: RGBImage, outWidth: Int, outHeight: Int) -> RGBImage {
        let inWidth = source.width, inHeight = source.height
        if outWidth == inWidth && outHeight == inHeight { return source }
        let horizontal = coefficients(inSize: inWidth, in0: 0, in1: Float(inWidth), outSize: outWidth)
        var vertical = coefficients(inSize: inHeight, in0: 0, in1: Float(inHeight), outSize: outHeight)
        let needHorizontal = outWidth != inWidth
        let needVertical = outHeight != inHeight

        var current = source.pixels
        var currentWidth = inWidth
        if needHorizontal {
            // Only the source rows the vertical pass reads: [first row, last row).
            let yFirst = Int(vertical.first[0])
            let yLast = Int(vertical.first[outHeight - 1] + vertical.count[outHeight - 1])
            let rows = max(0, yLast - yFirst)
            for i in 0..<outHeight { vertical.first[i] -= Int32(yFirst) }
            current = horizontalPass(source.pixels, inWidth: inWidth, rowOffset: yFirst, rows: rows,
                                     outWidth: outWidth, coefficients: horizontal)
            currentWidth = outWidth
        }
        if needVertical {
            current = verticalPass(current, width: currentWidth, outHeight: outHeight,
                                   coefficients: vertical)
        }
        return RGBImage(uncheckedWidth: outWidth, height: outHeight, pixels: current)
    }

    /// Pillow's horizontal pass over `rows` source rows from `rowOffset`: `cfn_pil_resample_horizontal`
    /// (CFaceNet), 8 output pixels per vector step on AVX2, the same bytes as Pillow everywhere.
    static func horizontalPass(_ input: [UInt8], inWidth: Int, rowOffset: Int, rows: Int,
                               outWidth: Int, coefficients c: Coefficients) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: outWidth * rows * 3)
        input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                guard let src = src.baseAddress, let dst = dst.baseAddress, rows > 0 else { return }
                cfn_pil_resample_horizontal(src + rowOffset * inWidth * 3, Int32(inWidth), Int32(rows), Int32(outWidth),
                                            c.first, c.count, c.weights, Int32(c.stride), dst)
            }
        }
        return output
    }

    /// Pillow's vertical pass over the `input` rows (`width` pixels each): `cfn_pil_resample_vertical`
    /// (CFaceNet), 32 bytes of a row per vector step on AVX2. The sums are exact Int32 arithmetic
    /// without overflow, so summing row by row instead of PIL's column by column gives its bytes.
    static func verticalPass(_ input: [UInt8], width: Int, outHeight: Int,
                             coefficients c: Coefficients) -> [UInt8] {
        // The C pass cannot check its reads: every row the coefficients name must be in `input`.
        let rowsRead = (0..<outHeight).reduce(0) { max($0, Int(c.first[$1] + c.count[$1])) }
        precondition(input.count >= rowsRead * width * 3, "vertical pass reads past its input")
        return [UInt8](unsafeUninitializedCapacity: width * outHeight * 3) { dst, initialized in
            input.withUnsafeBufferPointer { src in
                if let src = src.baseAddress, let dst = dst.baseAddress {
                    cfn_pil_resample_vertical(src, width * 3, Int32(outHeight), c.first, c.count, c.weights,
                                              Int32(c.stride), dst)
                } else if let dst = dst.baseAddress {
                    // No input rows (and so, by the precondition, no taps): Pillow's sums are 0.
                    dst.initialize(repeating: 0, count: width * outHeight * 3)
                }
            }
            initialized = width * outHeight * 3
        }
    }
}

extension RGBImage {
    /// Exactly PIL's `Image.resize((width, height), Image.BILINEAR)` on an RGB image
    /// (antialiased: the filter support scales with the downscale factor; PIL's fixed-point
    /// coefficients and rounding). A zero-sized source yields a black image of the requested
    /// size (PIL raises instead); a zero or negative target size yields an empty image.
    public func resizedBilinear(width outWidth: Int, height outHeight: Int) -> RGBImage {
        let w = max(0, outWidth), h = max(0, outHeight)
        if w == 0 || h == 0 {
            return RGBImage(uncheckedWidth: w, height: h, pixels: [])
        }
        if width == 0 || height == 0 {
            return RGBImage(uncheckedWidth: w, height: h, pixels: [UInt8](repeating: 0, count: w * h * 3))
        }
        return BilinearResampler.resize(self, outWidth: w, outHeight: h)
    }

    /// PIL `Image.crop((x1, y1, x2, y2))` semantics: the result is `(x2-x1)×(y2-y1)` (0 if
    /// negative); the box may extend outside the image, and pixels outside are 0 (black).
    public func cropped(x1: Int, y1: Int, x2: Int, y2: Int) -> RGBImage {
        let outWidth = max(0, x2 - x1), outHeight = max(0, y2 - y1)
        var out = [UInt8](repeating: 0, count: outWidth * outHeight * 3)
        let sx0 = max(x1, 0), sx1 = min(x2, width)
        let sy0 = max(y1, 0), sy1 = min(y2, height)
        if sx1 > sx0 && sy1 > sy0 {
            let span = (sx1 - sx0) * 3
            pixels.withUnsafeBufferPointer { srcBuffer in
                out.withUnsafeMutableBufferPointer { dstBuffer in
                    guard let src = srcBuffer.baseAddress, let dst = dstBuffer.baseAddress else { return }
                    for sy in sy0..<sy1 {
                        let s = (sy * width + sx0) * 3
                        let d = ((sy - y1) * outWidth + (sx0 - x1)) * 3
                        (dst + d).update(from: src + s, count: span)
                    }
                }
            }
        }
        return RGBImage(uncheckedWidth: outWidth, height: outHeight, pixels: out)
    }
}
