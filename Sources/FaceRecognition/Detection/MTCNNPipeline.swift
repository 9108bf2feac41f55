import CFaceNet
import Foundation

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
///
/// The work of each stage is split between the contexts' threads (pyramid rows for P-Net,
/// boxes for R-Net and O-Net); every output cell or box is computed by exactly one of them with
/// the same arithmetic, so the result does not depend on the thread count.
struct MTCNNPipeline {
    let networks: MTCNNNetworks
    let options: MTCNNOptions
    /// Where the stages' extra threads count themselves (the budget's gauge; nil: nowhere).
    var gauge: OpaquePointer? = nil

    /// Candidate boxes per R-Net/O-Net call: bounds each thread's crop buffer (facenet-pytorch
    /// uses 512), and keeps the resampled crops in cache until the net reads them (the nets
    /// themselves work through 16 or 8 crops at a time, for the same reason).
    static let cropChunk = 16
    /// Largest pyramid level accepted (a tiny minFaceSize upscales the image by 12 / minFaceSize).
    static let maxLevelPixels = 100_000_000
    /// Below this many multiply-adds a stage runs on one thread: waking another costs tens of
    /// microseconds, about what a core does with this much work. Counted in multiply-adds, not
    /// input pixels: a pixel threshold kept a small photo's few O-Net crops (13 M
    /// multiply-adds each, half of its detection time) on one thread.
    static let parallelWork = 2_000_000
    /// Multiply-adds per unit of each stage's input (the sum over the net's layers): per
    /// pyramid-level pixel for P-Net, per crop for R-Net and O-Net.
    static let pnetWorkPerPixel = 1_830
    static let rnetWorkPerCrop = 1_530_000
    static let onetWorkPerCrop = 12_900_000

    /// Threads worth using for `work` multiply-adds split `units` ways (at most `contexts`).
    static func workers(work: Int, units: Int, contexts: Int) -> Int {
        max(1, min(contexts, units, work / parallelWork))
    }

    /// P-Net's work as pieces of one band each, (level index, first row, end row), levels in
    /// order and rows top to bottom. The threads take the pieces in turn (``WorkCounter``): the
    /// pyramid's levels differ in cost per row in ways rows × width does not capture (each level
    /// resamples the whole image, the small ones wholly in their halo rows), so a split fixed in
    /// advance left one thread waiting for the other by a fifth of P-Net's time. Cutting on
    /// bands costs nothing: a band reads its own halo rows in any case
    /// (`cfn_mtcnn_pnet_band_rows`), and the pieces are the bands a single thread would run,
    /// so every row has the same values whatever thread computes it.
    static func pnetBands(_ levels: [(rows: Int, width: Int)]) -> [(Int, Int, Int)] {
        var bands: [(Int, Int, Int)] = []
        for (index, level) in levels.enumerated() where level.rows > 0 {
            let band = Int(cfn_mtcnn_pnet_band_rows(Int32(level.width)))
            for r0 in stride(from: 0, to: level.rows, by: band) {
                bands.append((index, r0, min(r0 + band, level.rows)))
            }
        }
        return bands
    }

    /// `contexts`: one per thread (at least one), each used by one thread only.
    func run(_ image: RGBImage, contexts: [OpaquePointer]) throws(MTCNNError) -> [DetectedFace] {
        var boxes = try proposals(image, contexts)
        if boxes.isEmpty { return [] }
        boxes = try refine(image, boxes, contexts)
        if boxes.isEmpty { return [] }
        return try output(image, boxes, contexts)
    }

    // MARK: Stage 1: P-Net over the pyramid

    private struct LevelPlan {
        var level: FacePyramid.Level
        var outHeight: Int, outWidth: Int
        var offset: Int // of the level's cells in the shared prob buffer
    }

