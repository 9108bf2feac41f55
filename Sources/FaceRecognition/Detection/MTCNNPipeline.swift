import CFaceNet

/// A candidate box between stages: corners, score and the regression of the net that scored
/// it. All arithmetic is float32 in facenet-pytorch's order of operations.
struct CandidateBox: Equatable {
    var x1: Float, y1: Float, x2: Float, y2: Float
    var score: Float
    var reg: (Float, Float, Float, Float) = (0, 0, 0, 0)

    static func == (a: CandidateBox, b: CandidateBox) -> Bool {
        a.x1 == b.x1 && a.y1 == b.y1 && a.x2 == b.x2 && a.y2 == b.y2 && a.score == b.score
            && a.reg == b.reg
    }

    /// `bbreg`: shift each corner by the regression times the +1 width/height.
    func regressed() -> CandidateBox {
        let w = x2 - x1 + 1, h = y2 - y1 + 1
        var out = self
        out.x1 = x1 + reg.0 * w
        out.y1 = y1 + reg.1 * h
        out.x2 = x2 + reg.2 * w
        out.y2 = y2 + reg.3 * h
        return out
    }

    /// `rerec`: the square of side max(w, h) with the same centre.
    func squared() -> CandidateBox {
        let h = y2 - y1, w = x2 - x1
        let l = max(w, h)
        var out = self
        out.x1 = x1 + w * 0.5 - l * 0.5
        out.y1 = y1 + h * 0.5 - l * 0.5
        out.x2 = out.x1 + l
        out.y2 = out.y1 + l
        return out
    }
}

/// The pixel region `pad` yields for a box: rows `y - 1 ..< ey`, columns `x - 1 ..< ex`.
struct CropRegion: Equatable {
    var x0: Int, y0: Int, x1: Int, y1: Int

    /// `pad(boxes, w, h)`: truncate toward zero, clamp the start to ≥ 1 and the end to ≤ the
    /// image size. nil when the region is empty (facenet-pytorch skips the crop there, and then
    /// fails on the mismatched lengths; dropping the box is the closest non-crashing behaviour).
    init?(_ box: CandidateBox, width: Int, height: Int) {
        let x = max(truncatedInt(box.x1), 1), y = max(truncatedInt(box.y1), 1)
        let ex = min(truncatedInt(box.x2), width), ey = min(truncatedInt(box.y2), height)
        guard ey > y - 1, ex > x - 1 else { return nil }
        x0 = x - 1
        y0 = y - 1
        x1 = ex
        y1 = ey
    }
}

/// `tensor.trunc().int()` without trapping on NaN or huge values.
func truncatedInt(_ v: Float) -> Int {
    guard v.isFinite else { return 0 }
    return Int(min(max(v.rounded(.towardZero), -2_147_483_648), 2_147_483_520))
}

/// facenet-pytorch's `detect_face` for one image: the three stages and their NMS. Returns the
/// faces in its output order (the final 'Min' NMS's pick order).
struct MTCNNPipeline {
    let networks: MTCNNNetworks
    let options: MTCNNOptions

    /// Candidate boxes per R-Net/O-Net call: bounds the crop buffer (facenet-pytorch uses 512).
    static let cropChunk = 256
    /// Largest pyramid level accepted (a tiny minFaceSize upscales the image by 12 / minFaceSize).
    static let maxLevelPixels = 100_000_000

    func run(_ image: RGBImage, context ctx: OpaquePointer) throws(MTCNNError) -> [DetectedFace] {
        var boxes = try proposals(image, ctx)
        if boxes.isEmpty { return [] }
        boxes = try refine(image, boxes, ctx)
        if boxes.isEmpty { return [] }
        return try output(image, boxes, ctx)
    }

    // MARK: Stage 1: P-Net over the pyramid

