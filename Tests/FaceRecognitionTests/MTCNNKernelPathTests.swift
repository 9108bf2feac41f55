import CFaceNet
import CFaceNetTesting
import Foundation
import Testing
@testable import FaceRecognition

/// The direct convolution has an AVX2 + FMA path (picked at run time) and a portable C path.
/// The parity suites exercise whichever the machine picks; these tests force the portable one on
/// a context and check it against facenet-pytorch's goldens and against the default path, and
/// check that P-Net's row-range entry and the thread split don't change any result.
@Suite(.ownThreads) struct MTCNNKernelPathTests {
    let nets: [String: Any]
    let networks: MTCNNNetworks

    init() throws {
        nets = try #require(try MTCNNTestSupport.json("nets.json") as? [String: Any])
        networks = try MTCNNTestSupport.networks()
    }

    /// A context, forced onto the portable kernels when `portable`.
    private func context(portable: Bool) throws -> OpaquePointer {
        let ctx = try #require(cfn_context_create())
        cfn_context_set_portable_kernels(ctx, portable ? 1 : 0)
        return ctx
    }

    private func pnet(_ ctx: OpaquePointer, _ input: [Float], height h: Int, width w: Int) throws -> (prob: [Float], reg: [Float]) {
        var oh: Int32 = 0, ow: Int32 = 0
        cfn_mtcnn_pnet_output_size(Int32(h), Int32(w), &oh, &ow)
        var prob = [Float](repeating: .nan, count: Int(oh * ow)), reg = [Float](repeating: .nan, count: 4 * Int(oh * ow))
        try #require(cfn_mtcnn_pnet_forward(networks.pnet, ctx, input, Int32(h), Int32(w), &prob, &reg) == CFN_OK)
        return (prob, reg)
    }