    private func proposals(_ image: RGBImage, _ contexts: [OpaquePointer]) throws(MTCNNError) -> [CandidateBox] {
        let pyramid = FacePyramid(height: image.height, width: image.width,
                                  minFaceSize: options.minFaceSize, factor: options.factor)
        let largest = pyramid.levels.map { $0.height * $0.width }.max() ?? 0
        guard largest <= Self.maxLevelPixels else {
            throw .invalidOption(field: "minFaceSize", reason: "\(options.minFaceSize) makes the first pyramid level "
                                 + "\(largest) pixels, over the limit of \(Self.maxLevelPixels)")
        }
        var plans: [LevelPlan] = []
        var cells = 0, pixels = 0
        for level in pyramid.levels {
            guard level.height >= Int(CFN_MTCNN_PNET_MIN_INPUT), level.width >= Int(CFN_MTCNN_PNET_MIN_INPUT) else { continue }
            var oh: Int32 = 0, ow: Int32 = 0
            cfn_mtcnn_pnet_output_size(Int32(level.height), Int32(level.width), &oh, &ow)
            plans.append(LevelPlan(level: level, outHeight: Int(oh), outWidth: Int(ow), offset: cells))
            cells += Int(oh) * Int(ow)
            pixels += level.height * level.width
        }
        if plans.isEmpty { return [] }
        let prob = UnsafeMutableBufferPointer<Float>.allocate(capacity: cells)
        let reg = UnsafeMutableBufferPointer<Float>.allocate(capacity: 4 * cells)
        defer {
            prob.deallocate()
            reg.deallocate()
        }
        let bands = Self.pnetBands(plans.map { (rows: $0.outHeight, width: $0.level.width) })
        let workers = Self.workers(work: pixels * Self.pnetWorkPerPixel, units: bands.count, contexts: contexts.count)
        let counter = WorkCounter(count: bands.count)
        // Each level's proposals (its boxes and their NMS) are made by the thread that finishes
        // the level's last band, while the other threads go on with other levels' bands.
        let levelsLeft = Countdowns(bands.reduce(into: [Int](repeating: 0, count: plans.count)) { $0[$1.0] += 1 })
        let levelBoxes = UnsafeMutableBufferPointer<[CandidateBox]>.allocate(capacity: plans.count)
        levelBoxes.initialize(repeating: [])
        defer {
            _ = levelBoxes.deinitialize()
            levelBoxes.deallocate()
        }
        let failures = parallelFailures(workers, gauge: gauge) { k in
            let ctx = contexts[k]
            return image.pixels.withUnsafeBufferPointer { px -> MTCNNError? in
                while let next = counter.take() {
                    let (index, r0, r1) = bands[next]
                    let plan = plans[index]
                    let status = cfn_mtcnn_pnet_forward_rgb8(
                        networks.pnet, ctx, px.baseAddress, Int32(image.width), Int32(image.height), image.width * 3,
                        Int32(plan.level.height), Int32(plan.level.width), Int32(r0), Int32(r1),
                        prob.baseAddress! + plan.offset, reg.baseAddress! + 4 * plan.offset)
                    guard status == CFN_OK else { return .inference(stage: "P-Net", reason: contextError(ctx, status)) }
                    if levelsLeft.finish(index) {
                        levelBoxes[index] = levelProposals(plan, prob: prob.baseAddress! + plan.offset,
                                                           reg: reg.baseAddress! + 4 * plan.offset)
                    }
                }
                return nil
            }
        }
        if let failure = failures.first { throw failure }
        let picked = Array(levelBoxes.joined())
        return NonMaximumSuppression.torchvision(picked, threshold: 0.7).map { k in
            // Stage-1 regression uses the +0 width (unlike bbreg).
            let b = picked[k]
            let regw = b.x2 - b.x1, regh = b.y2 - b.y1
            return CandidateBox(x1: b.x1 + b.reg.0 * regw, y1: b.y1 + b.reg.1 * regh,
                                x2: b.x2 + b.reg.2 * regw, y2: b.y2 + b.reg.3 * regh,
                                score: b.score).squared()
        }
    }

