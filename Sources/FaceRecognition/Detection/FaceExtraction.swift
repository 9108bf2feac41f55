import CFaceNet

/// facenet-pytorch's `extract_face` and `fixed_image_standardization`.
public enum FaceExtraction {
    /// The crop of `box` (grown by `margin` pixels of the final image, clamped to the image)
    /// resized to size × size with PIL's BILINEAR filter: `img.crop(box).resize((size, size))`.
    public static func crop(_ image: RGBImage, box: FaceBox, size: Int, margin: Int) -> RGBImage {
        let m = Float(margin)
        let mx = m * (box.x2 - box.x1) / Float(size - margin)
        let my = m * (box.y2 - box.y1) / Float(size - margin)
        // Python int() of float32: truncation toward zero.
        let x1 = truncatedInt(max(box.x1 - mx / 2, 0))
        let y1 = truncatedInt(max(box.y1 - my / 2, 0))
        let x2 = truncatedInt(min(box.x2 + mx / 2, Float(image.width)))
        let y2 = truncatedInt(min(box.y2 + my / 2, Float(image.height)))
        return image.cropped(x1: x1, y1: y1, x2: x2, y2: y2).resizedBilinear(width: size, height: size)
    }

    /// `fixed_image_standardization(to_tensor(np.float32(crop)))`: CHW float32, (x − 127.5) / 128.
    public static func standardized(_ crop: RGBImage) -> [Float] {
        planes(crop, offset: standardOffset, scale: standardScale)
    }

    /// The crop as a CHW float32 tensor of raw 0…255 values (post_process=False).
    public static func rawTensor(_ crop: RGBImage) -> [Float] {
        planes(crop, offset: 0, scale: 1)
    }

    /// `fixed_image_standardization` as (x − offset) · scale: dividing by 128 and multiplying by
    /// 1/128 give the same float, both being exact scalings.
    static let standardOffset: Float = 127.5
    static let standardScale: Float = 1.0 / 128

    private static func planes(_ crop: RGBImage, offset: Float, scale: Float) -> [Float] {
        let count = 3 * crop.width * crop.height
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            if let out = out.baseAddress { writePlanes(crop, offset: offset, scale: scale, to: out) }
            initialized = count
        }
    }

    /// Writes the crop's 3 · width · height CHW floats, (x − offset) · scale, at `out`
    /// (`cfn_rgb8_to_planes`: AVX2 where the CPU has it, the same floats everywhere).
    static func writePlanes(_ crop: RGBImage, offset: Float, scale: Float, to out: UnsafeMutablePointer<Float>) {
        crop.pixels.withUnsafeBufferPointer { px in
            if let px = px.baseAddress { cfn_rgb8_to_planes(px, crop.width * crop.height, offset, scale, out) }
        }
    }
}

/// A face crop ready for the embedding network.
public struct FaceCrop: Sendable, Equatable {
    /// The detection the crop came from.
    public var face: DetectedFace
    /// The imageSize × imageSize crop before standardisation (what facenet-pytorch saves).
    public var image: RGBImage
    /// CHW float32 (3 × imageSize × imageSize): standardised when `postProcess`, else 0…255.
    public var tensor: [Float]
}