    @Test func portablePathMatchesTorchGoldens() throws {
        let ctx = try context(portable: true)
        defer { cfn_context_destroy(ctx) }

        let pg = try #require(nets["pnet"] as? [String: Any])
        let (h, w) = (17, 23)
        let input = MTCNNTestSupport.formulaInput(n: 2, height: h, width: w, seed: 5)
        let cells = Int((try #require(pg["reg_shape"] as? [Int]))[2...].reduce(1, *))
        let goldenProb = MTCNNTestSupport.floats(pg["prob"]), goldenReg = MTCNNTestSupport.floats(pg["reg"])
        for i in 0..<2 {
            let out = try pnet(ctx, Array(input[(i * 3 * h * w)..<((i + 1) * 3 * h * w)]), height: h, width: w)
            #expect(MTCNNTestSupport.maxAbsDiff(out.prob, Array(goldenProb[(i * 2 * cells + cells)..<((i + 1) * 2 * cells)])) < 1e-5)
            #expect(MTCNNTestSupport.maxAbsDiff(out.reg, Array(goldenReg[(i * 4 * cells)..<((i + 1) * 4 * cells)])) < 1e-5)
        }

        let rg = try #require(nets["rnet"] as? [String: Any])
        let rin = MTCNNTestSupport.formulaInput(n: 3, height: 24, width: 24, seed: 11)
        var rprob = [Float](repeating: 0, count: 3), rreg = [Float](repeating: 0, count: 12)
        #expect(cfn_mtcnn_rnet_forward(networks.rnet, ctx, rin, 3, &rprob, &rreg) == CFN_OK)
        let rgp = MTCNNTestSupport.floats(rg["prob"])
        #expect(MTCNNTestSupport.maxAbsDiff(rprob, (0..<3).map { rgp[2 * $0 + 1] }) < 1e-5)
        #expect(MTCNNTestSupport.maxAbsDiff(rreg, MTCNNTestSupport.floats(rg["reg"])) < 1e-5)

        let og = try #require(nets["onet"] as? [String: Any])
        let oin = MTCNNTestSupport.formulaInput(n: 2, height: 48, width: 48, seed: 3)
        var oprob = [Float](repeating: 0, count: 2), oreg = [Float](repeating: 0, count: 8)
        var marks = [Float](repeating: 0, count: 20)
        #expect(cfn_mtcnn_onet_forward(networks.onet, ctx, oin, 2, &oprob, &oreg, &marks) == CFN_OK)
        let ogp = MTCNNTestSupport.floats(og["prob"])
        #expect(MTCNNTestSupport.maxAbsDiff(oprob, (0..<2).map { ogp[2 * $0 + 1] }) < 1e-5)
        #expect(MTCNNTestSupport.maxAbsDiff(oreg, MTCNNTestSupport.floats(og["reg"])) < 1e-5)
        #expect(MTCNNTestSupport.maxAbsDiff(marks, MTCNNTestSupport.floats(og["landmarks"])) < 1e-5)
    }

    @Test func portableAndDefaultPathsAgreeOnLargeInputs() throws {
        let fast = try context(portable: false), slow = try context(portable: true)
        defer {
            cfn_context_destroy(fast)
            cfn_context_destroy(slow)
        }
        // Widths that leave every tail case (16-, 8- and masked partial vectors) in every layer,
        // and several bands.
        for (h, w) in [(12, 12), (37, 53), (300, 251)] {
            let input = MTCNNTestSupport.formulaInput(n: 1, height: h, width: w, seed: h + w)
            let a = try pnet(fast, input, height: h, width: w), b = try pnet(slow, input, height: h, width: w)
            #expect(MTCNNTestSupport.maxAbsDiff(a.prob, b.prob) < 1e-5, "\(h)x\(w)")
            #expect(MTCNNTestSupport.maxAbsDiff(a.reg, b.reg) < 1e-5, "\(h)x\(w)")
            #expect(a.prob.allSatisfy { $0.isFinite } && a.reg.allSatisfy { $0.isFinite })
        }
        for n in [1, 7, 130] { // 130: eight of R-Net's 16-crop passes and a partial one
            let r = MTCNNTestSupport.formulaInput(n: n, height: 24, width: 24, seed: n)
            var p1 = [Float](repeating: 0, count: n), r1 = [Float](repeating: 0, count: 4 * n)
            var p2 = p1, r2 = r1
            #expect(cfn_mtcnn_rnet_forward(networks.rnet, fast, r, Int32(n), &p1, &r1) == CFN_OK)
            #expect(cfn_mtcnn_rnet_forward(networks.rnet, slow, r, Int32(n), &p2, &r2) == CFN_OK)
            #expect(MTCNNTestSupport.maxAbsDiff(p1, p2) < 1e-5 && MTCNNTestSupport.maxAbsDiff(r1, r2) < 1e-5, "R-Net n=\(n)")
        }
        let n = 11 // O-Net's 8-crop passes: one whole, one partial
        let o = MTCNNTestSupport.formulaInput(n: n, height: 48, width: 48, seed: 2)
        var p1 = [Float](repeating: 0, count: n), r1 = [Float](repeating: 0, count: 4 * n), m1 = [Float](repeating: 0, count: 10 * n)
        var p2 = p1, r2 = r1, m2 = m1
        #expect(cfn_mtcnn_onet_forward(networks.onet, fast, o, Int32(n), &p1, &r1, &m1) == CFN_OK)
        #expect(cfn_mtcnn_onet_forward(networks.onet, slow, o, Int32(n), &p2, &r2, &m2) == CFN_OK)
        #expect(MTCNNTestSupport.maxAbsDiff(p1, p2) < 1e-5)
        #expect(MTCNNTestSupport.maxAbsDiff(r1, r2) < 1e-5)
        #expect(MTCNNTestSupport.maxAbsDiff(m1, m2) < 1e-5)
    }

    /// Area resampling's vector paths (16-bit column sums; windows of up to 4 pixels from the
    /// precomputed window arrays, wider ones a pixel per vector step) against the portable one
    /// (32-bit sums), on windows from 1 to 79 pixels, whole images and offset regions.
    @Test func vectorResamplingEqualsPortableForEveryWindowWidth() throws {
        let (width, height) = (157, 203)
        let pixels = (0..<(width * height * 3)).map { UInt8(truncatingIfNeeded: ($0 * 7919) >> 3) }
        let ctx = try context(portable: false), portable = try context(portable: true)
        defer {
            cfn_context_destroy(ctx)
            cfn_context_destroy(portable)
        }
        // (x0, y0, x1, y1, out h, out w): windows 1–2, 3–5, 7–9, 14–16, 17–18, 53–79 pixels
        // wide (the pyramid's smallest levels, up to 102 rows high), and 9–19 pixels on rows of
        // 9 and 16 (the wide path's 8-column divisions and its tail).
        let cases = [(0, 0, 157, 203, 121, 94), (0, 0, 157, 203, 50, 40), (0, 0, 157, 203, 25, 20),
                     (0, 0, 157, 203, 14, 11), (0, 0, 157, 203, 12, 9), (13, 21, 150, 190, 24, 24),
                     (5, 7, 120, 130, 48, 48), (2, 3, 140, 200, 12, 12), (0, 0, 157, 203, 3, 2),
                     (1, 0, 157, 203, 2, 3), (0, 0, 157, 203, 4, 9), (3, 1, 150, 200, 5, 16)]
        for (x0, y0, x1, y1, oh, ow) in cases {
            var fast = [Float](repeating: .nan, count: 3 * oh * ow), slow = fast
            try #require(cfn_mtcnn_resample(ctx, pixels, Int32(width), Int32(height), width * 3, Int32(x0), Int32(y0),
                                            Int32(x1), Int32(y1), Int32(oh), Int32(ow), &fast) == CFN_OK)
            try #require(cfn_mtcnn_resample(portable, pixels, Int32(width), Int32(height), width * 3, Int32(x0), Int32(y0),
                                            Int32(x1), Int32(y1), Int32(oh), Int32(ow), &slow) == CFN_OK)
            let first = fast.indices.first { fast[$0] != slow[$0] }
            #expect(first == nil, "region \(x0),\(y0)–\(x1),\(y1) to \(oh)×\(ow): first difference at \(first ?? -1)")
            #expect(!fast.contains { $0.isNaN })
        }
    }

    @Test func rgb8RowRangesEqualResampleThenWholeLevel() throws {
        // A synthetic 203×157 RGB8 image, level 121×94: the row-range entry (split in three
        // uneven ranges) must give exactly what resampling the level and running P-Net on it does.
        let (width, height, lh, lw) = (157, 203, 121, 94)
        let pixels = (0..<(width * height * 3)).map { UInt8(truncatingIfNeeded: ($0 * 7919) >> 3) }
        let ctx = try context(portable: false)
        defer { cfn_context_destroy(ctx) }
        var level = [Float](repeating: 0, count: 3 * lh * lw)
        try #require(cfn_mtcnn_resample(ctx, pixels, Int32(width), Int32(height), width * 3, 0, 0,
                                        Int32(width), Int32(height), Int32(lh), Int32(lw), &level) == CFN_OK)
        // The AVX2 16-bit row sums and the portable 32-bit ones give the same integers.
        let portable = try context(portable: true)
        defer { cfn_context_destroy(portable) }
        var portableLevel = [Float](repeating: 0, count: 3 * lh * lw)
        try #require(cfn_mtcnn_resample(portable, pixels, Int32(width), Int32(height), width * 3, 0, 0,
                                        Int32(width), Int32(height), Int32(lh), Int32(lw), &portableLevel) == CFN_OK)
        #expect(portableLevel == level)
        let whole = try pnet(ctx, level, height: lh, width: lw)
        var oh: Int32 = 0, ow: Int32 = 0
        cfn_mtcnn_pnet_output_size(Int32(lh), Int32(lw), &oh, &ow)
        var prob = [Float](repeating: .nan, count: whole.prob.count), reg = [Float](repeating: .nan, count: whole.reg.count)
        for (r0, r1) in [(0, 7), (7, 31), (31, Int(oh))] {
            #expect(cfn_mtcnn_pnet_forward_rgb8(networks.pnet, ctx, pixels, Int32(width), Int32(height), width * 3,
                                                Int32(lh), Int32(lw), Int32(r0), Int32(r1), &prob, &reg) == CFN_OK)
        }
        #expect(prob == whole.prob)
        #expect(reg == whole.reg)
        // Bad row ranges are errors, not crashes.
        #expect(cfn_mtcnn_pnet_forward_rgb8(networks.pnet, ctx, pixels, Int32(width), Int32(height), width * 3,
                                            Int32(lh), Int32(lw), 0, oh + 1, &prob, &reg) == CFN_ERROR_INVALID_ARGUMENT)
        #expect(String(cString: cfn_context_last_error(ctx)).contains("outside"))
    }

    @Test func threadCountDoesNotChangeDetections() throws {
        let url = TestPaths.data("photos/multiface.jpg")
        let image = try ImageDecoder.decode(contentsOf: url, options: DecodeOptions(applyEXIFOrientation: false))
        let one = try MTCNNTestSupport.detector(MTCNNOptions(keepAll: true, threads: 1)).detect(image)
        let three = try MTCNNTestSupport.detector(MTCNNOptions(keepAll: true, threads: 3)).detect(image)
        #expect(one.count > 3)
        #expect(one == three)
        #expect(throws: MTCNNError.self) { try MTCNNTestSupport.detector(MTCNNOptions(threads: -1)) }
    }

    /// P-Net's pieces of work: every output row of every level in exactly one piece, each piece
    /// one whole band (starting on a multiple of the level's band rows, which is a multiple of
    /// 4, and as long as one unless it ends the level), in level and row order.
    @Test func pnetBandsPartitionTheRows() {
        let pyramid = FacePyramid(height: 1612, width: 1125, minFaceSize: 20, factor: 0.709)
        let levels = pyramid.levels.map { level -> (rows: Int, width: Int) in
            var oh: Int32 = 0, ow: Int32 = 0
            cfn_mtcnn_pnet_output_size(Int32(level.height), Int32(level.width), &oh, &ow)
            return (rows: Int(oh), width: level.width)
        }
        let bands = MTCNNPipeline.pnetBands(levels + [(rows: 0, width: 30)])
        var covered = levels.map { [Int](repeating: 0, count: $0.rows) }
        var previous = (-1, -1)
        for (index, r0, r1) in bands {
            #expect(index < levels.count && r0 < r1)
            let band = Int(cfn_mtcnn_pnet_band_rows(Int32(levels[index].width)))
            #expect(band >= 4 && band % 4 == 0)
            #expect(r0 % band == 0)
            #expect(r1 - r0 == band || r1 == levels[index].rows)
            #expect((index, r0) > previous)
            previous = (index, r0)
            for r in r0..<r1 { covered[index][r] += 1 }
        }
        #expect(covered.allSatisfy { $0.allSatisfy { $0 == 1 } })
        // The portrait's first level is cut into several pieces: the threads share it.
        #expect(bands.filter { $0.0 == 0 }.count > 2)
    }

    /// R-Net's and O-Net's crops go to the threads in pieces of at most a chunk, about four per
    /// thread when there are many (O-Net's 49 multiface crops: pieces of 7, not 16), fewer and
    /// larger when four would be smaller than the minimum (a small face's 6 O-Net crops: 3 + 3).
    @Test func cropPiecesBalanceTheThreadsWithoutTinyPieces() {
        #expect(MTCNNPipeline.cropPiece(count: 606, workers: 2) == MTCNNPipeline.cropChunk)
        #expect(MTCNNPipeline.cropPiece(count: 49, workers: 2) == 7)
        #expect(MTCNNPipeline.cropPiece(count: 18, workers: 2) == 5)
        #expect(MTCNNPipeline.cropPiece(count: 6, workers: 2) == 3)
        #expect(MTCNNPipeline.cropPiece(count: 49, workers: 1) == MTCNNPipeline.cropChunk) // nothing to balance
        #expect(MTCNNPipeline.cropPiece(count: 4, workers: 3) == 1) // 4 pieces: none of the 3 idle
        var problems: [String] = []
        for workers in 2...16 {
            for count in 1...300 {
                let piece = MTCNNPipeline.cropPiece(count: count, workers: workers)
                let pieces = (count + piece - 1) / piece
                if piece < 1 || piece > MTCNNPipeline.cropChunk { problems.append("\(count)/\(workers): piece \(piece)") }
                if pieces < min(count, workers) { problems.append("\(count)/\(workers): \(pieces) pieces, a thread idle") }
                if piece < min(MTCNNPipeline.cropPieceMinimum, count / workers) {
                    problems.append("\(count)/\(workers): piece \(piece) below the minimum")
                }
                // No piece is larger than a thread's fair share of the crops.
                if piece > (count + workers - 1) / workers { problems.append("\(count)/\(workers): piece \(piece) over a share") }
            }
        }
        #expect(problems.isEmpty, "\(problems.prefix(5))")
    }
}