    /// One level's P-Net proposals: `generateBoundingBox` (cells in row-major order, as
    /// `mask.nonzero()` gives them, corners floor((2·x + 1) / scale) and floor((2·x + 12) /
    /// scale) in float32) and their NMS at 0.5.
    private func levelProposals(_ plan: LevelPlan, prob p: UnsafePointer<Float>, reg r: UnsafePointer<Float>) -> [CandidateBox] {
        let threshold = options.thresholds.pnet
        let scale = Float(plan.level.scale)
        let n = plan.outHeight * plan.outWidth, owi = plan.outWidth
        var boxes: [CandidateBox] = []
        for i in 0..<n where p[i] >= threshold {
            let bx = Float(i % owi), by = Float(i / owi)
            boxes.append(CandidateBox(
                x1: ((2 * bx + 1) / scale).rounded(.down), y1: ((2 * by + 1) / scale).rounded(.down),
                x2: ((2 * bx + 12) / scale).rounded(.down), y2: ((2 * by + 12) / scale).rounded(.down),
                score: p[i], reg: (r[i], r[n + i], r[2 * n + i], r[3 * n + i])))
        }
        return NonMaximumSuppression.torchvision(boxes, threshold: 0.5).map { boxes[$0] }
    }

    // MARK: Stage 2: R-Net on 24×24 crops

    private func refine(_ image: RGBImage, _ boxes: [CandidateBox], _ contexts: [OpaquePointer]) throws(MTCNNError) -> [CandidateBox] {
        let scored = try classify(image, boxes, side: Int(CFN_MTCNN_RNET_INPUT), landmarks: false, contexts) { ctx, crops, n, p, r, _ in
            cfn_mtcnn_rnet_forward(networks.rnet, ctx, crops, n, p, r)
        }
        var passed: [CandidateBox] = []
        for (k, b) in scored.boxes.enumerated() where scored.prob[k] > options.thresholds.rnet {
            passed.append(CandidateBox(x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2, score: scored.prob[k],
                                       reg: (scored.reg[4 * k], scored.reg[4 * k + 1], scored.reg[4 * k + 2], scored.reg[4 * k + 3])))
        }
        return NonMaximumSuppression.torchvision(passed, threshold: 0.7).map { passed[$0].regressed().squared() }
    }

    // MARK: Stage 3: O-Net on 48×48 crops, landmarks, 'Min' NMS

    private func output(_ image: RGBImage, _ boxes: [CandidateBox], _ contexts: [OpaquePointer]) throws(MTCNNError) -> [DetectedFace] {
        let scored = try classify(image, boxes, side: Int(CFN_MTCNN_ONET_INPUT), landmarks: true, contexts) { ctx, crops, n, p, r, m in
            cfn_mtcnn_onet_forward(networks.onet, ctx, crops, n, p, r, m)
        }
        var passed: [CandidateBox] = []
        var points: [[FacePoint]] = []
        let marks = scored.marks
        for (k, b) in scored.boxes.enumerated() where scored.prob[k] > options.thresholds.onet {
            // Landmarks are placed in the box O-Net saw, before its regression.
            let w = b.x2 - b.x1 + 1, h = b.y2 - b.y1 + 1
            points.append((0..<5).map { j in
                FacePoint(x: w * marks[10 * k + j] + b.x1 - 1, y: h * marks[10 * k + 5 + j] + b.y1 - 1)
            })
            passed.append(CandidateBox(x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2, score: scored.prob[k],
                                       reg: (scored.reg[4 * k], scored.reg[4 * k + 1], scored.reg[4 * k + 2], scored.reg[4 * k + 3]))
                          .regressed())
        }
        return NonMaximumSuppression.minimum(passed, threshold: 0.7).map { k in
            let b = passed[k]
            return DetectedFace(box: FaceBox(x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2),
                                probability: b.score, landmarks: points[k])
        }
    }

    // MARK: Crops

    /// A network's outputs for the boxes that have a non-empty crop region, in box order.
    private struct Scored {
        var boxes: [CandidateBox]
        var prob: [Float], reg: [Float], marks: [Float]
    }

