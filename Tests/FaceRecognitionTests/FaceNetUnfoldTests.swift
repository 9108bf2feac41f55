import CFaceNet
import CFaceNetTesting
import Testing

/// The convolutions that are not Winograd's (FaceNet's stride-2 layers, its 1 × 7, 7 × 1, 1 × 3
/// and 3 × 1 layers, and every layer on portable contexts) are GEMMs over the input unfolded
/// into the engine's 16-column strips. On AVX-512 the unfolding reads each strip's 16 lanes with
/// one masked load (lanes reading consecutive floats), a few masked loads and permutes (stride
/// 2: a run of lanes per output row the strip crosses) or a gather; on AVX2, two masked loads
/// for layers of stride 1 and "same" padding (consecutive lanes) and two gathers for the
/// others; on portable contexts a scalar loop copies them one by one. These shapes reach each
/// of those: strips that cross 2, 3 or 6 output rows, rows that cross from one image into the
/// next, padding (lanes masked off inside a run), more rows per strip than runs allowed (the
/// gather), consecutive loads, padding on every side, a last strip of 3 columns and a second
/// column block. Each result is held to the convolution's definition (summed in double) on
/// every path and, bit for bit, the AVX-512 path's to the AVX2 path's: both feed the same FMA
/// chains, so any difference is an unfolding error.
@Suite("FaceNet unfolded convolutions", .ownThreads)
struct FaceNetUnfoldTests {
    struct Shape: CustomStringConvertible {
        var cin: Int, cout: Int, kh: Int, kw: Int, stride: Int, padH: Int, padW: Int
        var n: Int, h: Int, w: Int
        var description: String { "\(cin)→\(cout) \(kh)×\(kw)/\(stride) pad \(padH),\(padW) n\(n) \(h)×\(w)" }
        var outH: Int { (h + 2 * padH - kh) / stride + 1 }
        var outW: Int { (w + 2 * padW - kw) / stride + 1 }
    }

    static let shapes: [Shape] = [
        Shape(cin: 6, cout: 7, kh: 3, kw: 3, stride: 2, padH: 0, padW: 0, n: 1, h: 36, w: 36),  // conv2d_4b: 17 wide, 2 rows a strip
        Shape(cin: 5, cout: 9, kh: 3, kw: 3, stride: 2, padH: 0, padW: 0, n: 2, h: 17, w: 17),   // Mixed_6a: 8 wide, into the next image
        Shape(cin: 4, cout: 6, kh: 3, kw: 3, stride: 2, padH: 0, padW: 0, n: 3, h: 8, w: 8),     // Mixed_7a: 3 wide, 6 rows a strip
        Shape(cin: 3, cout: 5, kh: 3, kw: 3, stride: 2, padH: 1, padW: 1, n: 2, h: 9, w: 11),    // padding inside the runs
        Shape(cin: 3, cout: 4, kh: 3, kw: 3, stride: 2, padH: 0, padW: 0, n: 8, h: 3, w: 3),     // 1 wide: more rows than runs, a gather
        Shape(cin: 3, cout: 8, kh: 3, kw: 3, stride: 2, padH: 0, padW: 0, n: 1, h: 41, w: 41),   // conv2d_1a's shape, smaller
        Shape(cin: 4, cout: 6, kh: 1, kw: 7, stride: 1, padH: 0, padW: 3, n: 2, h: 8, w: 8),     // Block17's 1 × 7: consecutive loads
        Shape(cin: 4, cout: 6, kh: 7, kw: 1, stride: 1, padH: 3, padW: 0, n: 1, h: 8, w: 8),     // and 7 × 1
        Shape(cin: 5, cout: 5, kh: 3, kw: 1, stride: 1, padH: 1, padW: 0, n: 1, h: 3, w: 3),     // Block8's 3 × 1 at 160×160
        Shape(cin: 3, cout: 7, kh: 3, kw: 3, stride: 1, padH: 1, padW: 1, n: 2, h: 5, w: 7),     // padding on all four sides
        Shape(cin: 4, cout: 6, kh: 1, kw: 7, stride: 1, padH: 0, padW: 3, n: 3, h: 17, w: 17),   // 867 columns: two blocks, a last strip of 3
    ]