/// The AVX2 loops of the stride-2 max pool (rows of 18+ columns for kernel 2; for kernel 3, rows
/// of 9+ columns, the ceil-mode edge column included): check them (and the forced portable
/// loops) against the generic op, itself checked against PyTorch, NaN included, and that nothing
/// is written past the output.
@Suite(.ownThreads) struct MTCNNPoolPathTests {
    @Test func vectorAndPortableMaxPoolAgreeWithGenericOnWideRows() {
        for k: Int32 in [2, 3] {
            for h: Int32 in [3, 4, 9, 12, 22] {
                for w: Int32 in [3, 4, 5, 8, 9, 10, 16, 17, 18, 19, 20, 21, 22, 23, 33, 34, 35, 36, 46, 51, 60, 63, 64, 65, 66, 80] {
                    // 16 NaNs past the planes: a read past them would show as a NaN the generic op has not.
                    var x = (0..<Int(2 * h * w)).map { Float(($0 * 37) % 101) - 50 } + [Float](repeating: .nan, count: 16)
                    x[Int(h * w) * 7 / 11] = .nan
                    let oh = cfn_pool_out_extent(h, k, 2, 0, 1), ow = cfn_pool_out_extent(w, k, 2, 0, 1)
                    let count = Int(2 * oh * ow), guardValue: Float = 12345
                    var generic = [Float](repeating: 0, count: count), fast = [Float](repeating: guardValue, count: count + 16)
                    var portable = fast
                    cfn_maxpool2d(x, 2, h, w, k, 2, 0, 1, &generic)
                    cfn_maxpool2d_s2_ceil(x, 2, h, w, k, &fast)
                    cfn_maxpool2d_s2_ceil_portable(x, 2, h, w, k, &portable)
                    let same = { (a: [Float], b: ArraySlice<Float>) in zip(a, b).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) } }
                    #expect(same(generic, fast[..<count]), "kernel \(k), \(h)x\(w)")
                    #expect(same(generic, portable[..<count]), "kernel \(k), \(h)x\(w)")
                    #expect(fast[count...].allSatisfy { $0 == guardValue } && portable[count...].allSatisfy { $0 == guardValue },
                            "kernel \(k), \(h)x\(w): written past the output")
                    #expect(generic.contains { $0.isNaN })
                }
            }
        }
    }
}