    /// (context, crops n × 3 × side × side, n, prob, reg, landmarks) → status.
    private typealias NetCall = (OpaquePointer, UnsafePointer<Float>, Int32, UnsafeMutablePointer<Float>,
                                 UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> cfn_status

    /// Crops per piece the threads take in turn for `count` crops on `workers` threads: the
    /// chunk, or with several threads less, so that each has up to four pieces (O-Net's 49
    /// crops on a multiface photo in pieces of 16 would leave one thread 33 of them) — but
    /// pieces of at least ``cropPieceMinimum`` crops where the count allows, fewer pieces per
    /// thread otherwise (a small image's 6 O-Net crops: one piece of 3 each, not six of 1).
    static func cropPiece(count: Int, workers: Int) -> Int {
        if workers <= 1 { return cropChunk }
        let piecesPerWorker = max(1, min(4, count / (workers * cropPieceMinimum)))
        // One piece per thread rounds down, so that every thread has one (rounded up, 4 crops
        // on 3 threads would be 2 pieces of 2); several per thread round up, the last smaller.
        let piece = piecesPerWorker == 1 ? count / workers
                                         : (count + workers * piecesPerWorker - 1) / (workers * piecesPerWorker)
        return max(1, min(cropChunk, piece))
    }

    /// Each net call reads all of the net's weights (O-Net's: 1.5 MB, most of it its dense
    /// layer) for the crops it is given, so a piece of one crop pays that for one crop: a
    /// 64 × 64 face's detection with its 6 O-Net crops in pieces of one (and 18 R-Net crops in
    /// pieces of three) took 1.1–1.5× the CPU time of one piece per thread (3 and 9 crops; two
    /// threads, Zen 3, three alternating runs).
    static let cropPieceMinimum = 4

    /// Resamples the `pad` region of every box to side × side (area interpolation, normalised)
    /// and runs `net` on the crops: the threads take pieces of consecutive boxes in turn
    /// (``WorkCounter``), resampling and classifying each, so a thread slowed by anything else
    /// on its core leaves its share to the others instead of holding up the stage. A crop's
    /// outputs do not depend on the piece it is in. Boxes whose region is empty are dropped.
    private func classify(_ image: RGBImage, _ boxes: [CandidateBox], side: Int, landmarks: Bool,
                          _ contexts: [OpaquePointer], _ net: NetCall) throws(MTCNNError) -> Scored {
        let valid = boxes.compactMap { b in CropRegion(b, width: image.width, height: image.height).map { (b, $0) } }
        let count = valid.count
        var prob = [Float](repeating: 0, count: count)
        var reg = [Float](repeating: 0, count: 4 * count)
        var marks = [Float](repeating: 0, count: landmarks ? 10 * count : 1)
        let plane = 3 * side * side
        let perCrop = side == Int(CFN_MTCNN_RNET_INPUT) ? Self.rnetWorkPerCrop : Self.onetWorkPerCrop
        let workers = Self.workers(work: count * perCrop, units: count, contexts: contexts.count)
        let piece = Self.cropPiece(count: count, workers: workers)
        let pieces = WorkCounter(count: (count + piece - 1) / piece)
        let failures = prob.withUnsafeMutableBufferPointer { p in
            reg.withUnsafeMutableBufferPointer { r in
                marks.withUnsafeMutableBufferPointer { m in
                    image.pixels.withUnsafeBufferPointer { px in
                        let (pp, rp, mp) = (p.baseAddress!, r.baseAddress!, m.baseAddress!)
                        return parallelFailures(workers, gauge: gauge) { k -> MTCNNError? in
                            let ctx = contexts[k]
                            let crops = UnsafeMutableBufferPointer<Float>.allocate(capacity: plane * piece)
                            defer { crops.deallocate() }
                            while let next = pieces.take() {
                                let start = next * piece, n = min(piece, count - next * piece)
                                for i in 0..<n {
                                    let region = valid[start + i].1
                                    let status = cfn_mtcnn_resample(
                                        ctx, px.baseAddress, Int32(image.width), Int32(image.height), image.width * 3,
                                        Int32(region.x0), Int32(region.y0), Int32(region.x1), Int32(region.y1),
                                        Int32(side), Int32(side), crops.baseAddress! + i * plane)
                                    guard status == CFN_OK else { return .inference(stage: "resampling", reason: contextError(ctx, status)) }
                                }
                                let status = net(ctx, crops.baseAddress!, Int32(n), pp + start, rp + 4 * start,
                                                 landmarks ? mp + 10 * start : mp)
                                guard status == CFN_OK else {
                                    return .inference(stage: side == Int(CFN_MTCNN_RNET_INPUT) ? "R-Net" : "O-Net",
                                                      reason: contextError(ctx, status))
                                }
                            }
                            return nil
                        }
                    }
                }
            }
        }
        if let failure = failures.first { throw failure }
        return Scored(boxes: valid.map { $0.0 }, prob: prob, reg: reg, marks: marks)
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