    /// The definition: out[o][k][y][x] = bias[o] + Σ w[o][c][i][j] · in[c][k][y·s+i−ph][x·s+j−pw].
    static func reference(_ s: Shape, _ weight: [Float], _ bias: [Float], _ input: [Float]) -> [Double] {
        var out = [Double](repeating: 0, count: s.cout * s.n * s.outH * s.outW)
        for o in 0..<s.cout {
            for k in 0..<s.n {
                for y in 0..<s.outH {
                    for x in 0..<s.outW {
                        var sum = Double(bias[o])
                        for c in 0..<s.cin {
                            for i in 0..<s.kh {
                                let iy = y * s.stride + i - s.padH
                                guard iy >= 0, iy < s.h else { continue }
                                for j in 0..<s.kw {
                                    let ix = x * s.stride + j - s.padW
                                    guard ix >= 0, ix < s.w else { continue }
                                    sum += Double(weight[((o * s.cin + c) * s.kh + i) * s.kw + j])
                                        * Double(input[((c * s.n + k) * s.h + iy) * s.w + ix])
                                }
                            }
                        }
                        out[((o * s.n + k) * s.outH + y) * s.outW + x] = sum
                    }
                }
            }
        }
        return out
    }

    /// Deterministic weights, bias and input for a shape.
    struct Operands {
        var weight: [Float], bias: [Float], input: [Float]
        init(_ s: Shape) {
            weight = FaceNetConvolutionTests.values(s.cout * s.cin * s.kh * s.kw, seed: UInt64(s.cin * 31 + s.kh))
            bias = FaceNetConvolutionTests.values(s.cout, seed: 11)
            input = FaceNetConvolutionTests.values(s.cin * s.n * s.h * s.w, seed: UInt64(s.h * 131 + s.w))
        }
    }

    /// One run through the unfolded GEMM on `kernels`: its status and output (NaN where it wrote
    /// nothing).
    static func run(_ s: Shape, _ x: Operands, _ kernels: cfn_kernel_set, threads: Int) -> (status: Int32, out: [Float]) {
        var out = [Float](repeating: .nan, count: s.cout * s.n * s.outH * s.outW)
        let status = cfn_conv2d_cnhw(x.weight, x.bias, Int32(s.cout), Int32(s.cin), Int32(s.kh), Int32(s.kw),
                                     Int32(s.stride), Int32(s.padH), Int32(s.padW), x.input, Int32(s.n),
                                     Int32(s.h), Int32(s.w), 0, kernels, Int32(threads), &out)
        return (status, out)
    }

    @Test("the unfolded GEMM matches the definition on every path, the same on AVX-512 as on AVX2", arguments: shapes, [1, 2])
    func unfolded(shape: Shape, threads: Int) throws {
        let operands = Operands(shape)
        let best = Self.run(shape, operands, CFN_KERNELS_BEST, threads: threads)
        try #require(best.status == 1)
        #expect(!best.out.contains { $0.isNaN }, "an output was not written")
        let reference = Self.reference(shape, operands.weight, operands.bias, operands.input)
        #expect(FaceNetConvolutionTests.worst(best.out, reference) < 1e-4)
        let avx2 = Self.run(shape, operands, CFN_KERNELS_AVX2, threads: threads)
        try #require(avx2.status == 1)
        let differing = zip(avx2.out, best.out).filter { $0.bitPattern != $1.bitPattern }.count
        #expect(differing == 0, "AVX-512 and AVX2 unfolding differ in \(differing) of \(best.out.count) outputs")
        // The scalar unfolding, under BLAS's own summation order: the definition only.
        let portable = Self.run(shape, operands, CFN_KERNELS_PORTABLE, threads: threads)
        try #require(portable.status == 1)
        #expect(FaceNetConvolutionTests.worst(portable.out, reference) < 1e-4, "portable path")
    }

    @Test("bad arguments are refused")
    func badArguments() {
        var out = [Float](repeating: 0, count: 16)
        let weight = [Float](repeating: 0, count: 27), input = [Float](repeating: 0, count: 27)
        // A 3 × 3 kernel over a 2 × 2 image without padding has no output.
        #expect(cfn_conv2d_cnhw(weight, nil, 1, 3, 3, 3, 1, 0, 0, input, 1, 2, 2, 0, CFN_KERNELS_BEST, 1, &out) == -1)
        #expect(cfn_conv2d_cnhw(weight, nil, 1, 3, 3, 3, 0, 0, 0, input, 1, 3, 3, 0, CFN_KERNELS_BEST, 1, &out) == -1)
        #expect(cfn_conv2d_cnhw(weight, nil, 1, 3, 3, 3, 1, 0, 0, input, 1, 3, 3, 0, CFN_KERNELS_BEST, 1, &out) == 1)
    }
}