/// The 3×3 layers with 10+ input channels run Winograd on AVX2 machines: F(4×4, 3×3) for P-Net
/// conv2 and conv3 and O-Net conv2 and conv3, F(3×3, 3×3) for R-Net conv2 (F(2×2, 3×3) stays
/// selectable and tested). Each must agree with the direct
/// kernel (itself checked against PyTorch through the nets) to rounding, read nothing past the
/// valid columns (a NaN there must not reach a result), write nothing at or past column w nor in
/// an image's last two rows, and give a band of rows, or an image in a stack, bit for bit what
/// the image alone gives (so detections do not depend on how the pyramid or the crops are split
/// into bands and threads).
/// Whether this CPU runs the AVX2 + FMA kernels (the Winograd 3×3 and the fused conv + pool):
/// asked of the kernels themselves, which answer 0 where they are not built or not supported.
enum MTCNNVectorKernels {
    static let available: Bool = {
        let layer = WinogradConvolutionTests.Layer(cout: 1, cin: 1, seed: 1)
        let input = WinogradConvolutionTests.input(cin: 1, h: 4, w: 4, rs: 4)
        return WinogradConvolutionTests.run(layer, input, h: 4, w: 4, rs: 4, winograd: true).status == 1
    }()
    static let reason: Comment = "the AVX2 + FMA kernels are not available on this CPU (the portable path is tested as itself)"
}

@Suite(.ownThreads, .enabled(if: MTCNNVectorKernels.available, MTCNNVectorKernels.reason))
struct WinogradConvolutionTests {
    struct Layer {
        let cout: Int, cin: Int
        let weight: [Float], bias: [Float], slope: [Float]
        init(cout: Int, cin: Int, seed: Int) {
            self.cout = cout
            self.cin = cin
            weight = (0..<(cout * cin * 9)).map { Float(($0 * 7919 + seed) % 211) / 211 - 0.5 }
            bias = (0..<cout).map { Float($0 % 5) * 0.1 - 0.2 }
            slope = (0..<cout).map { 0.1 + Float($0 % 3) * 0.1 }
        }
    }

    /// `images` images of h × w stacked in each of `cin` planes, row stride rs, NaN past column w.
    static func input(cin: Int, images: Int = 1, h: Int, w: Int, rs: Int, seed: Int = 0) -> [Float] {
        (0..<(cin * images * h * rs)).map { i in
            i % rs >= w ? .nan : Float((i * 104_729 + seed) % 1_999) / 1_999 - 0.5
        }
    }

    /// The kernels cfn_conv3x3_prelu runs (its `winograd` argument).
    enum Kernel: Int32, CaseIterable, Sendable {
        case direct = 0, f22 = 1, f44 = 2, f33 = 3
        /// Output rows per tile: bands must start on a multiple of it to be bit-identical.
        var tileRows: Int { self == .f44 ? 4 : self == .f33 ? 3 : 2 }
    }

    static func run(_ layer: Layer, _ input: [Float], images: Int = 1, h: Int, w: Int, rs: Int,
                    phase: Int = 0, winograd: Bool) -> (status: Int32, out: [Float]) {
        run(layer, input, images: images, h: h, w: w, rs: rs, phase: phase, kernel: winograd ? .f22 : .direct)
    }

    static func run(_ layer: Layer, _ input: [Float], images: Int = 1, h: Int, w: Int, rs: Int,
                    phase: Int = 0, kernel: Kernel) -> (status: Int32, out: [Float]) {
        var out = [Float](repeating: -7, count: layer.cout * images * h * rs)
        let status = cfn_conv3x3_prelu(layer.weight, layer.bias, layer.slope, Int32(layer.cout), Int32(layer.cin),
                                       input, Int32(images), Int32(h), Int32(w), Int32(rs), Int32(phase),
                                       kernel.rawValue, &out)
        return (status, out)
    }

    /// F(2×2) within 1e-5 of the direct sum on these layers (outputs up to ~2 in magnitude);
    /// F(4×4)'s transforms scale by up to 8 and its filters carry sixths, so its rounding is
    /// ~10× larger: within 3e-5 of the largest output's magnitude (measured up to 1.1e-5);
    /// F(3×3) within 1e-5 of it (measured up to 2.3e-6).
    @Test(arguments: [(3, 3, 3), (4, 5, 5), (7, 6, 9), (10, 18, 18), (11, 19, 20), (9, 35, 36),
                      (13, 150, 151), (29, 300, 301)], [Kernel.f22, Kernel.f44, Kernel.f33])
    func winogradAgreesWithDirectKernel(shape: (Int, Int, Int), kernel: Kernel) throws {
        let (h, w, rs) = shape
        for layer in [Layer(cout: 32, cin: 16, seed: h), Layer(cout: 10, cin: 3, seed: w)] {
            let input = Self.input(cin: layer.cin, h: h, w: w, rs: rs)
            let direct = Self.run(layer, input, h: h, w: w, rs: rs, kernel: .direct)
            let fast = Self.run(layer, input, h: h, w: w, rs: rs, kernel: kernel)
            try #require(direct.status == 1)
            try #require(fast.status == 1)
            var worst: Float = 0, magnitude: Float = 0
            for o in 0..<layer.cout {
                for y in 0..<h {
                    for x in 0..<rs {
                        let i = (o * h + y) * rs + x
                        if y < h - 2 && x < w - 2 {
                            #expect(fast.out[i].isFinite, "NaN past the valid columns reached (\(o), \(y), \(x))")
                            worst = max(worst, abs(fast.out[i] - direct.out[i]))
                            magnitude = max(magnitude, abs(direct.out[i]))
                        } else if y >= h - 2 || x >= w {
                            #expect(fast.out[i] == -7, "wrote row \(y) column \(x) of \(h)×\(w)")
                        }
                    }
                }
            }
            let bound: Float = kernel == .f44 ? 3e-5 * max(1, magnitude)
                : kernel == .f33 ? 1e-5 * max(1, magnitude) : 1e-5
            #expect(worst < bound, "\(kernel) \(layer.cin)→\(layer.cout) \(h)×\(w): max |Δ| \(worst)")
        }
    }

    /// Bands that start on a multiple of the tile's rows and end on one or at the image's end
    /// (F(2×2)'s tiles pair rows, so any band of it qualifies; P-Net cuts F(4×4)'s on 4 rows).
    @Test(arguments: [Kernel.f22, Kernel.f44, Kernel.f33])
    func bandsAreBitIdenticalToTheWholeImage(kernel: Kernel) throws {
        let (h, w, rs) = (23, 150, 150)
        let layer = Layer(cout: 32, cin: 16, seed: 3)
        let input = Self.input(cin: 16, h: h, w: w, rs: rs)
        let whole = Self.run(layer, input, h: h, w: w, rs: rs, kernel: kernel)
        try #require(whole.status == 1)
        let bands = switch kernel {
        case .f44: [(0, 4), (4, 12), (12, h - 2), (8, 16), (16, h - 2), (0, h - 2)]
        case .f33: [(0, 3), (3, 9), (9, h - 2), (6, 15), (15, h - 2), (0, h - 2)]
        default: [(0, 7), (7, 8), (8, 13), (13, h - 2), (1, 4), (2, 21)]
        }
        for (a, b) in bands {
            // Output rows [a, b) need input rows [a, b + 2): copied as planes of b − a + 2 rows.
            let rows = b - a + 2
            var planes = [Float](repeating: .nan, count: 16 * rows * rs)
            for c in 0..<16 {
                for r in 0..<rows {
                    for x in 0..<rs { planes[(c * rows + r) * rs + x] = input[(c * h + a + r) * rs + x] }
                }
            }
            let part = Self.run(layer, planes, h: rows, w: w, rs: rs, phase: a % kernel.tileRows, kernel: kernel)
            try #require(part.status == 1)
            for o in 0..<32 {
                for y in 0..<(b - a) {
                    for x in 0..<(w - 2) {
                        let got = part.out[(o * rows + y) * rs + x], want = whole.out[(o * h + a + y) * rs + x]
                        if got != want {
                            Issue.record("band [\(a), \(b)) row \(y) col \(x) ch \(o): \(got) ≠ \(want)")
                            return
                        }
                    }
                }
            }
        }
    }