    private func proposals(_ image: RGBImage, _ ctx: OpaquePointer) throws(MTCNNError) -> [CandidateBox] {
        let pyramid = FacePyramid(height: image.height, width: image.width,
                                  minFaceSize: options.minFaceSize, factor: options.factor)
        let largest = pyramid.levels.map { $0.height * $0.width }.max() ?? 0
        guard largest <= Self.maxLevelPixels else {
            throw .invalidOption(field: "minFaceSize", reason: "\(options.minFaceSize) makes the first pyramid level "
                                 + "\(largest) pixels, over the limit of \(Self.maxLevelPixels)")
        }
        var input = [Float](repeating: 0, count: 3 * largest)
        var prob: [Float] = []
        var reg: [Float] = []
        var picked: [CandidateBox] = []
        let threshold = options.thresholds.pnet
        for level in pyramid.levels {
            let (h, w) = (level.height, level.width)
            guard h >= Int(CFN_MTCNN_PNET_MIN_INPUT), w >= Int(CFN_MTCNN_PNET_MIN_INPUT) else { continue }
            try resample(image, CropRegion(fullImage: image), height: h, width: w, into: &input, at: 0, ctx)
            var oh: Int32 = 0, ow: Int32 = 0
            cfn_mtcnn_pnet_output_size(Int32(h), Int32(w), &oh, &ow)
            let cells = Int(oh) * Int(ow)
            if prob.count < cells {
                prob = [Float](repeating: 0, count: cells)
                reg = [Float](repeating: 0, count: 4 * cells)
            }
            let status = input.withUnsafeBufferPointer { inp in
                prob.withUnsafeMutableBufferPointer { p in
                    reg.withUnsafeMutableBufferPointer { r in
                        cfn_mtcnn_pnet_forward(networks.pnet, ctx, inp.baseAddress, Int32(h), Int32(w),
                                               p.baseAddress, r.baseAddress)
                    }
                }
            }
            guard status == CFN_OK else { throw .inference(stage: "P-Net", reason: contextError(ctx, status)) }

            // generateBoundingBox: cells in row-major order (mask.nonzero()), corners
            // floor((2·x + 1) / scale) and floor((2·x + 12) / scale) in float32.
            let scale = Float(level.scale)
            var boxes: [CandidateBox] = []
            let owi = Int(ow)
            prob.withUnsafeBufferPointer { p in
                reg.withUnsafeBufferPointer { r in
                    for i in 0..<cells where p[i] >= threshold {
                        let bx = Float(i % owi), by = Float(i / owi)
                        boxes.append(CandidateBox(
                            x1: ((2 * bx + 1) / scale).rounded(.down), y1: ((2 * by + 1) / scale).rounded(.down),
                            x2: ((2 * bx + 12) / scale).rounded(.down), y2: ((2 * by + 12) / scale).rounded(.down),
                            score: p[i], reg: (r[i], r[cells + i], r[2 * cells + i], r[3 * cells + i])))
                    }
                }
            }
            for k in NonMaximumSuppression.torchvision(boxes, threshold: 0.5) { picked.append(boxes[k]) }
        }
        return NonMaximumSuppression.torchvision(picked, threshold: 0.7).map { k in
            // Stage-1 regression uses the +0 width (unlike bbreg).
            let b = picked[k]
            let regw = b.x2 - b.x1, regh = b.y2 - b.y1
            return CandidateBox(x1: b.x1 + b.reg.0 * regw, y1: b.y1 + b.reg.1 * regh,
                                x2: b.x2 + b.reg.2 * regw, y2: b.y2 + b.reg.3 * regh,
                                score: b.score).squared()
        }
    }

    // MARK: Stage 2: R-Net on 24×24 crops

    private func refine(_ image: RGBImage, _ boxes: [CandidateBox], _ ctx: OpaquePointer) throws(MTCNNError) -> [CandidateBox] {
        let side = Int(CFN_MTCNN_RNET_INPUT)
        var passed: [CandidateBox] = []
        try forEachCropChunk(image, boxes, side: side, ctx) { (chunk: [CandidateBox], crops: [Float]) throws(MTCNNError) in
            var prob = [Float](repeating: 0, count: chunk.count)
            var reg = [Float](repeating: 0, count: 4 * chunk.count)
            let status = crops.withUnsafeBufferPointer { c in
                prob.withUnsafeMutableBufferPointer { p in
                    reg.withUnsafeMutableBufferPointer { r in
                        cfn_mtcnn_rnet_forward(networks.rnet, ctx, c.baseAddress, Int32(chunk.count),
                                               p.baseAddress, r.baseAddress)
                    }
                }
            }
            guard status == CFN_OK else { throw .inference(stage: "R-Net", reason: contextError(ctx, status)) }
            for (k, b) in chunk.enumerated() where prob[k] > options.thresholds.rnet {
                passed.append(CandidateBox(x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2, score: prob[k],
                                           reg: (reg[4 * k], reg[4 * k + 1], reg[4 * k + 2], reg[4 * k + 3])))
            }
        }
        return NonMaximumSuppression.torchvision(passed, threshold: 0.7).map { passed[$0].regressed().squared() }
    }