    /// R-Net's conv2 (F(3×3), and F(2×2): 28 → 48 on 11×11 maps, 7 crops stacked) and O-Net's
    /// conv2 and conv3 (F(4×4): 32 → 64 on 23×23, 64 → 64 on 10×10, 5 crops).
    @Test(arguments: [(Kernel.f33, 28, 48, 11, 7), (Kernel.f22, 28, 48, 11, 7), (Kernel.f44, 32, 64, 23, 5),
                      (Kernel.f44, 64, 64, 10, 5)])
    func stackedImagesEqualEachImageAlone(kernel: Kernel, cin: Int, cout: Int, side: Int, n: Int) throws {
        let (h, w) = (side, side)
        let layer = Layer(cout: cout, cin: cin, seed: 9)
        let input = Self.input(cin: cin, images: n, h: h, w: w, rs: w, seed: 5)
        let stacked = Self.run(layer, input, images: n, h: h, w: w, rs: w, kernel: kernel)
        try #require(stacked.status == 1)
        let direct = Self.run(layer, input, images: n, h: h, w: w, rs: w, kernel: .direct)
        let bound: Float = kernel == .f22 ? 1e-5 : 2e-4 // outputs up to ~8 on 64 channels
        for k in 0..<n {
            var image = [Float]()
            let size = h * w
            for c in 0..<cin {
                let first: Int = (c * n + k) * size
                image.append(contentsOf: input[first..<(first + size)])
            }
            let alone = Self.run(layer, image, h: h, w: w, rs: w, kernel: kernel)
            for o in 0..<cout {
                for y in 0..<(h - 2) {
                    for x in 0..<(w - 2) {
                        let at: Int = ((o * n + k) * h + y) * w + x
                        let s = stacked.out[at]
                        #expect(s == alone.out[(o * h + y) * w + x], "image \(k) (\(o), \(y), \(x))")
                        #expect(abs(s - direct.out[at]) < bound)
                    }
                }
            }
        }
    }
}

/// P-Net's first layer runs fused on AVX2 (conv + PReLU + 2×2 max-pool in one pass, writing only
/// the pooled quarter): it must give bit for bit what the direct kernel and then the pool give.
@Suite(.ownThreads, .enabled(if: MTCNNVectorKernels.available, MTCNNVectorKernels.reason))
struct FusedConvolutionPoolTests {
    /// (h, w, rs): odd and even conv extents (the pool's ceil-mode edge row and column), widths
    /// with fewer than 8 whole windows (scalar only), a last vector tile shifted left to end on
    /// the last whole window, and NaN in the columns past w.
    /// Widths from 34 on reach the AVX-512 tiles (16 whole windows and more) where the CPU has
    /// them, which must also give the AVX2 tiles' bits.
    @Test(arguments: [(4, 4, 4), (5, 7, 9), (12, 12, 12), (13, 17, 17), (18, 18, 18), (19, 19, 25),
                      (20, 34, 34), (21, 35, 40), (9, 36, 40), (33, 51, 51), (6, 66, 66), (64, 200, 200),
                      (65, 201, 203)])
    func fusedEqualsConvolutionThenPool(h: Int, w: Int, rs: Int) throws {
        for cout in [10, 7, 1] {
            let layer = WinogradConvolutionTests.Layer(cout: cout, cin: 3, seed: h * w)
            let input = WinogradConvolutionTests.input(cin: 3, h: h, w: w, rs: rs, seed: w)
            let pooled = ((h - 1) / 2) * ((w - 1) / 2) // ⌈(h − 2) / 2⌉ × ⌈(w − 2) / 2⌉
            var fused = [Float](repeating: -7, count: cout * pooled + 1)
            var unfused = [Float](repeating: -8, count: cout * pooled + 1)
            let fusedStatus = cfn_conv3x3_prelu_maxpool2(layer.weight, layer.bias, layer.slope, Int32(cout), 3,
                                                         input, Int32(h), Int32(w), Int32(rs), 1, &fused)
            let unfusedStatus = cfn_conv3x3_prelu_maxpool2(layer.weight, layer.bias, layer.slope, Int32(cout), 3,
                                                           input, Int32(h), Int32(w), Int32(rs), 0, &unfused)
            try #require(unfusedStatus == 1)
            try #require(fusedStatus == 1)
            #expect(fused[cout * pooled] == -7, "wrote past the \(cout) pooled planes")
            let first = (0..<(cout * pooled)).first { fused[$0] != unfused[$0] }
            #expect(first == nil, "\(h)×\(w) (rs \(rs)), \(cout) channels: first difference at \(first ?? -1)")
            #expect(unfused[..<(cout * pooled)].allSatisfy { $0.isFinite })

            var avx2Tiles = [Float](repeating: -9, count: cout * pooled + 1)
            var avx512Tiles = [Float](repeating: -9, count: cout * pooled + 1)
            try #require(cfn_conv3x3_prelu_maxpool2(layer.weight, layer.bias, layer.slope, Int32(cout), 3, input,
                                                    Int32(h), Int32(w), Int32(rs), 2, &avx2Tiles) == 1)
            let avx512Status = cfn_conv3x3_prelu_maxpool2(layer.weight, layer.bias, layer.slope, Int32(cout), 3, input,
                                                          Int32(h), Int32(w), Int32(rs), 3, &avx512Tiles)
            #expect(avx2Tiles[cout * pooled] == -9, "wrote past the \(cout) pooled planes")
            let firstBits = (0..<(cout * pooled)).first { fused[$0].bitPattern != avx2Tiles[$0].bitPattern }
            #expect(firstBits == nil, "\(h)×\(w), \(cout) channels: the AVX2 tiles differ from the default at \(firstBits ?? -1)")
            if avx512Status == 1 {
                #expect(avx512Tiles[cout * pooled] == -9, "the AVX-512 tiles wrote past the \(cout) pooled planes")
                let differs = (0..<(cout * pooled)).first { avx512Tiles[$0].bitPattern != avx2Tiles[$0].bitPattern }
                #expect(differs == nil, "\(h)×\(w), \(cout) channels: the AVX-512 tiles differ at \(differs ?? -1)")
            } else if h == 4 && cout == 10 {
                print("FusedConvolutionPoolTests: the AVX-512 tiles are not on this CPU (the AVX2 ones are compared)")
            }
        }
    }

    @Test func badArgumentsAreRefused() {
        var out = [Float](repeating: 0, count: 16)
        let weight = [Float](repeating: 0.1, count: 27), input = [Float](repeating: 0, count: 3 * 16)
        #expect(cfn_conv3x3_prelu_maxpool2(weight, nil, nil, 1, 3, input, 2, 8, 8, 1, &out) == -1)
        #expect(cfn_conv3x3_prelu_maxpool2(weight, nil, nil, 1, 3, input, 4, 4, 3, 1, &out) == -1)
        #expect(cfn_conv3x3_prelu_maxpool2(weight, nil, nil, 0, 3, input, 4, 4, 4, 1, &out) == -1)
    }
}

/// P-Net's head runs fused on AVX2 (1×1 convolution, a branch-free two-logit softmax, the
/// regressions written into the level's rows): it must give bit for bit what the direct kernel,
/// cfn_softmax_rows and the copies give, ties and infinite logits included.
@Suite(.ownThreads, .enabled(if: MTCNNVectorKernels.available, MTCNNVectorKernels.reason))
struct FusedHeadTests {
    /// (rows, width, rs): tails under 16 and under 8 cells, whole tiles, a stride past the width.
    @Test(arguments: [(1, 1, 1), (3, 7, 7), (2, 16, 16), (5, 23, 29), (9, 40, 40), (4, 100, 104)])
    func fusedEqualsConvolutionThenSoftmax(rows: Int, width: Int, rs: Int) throws {
        let cin = 32
        var state = UInt64(rows * 1_000 + width)
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(state >> 40) % 2_001 - 1_000) / 1_000
        }
        var input = (0..<(cin * rows * rs)).map { _ in next() }
        // An infinite input makes the first cell's logits ±∞ (the softmax's NaN paths).
        input[0] = .infinity
        for tie in [false, true] {
            var weight = (0..<(6 * cin)).map { _ in next() * 0.3 }
            var bias = (0..<6).map { _ in next() }
            if tie { // identical logit rows: every cell is a tie (the softmax keeps x0 as maximum)
                for c in 0..<cin { weight[cin + c] = weight[c] }
                bias[1] = bias[0]
            }
            var fused = ([Float](repeating: -7, count: rows * width), [Float](repeating: -7, count: 4 * rows * width))
            var unfused = ([Float](repeating: -8, count: rows * width), [Float](repeating: -8, count: 4 * rows * width))
            try #require(cfn_pnet_head_paths(weight, bias, Int32(cin), input, Int32(rows), Int32(width), Int32(rs), 1,
                                             &fused.0, &fused.1) == 1)
            try #require(cfn_pnet_head_paths(weight, bias, Int32(cin), input, Int32(rows), Int32(width), Int32(rs), 0,
                                             &unfused.0, &unfused.1) == 1)
            let same = { (a: Float, b: Float) in a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) }
            let firstProb = zip(fused.0, unfused.0).enumerated().first { !same($0.element.0, $0.element.1) }?.offset
            let firstReg = zip(fused.1, unfused.1).enumerated().first { !same($0.element.0, $0.element.1) }?.offset
            #expect(firstProb == nil, "\(rows)×\(width) tie \(tie): first probability difference at \(firstProb ?? -1)")
            #expect(firstReg == nil, "\(rows)×\(width) tie \(tie): first regression difference at \(firstReg ?? -1)")
            if tie { #expect(unfused.0.dropFirst().allSatisfy { $0 == 0.5 }) }
            #expect(unfused.0.contains { !$0.isFinite }, "the ∞ row reached the softmax's NaN path")
        }
    }
}

/// P-Net's conv3 runs with its head on AVX2 (the F(4×4) outputs of all 32 channels of 8 tiles
/// kept in L1 and put through the 1×1 head there, never stored): it must give bit for bit what
/// the F(4×4) convolution followed by the fused head gives (itself checked against the direct
/// kernel above), on every row phase, row range and width, an infinite input included.
@Suite(.ownThreads, .enabled(if: MTCNNVectorKernels.available, MTCNNVectorKernels.reason))
struct FusedConvolutionHeadTests {
    /// (h, w, rs, row phase, first, last): one tile row and several, partial tiles at the right
    /// and bottom edges, rows dropped at both ends, more tiles than one 64-tile segment.
    @Test(arguments: [(6, 6, 6, 0, 0, 4), (10, 21, 24, 0, 0, 8), (14, 37, 40, 2, 1, 11),
                      (7, 70, 70, 3, 0, 5), (30, 150, 152, 1, 3, 27), (9, 300, 300, 0, 4, 7)])
    func fusedEqualsConvolutionThenHead(h: Int, w: Int, rs: Int, phase: Int, first: Int, last: Int) throws {
        let cin = 16, cout = 32
        var state = UInt64(h * 1_000 + w)
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(state >> 40) % 2_001 - 1_000) / 1_000
        }
        var input = (0..<(cin * h * rs)).map { _ in next() }
        input[rs + 1] = .infinity
        let weight = (0..<(cout * cin * 9)).map { _ in next() * 0.2 }
        let bias = (0..<cout).map { _ in next() }, slope = (0..<cout).map { _ in next() * 0.5 }
        let headWeight = (0..<(6 * cout)).map { _ in next() * 0.3 }, headBias = (0..<6).map { _ in next() }
        let cells = (last - first) * (w - 2)
        var fused = ([Float](repeating: -7, count: cells), [Float](repeating: -7, count: 4 * cells))
        var unfused = ([Float](repeating: -8, count: cells), [Float](repeating: -8, count: 4 * cells))
        for (flag, out) in [(Int32(1), 0), (0, 1)] {
            let status = out == 0
                ? cfn_winograd43_pnet_head_paths(weight, bias, slope, Int32(cout), Int32(cin), headWeight, headBias, input,
                                                 Int32(h), Int32(w), Int32(rs), Int32(phase), Int32(first), Int32(last),
                                                 flag, &fused.0, &fused.1)
                : cfn_winograd43_pnet_head_paths(weight, bias, slope, Int32(cout), Int32(cin), headWeight, headBias, input,
                                                 Int32(h), Int32(w), Int32(rs), Int32(phase), Int32(first), Int32(last),
                                                 flag, &unfused.0, &unfused.1)
            try #require(status == 1)
        }
        let same = { (a: Float, b: Float) in a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) }
        let firstProb = zip(fused.0, unfused.0).enumerated().first { !same($0.element.0, $0.element.1) }?.offset
        let firstReg = zip(fused.1, unfused.1).enumerated().first { !same($0.element.0, $0.element.1) }?.offset
        #expect(firstProb == nil, "first probability difference at \(firstProb ?? -1)")
        #expect(firstReg == nil, "first regression difference at \(firstReg ?? -1)")
        // Every cell was written (the fill values are gone) and the probabilities are real ones.
        #expect(!fused.0.contains(-7) && !fused.1.contains(-7))
        #expect(fused.0.filter { $0.isFinite }.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test func badArgumentsAreRefused() {
        var prob = [Float](repeating: 0, count: 64), reg = [Float](repeating: 0, count: 256)
        let w = [Float](repeating: 0.1, count: 32 * 16 * 9), hw = [Float](repeating: 0.1, count: 6 * 32)
        let b = [Float](repeating: 0, count: 6), input = [Float](repeating: 0, count: 16 * 8 * 8)
        // last past the output's rows, then an empty row range
        #expect(cfn_winograd43_pnet_head_paths(w, nil, nil, 32, 16, hw, b, input, 8, 8, 8, 0, 0, 7, 1, &prob, &reg) == -1)
        #expect(cfn_winograd43_pnet_head_paths(w, nil, nil, 32, 16, hw, b, input, 8, 8, 8, 0, 3, 3, 1, &prob, &reg) == -1)
    }
}