    // MARK: Stage 3: O-Net on 48×48 crops, landmarks, 'Min' NMS

    private func output(_ image: RGBImage, _ boxes: [CandidateBox], _ ctx: OpaquePointer) throws(MTCNNError) -> [DetectedFace] {
        let side = Int(CFN_MTCNN_ONET_INPUT)
        var passed: [CandidateBox] = []
        var points: [[FacePoint]] = []
        try forEachCropChunk(image, boxes, side: side, ctx) { (chunk: [CandidateBox], crops: [Float]) throws(MTCNNError) in
            var prob = [Float](repeating: 0, count: chunk.count)
            var reg = [Float](repeating: 0, count: 4 * chunk.count)
            var marks = [Float](repeating: 0, count: 10 * chunk.count)
            let status = crops.withUnsafeBufferPointer { c in
                prob.withUnsafeMutableBufferPointer { p in
                    reg.withUnsafeMutableBufferPointer { r in
                        marks.withUnsafeMutableBufferPointer { m in
                            cfn_mtcnn_onet_forward(networks.onet, ctx, c.baseAddress, Int32(chunk.count),
                                                   p.baseAddress, r.baseAddress, m.baseAddress)
                        }
                    }
                }
            }
            guard status == CFN_OK else { throw .inference(stage: "O-Net", reason: contextError(ctx, status)) }
            for (k, b) in chunk.enumerated() where prob[k] > options.thresholds.onet {
                // Landmarks are placed in the box O-Net saw, before its regression.
                let w = b.x2 - b.x1 + 1, h = b.y2 - b.y1 + 1
                points.append((0..<5).map { j in
                    FacePoint(x: w * marks[10 * k + j] + b.x1 - 1, y: h * marks[10 * k + 5 + j] + b.y1 - 1)
                })
                passed.append(CandidateBox(x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2, score: prob[k],
                                           reg: (reg[4 * k], reg[4 * k + 1], reg[4 * k + 2], reg[4 * k + 3]))
                              .regressed())
            }
        }
        return NonMaximumSuppression.minimum(passed, threshold: 0.7).map { k in
            let b = passed[k]
            return DetectedFace(box: FaceBox(x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2),
                                probability: b.score, landmarks: points[k])
        }
    }

    // MARK: Crops

    /// Resamples the `pad` region of every box to side × side (area interpolation, normalised),
    /// in chunks, and hands each chunk with its crops to `body`. Boxes whose region is empty are
    /// dropped.
    private func forEachCropChunk(_ image: RGBImage, _ boxes: [CandidateBox], side: Int, _ ctx: OpaquePointer,
                                  _ body: ([CandidateBox], [Float]) throws(MTCNNError) -> Void) throws(MTCNNError) {
        let valid = boxes.compactMap { b in CropRegion(b, width: image.width, height: image.height).map { (b, $0) } }
        let plane = 3 * side * side
        var crops = [Float](repeating: 0, count: plane * min(valid.count, Self.cropChunk))
        var start = 0
        while start < valid.count {
            let chunk = valid[start..<min(start + Self.cropChunk, valid.count)]
            for (i, item) in chunk.enumerated() {
                try resample(image, item.1, height: side, width: side, into: &crops, at: i * plane, ctx)
            }
            let count = chunk.count
            try body(chunk.map { $0.0 }, count == crops.count / plane ? crops : Array(crops[0..<(count * plane)]))
            start += count
        }
    }

    private func resample(_ image: RGBImage, _ region: CropRegion, height: Int, width: Int,
                          into buffer: inout [Float], at offset: Int, _ ctx: OpaquePointer) throws(MTCNNError) {
        let status = image.pixels.withUnsafeBufferPointer { px in
            buffer.withUnsafeMutableBufferPointer { out in
                cfn_mtcnn_resample(ctx, px.baseAddress, Int32(image.width), Int32(image.height), image.width * 3,
                                   Int32(region.x0), Int32(region.y0), Int32(region.x1), Int32(region.y1),
                                   Int32(height), Int32(width), out.baseAddress! + offset)
            }
        }
        guard status == CFN_OK else { throw .inference(stage: "resampling", reason: contextError(ctx, status)) }
    }
}

extension CropRegion {
    init(fullImage image: RGBImage) {
        x0 = 0
        y0 = 0
        x1 = image.width
        y1 = image.height
    }
}