/// The softmax's exp (ops/expf.h): the scalar form the softmax runs and the AVX2 form P-Net's
/// head runs must give the same bits on every float (the fused and unfused heads rely on it),
/// and both must be libm's expf within one unit in the last place.
struct ExpTests {
    /// Every 4099th bit pattern of the 2^32 (negative and positive, subnormals, ±∞, NaNs), and
    /// the edges: zeros, the underflow and overflow thresholds and their neighbours.
    static let inputs: [Float] = {
        var values = stride(from: UInt64(0), through: UInt64(UInt32.max), by: 4099).map { Float(bitPattern: UInt32($0)) }
        for edge: Float in [0, -0, 1, -1, .infinity, -.infinity, .nan, -0x1.9fe368p6, 0x1.62e42ep6, -87.33655, -0x1.f8cbb2p5,
                            .leastNonzeroMagnitude, -.leastNonzeroMagnitude, -.greatestFiniteMagnitude] {
            values += [edge, edge.nextUp, edge.nextDown]
        }
        return values
    }()

    static func exp(_ x: [Float], vector: Bool) -> (status: Int32, values: [Float]) {
        var out = [Float](repeating: 7, count: x.count)
        let status = cfn_expf_paths(x, Int32(x.count), vector ? 1 : 0, &out)
        return (status, out)
    }

    /// Units in the last place between two floats of the same sign (0 when equal, NaN vs NaN).
    static func ulps(_ a: Float, _ b: Float) -> UInt32 {
        if a.isNaN && b.isNaN { return 0 }
        if a.isNaN || b.isNaN || a.sign != b.sign { return .max }
        let (x, y) = (a.bitPattern, b.bitPattern)
        return x > y ? x - y : y - x
    }

    @Test func scalarFormIsLibmWithinOneUlp() throws {
        let x = Self.inputs
        let ours = Self.exp(x, vector: false)
        try #require(ours.status == 1)
        let far = zip(x, ours.values).filter { Self.ulps($0.1, Foundation.expf($0.0)) > 1 }
        #expect(far.count == 0, "more than one ulp from libm at \(far.prefix(5).map { "\($0.0): \($0.1) vs \(Foundation.expf($0.0))" })")
        let different = zip(x, ours.values).filter { Self.ulps($0.1, Foundation.expf($0.0)) != 0 }.count
        // glibc's expf is the same algorithm with FMAs: it differs on 2 of the 2^32 floats.
        #expect(different * 10_000 <= x.count, "\(different) of \(x.count) differ from libm")
        #expect(ours.values[x.firstIndex(of: 0)!] == 1 && ours.values[x.firstIndex(of: -.infinity)!] == 0)
        #expect(ours.values[x.firstIndex(of: .infinity)!] == .infinity && ours.values[x.firstIndex { $0.isNaN }!].isNaN)
    }

    @Test(.enabled(if: MTCNNVectorKernels.available, MTCNNVectorKernels.reason))
    func vectorFormEqualsScalarFormBitForBit() throws {
        let x = Self.inputs
        let scalar = Self.exp(x, vector: false), vector = Self.exp(x, vector: true)
        try #require(scalar.status == 1 && vector.status == 1)
        let first = x.indices.first { Self.ulps(scalar.values[$0], vector.values[$0]) != 0 || scalar.values[$0].isNaN != vector.values[$0].isNaN }
        #expect(first == nil, "first difference at x = \(first.map { x[$0] } ?? 0)")
    }
}

/// The Winograd convolutions' transform-domain GEMM has an AVX2 form (4 output channels × 16
/// tiles) and an AVX-512 form (× 32 tiles, a last block of 16); each sum runs over the input
/// channels in order, one FMA per step, so both must be that chain of FMAs bit for bit (and so
/// each other), whatever block a column falls in: an AVX2-only CPU checks its form too.
@Suite struct WinogradGEMMTests {
    static func gemm(_ u: [Float], _ v: [Float], points: Int, xiStride: Int, channelStride: Int,
                     cin: Int, coutPadded: Int, cols: Int, avx512: Bool) -> (status: Int32, m: [Float]) {
        var m = [Float](repeating: 7, count: coutPadded * channelStride)
        let status = cfn_winograd_gemm_paths(u, v, &m, Int32(points), Int32(xiStride), Int32(channelStride),
                                             Int32(cin), Int32(coutPadded), Int32(cols), avx512 ? 1 : 0)
        return (status, m)
    }

    @Test("both forms equal the sum, and each other bit for bit; nothing past the columns is written",
          arguments: [(3, 4, 16), (16, 16, 64), (10, 16, 48), (28, 48, 32), (32, 8, 16), (64, 64, 64), (5, 12, 32)])
    func formsAgree(cin: Int, coutPadded: Int, cols: Int) throws {
        let points = 36, xiStride = 72, channelStride = points * xiStride + 16
        var seed: UInt32 = UInt32(cin * 1000 + coutPadded * 10 + cols)
        func next() -> Float {
            seed = seed &* 1_664_525 &+ 1_013_904_223
            return Float(seed >> 8) / Float(1 << 24) * 2 - 1
        }
        let u = (0..<points * coutPadded * cin).map { _ in next() }
        let v = (0..<cin * channelStride).map { _ in next() }
        let avx2 = Self.gemm(u, v, points: points, xiStride: xiStride, channelStride: channelStride,
                             cin: cin, coutPadded: coutPadded, cols: cols, avx512: false)
        try #require(avx2.status != -1)
        let avx512 = Self.gemm(u, v, points: points, xiStride: xiStride, channelStride: channelStride,
                               cin: cin, coutPadded: coutPadded, cols: cols, avx512: true)
        for form in [avx2, avx512] where form.status == 1 {
            var worst = 0.0, untouched = true, notTheChain = 0
            for o in 0..<coutPadded {
                for xi in 0..<points {
                    for t in 0..<xiStride {
                        let got = form.m[o * channelStride + xi * xiStride + t]
                        guard t < cols else { untouched = untouched && got == 7; continue }
                        var sum = 0.0, chain: Float = 0
                        for c in 0..<cin {
                            let weight = u[((xi * coutPadded / 4 + o / 4) * cin + c) * 4 + o % 4]
                            let value = v[c * channelStride + xi * xiStride + t]
                            sum += Double(weight) * Double(value)
                            chain = chain.addingProduct(weight, value) // one fused multiply-add
                        }
                        worst = max(worst, abs(Double(got) - sum))
                        if got.bitPattern != chain.bitPattern { notTheChain += 1 }
                    }
                }
            }
            #expect(worst <= 1e-5 * Double(cin), "largest difference from the sum: \(worst)")
            #expect(notTheChain == 0, "\(notTheChain) values are not the in-order FMA chain")
            #expect(untouched, "a value past the \(cols) columns was written")
        }
        if avx2.status == 1 && avx512.status == 1 {
            let differing = zip(avx2.m, avx512.m).filter { $0.0.bitPattern != $0.1.bitPattern }.count
            #expect(differing == 0, "\(differing) values differ between the AVX2 and AVX-512 forms")
        } else {
            // Says which form this CPU could not run; the other is still checked above.
            print("WinogradGEMMTests: AVX2 status \(avx2.status), AVX-512 status \(avx512.status) (0: not on this CPU)")
        }
    }

    @Test("bad shapes are refused")
    func badShapes() {
        let u = [Float](repeating: 0, count: 36 * 4 * 4), v = [Float](repeating: 0, count: 4 * (36 * 72 + 16))
        var m = [Float](repeating: 0, count: 4 * (36 * 72 + 16))
        #expect(cfn_winograd_gemm_paths(u, v, &m, 36, 72, 36 * 72 + 16, 4, 4, 24, 0) == -1) // cols not a multiple of 16
        #expect(cfn_winograd_gemm_paths(u, v, &m, 36, 72, 36 * 72 + 16, 4, 6, 16, 0) == -1) // cout not a multiple of 4
        #expect(cfn_winograd_gemm_paths(u, v, &m, 36, 72, 36 * 72 - 1, 4, 4, 16, 0) == -1) // channels overlap
    }
}

/// The direct convolution's three paths: the AVX-512 blocks of 32 positions must give the AVX2
/// tiles' bits (the same FMA chain per output), and both must be the portable sum up to
/// rounding, on the nets' kernel sizes, with tails of 16, 8 and fewer positions.
@Suite struct FlatConvolutionPathTests {
    static func run(cout: Int, cin: Int, k: Int, rs: Int, positions: Int, path: Int32,
                    seed: Int) -> (status: Int32, out: [Float]) {
        var state = UInt32(truncatingIfNeeded: seed &* 2_654_435_761 &+ 1)
        func next() -> Float {
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(state >> 8) / Float(1 << 24) * 2 - 1
        }
        let weight = (0..<cout * cin * k * k).map { _ in next() }
        let bias = (0..<cout).map { _ in next() }, slope = (0..<cout).map { _ in next() * 0.25 }
        let inPlane = positions + (k - 1) * (rs + 1) + 32
        let input = (0..<cin * inPlane).map { _ in next() }
        let outPlane = positions + 1
        var out = [Float](repeating: 7, count: cout * outPlane)
        let status = cfn_flat_conv_paths(weight, bias, slope, Int32(cout), Int32(cin), Int32(k), input, inPlane,
                                         Int32(rs), positions, path, &out, outPlane)
        return (status, out)
    }

    @Test("AVX-512 blocks equal the AVX2 tiles bit for bit; both equal the portable sum; nothing past the positions is written",
          arguments: [(10, 3, 3, 46, 517), (32, 3, 3, 48, 2208), (28, 3, 3, 24, 100), (48, 28, 3, 11, 90),
                      (64, 64, 2, 5, 33), (6, 32, 1, 9, 47), (7, 5, 3, 20, 63), (128, 16, 1, 4, 31)])
    func pathsAgree(cout: Int, cin: Int, k: Int, rs: Int, positions: Int) throws {
        let seed = cout * 7919 + positions
        let portable = Self.run(cout: cout, cin: cin, k: k, rs: rs, positions: positions, path: 0, seed: seed)
        try #require(portable.status == 1)
        let avx2 = Self.run(cout: cout, cin: cin, k: k, rs: rs, positions: positions, path: 1, seed: seed)
        let avx512 = Self.run(cout: cout, cin: cin, k: k, rs: rs, positions: positions, path: 2, seed: seed)
        let outPlane = positions + 1
        for (name, form) in [("AVX2", avx2), ("AVX-512", avx512)] where form.status == 1 {
            var worst: Float = 0
            for o in 0..<cout {
                for p in 0..<positions {
                    worst = max(worst, abs(form.out[o * outPlane + p] - portable.out[o * outPlane + p]))
                }
                #expect(form.out[o * outPlane + positions] == 7, "\(name) wrote past the positions of channel \(o)")
            }
            #expect(worst <= 1e-5 * Float(cin * k * k), "\(name) differs from the portable sum by \(worst)")
        }
        if avx2.status == 1 && avx512.status == 1 {
            let differing = zip(avx2.out, avx512.out).filter { $0.0.bitPattern != $0.1.bitPattern }.count
            #expect(differing == 0, "\(differing) values differ between the AVX2 and AVX-512 paths")
        } else {
            print("FlatConvolutionPathTests: AVX2 status \(avx2.status), AVX-512 status \(avx512.status) (0: not on this CPU)")
        }
    }
}
