import CFaceNet
import CFaceNetTesting
import Foundation
import Testing

/// FaceNet's 3×3 stride-1 convolutions have two paths: Winograd F(2×2, 3×3) (CPUs with AVX2, the
/// default) and the GEMM over the unfolded input (portable contexts, other CPUs, and every other
/// kernel shape). The parity suite checks whichever the machine picks against facenet-pytorch;
/// these check both against the convolution's definition, summed in double, on shapes that
/// reach every edge case of the tiling and of the unfolding: odd output sizes (half tiles),
/// padding 0 and 1, widths with and without whole 8-tile groups, output rows that straddle
/// 16-column strips, several images, maps wide enough for tile-row tasks (each worker taking a
/// few tile rows through both transforms and its own products), scratch so small that the tile
/// rows run in many chunks, and one or three worker threads.
@Suite("FaceNet 3×3 convolution paths", .ownThreads)
struct FaceNetConvolutionTests {
    struct Shape: CustomStringConvertible {
        var cin: Int, cout: Int, n: Int, h: Int, w: Int, pad: Int, relu: Bool
        var description: String { "\(cin)→\(cout) n\(n) \(h)×\(w) pad \(pad)\(relu ? " relu" : "")" }
        var outH: Int { h + 2 * pad - 2 }
        var outW: Int { w + 2 * pad - 2 }
    }

    static let shapes: [Shape] = [
        Shape(cin: 3, cout: 5, n: 1, h: 3, w: 3, pad: 0, relu: false),     // one output
        Shape(cin: 4, cout: 6, n: 2, h: 7, w: 9, pad: 1, relu: true),      // odd sizes, batch
        Shape(cin: 16, cout: 8, n: 1, h: 12, w: 12, pad: 0, relu: false),
        Shape(cin: 8, cout: 12, n: 3, h: 11, w: 37, pad: 1, relu: true),   // 8-tile groups + edge
        Shape(cin: 5, cout: 7, n: 2, h: 20, w: 36, pad: 0, relu: false),   // 17 tiles per row
        Shape(cin: 32, cout: 32, n: 1, h: 17, w: 17, pad: 1, relu: true),  // Block35's branch at 160
        Shape(cin: 6, cout: 10, n: 2, h: 29, w: 66, pad: 1, relu: true),   // tile-row tasks, half last row
    ]

    /// Deterministic values in [−1, 1).
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_000) / 1_000_000 - 1
        }
    }

    /// The definition, act(bias[o] + Σ w[o][c][i][j] · in[c][k][y+i−p][x+j−p]): the general
    /// one of FaceNetUnfoldTests at stride 1, then the activation.
    static func reference(_ s: Shape, _ weight: [Float], _ bias: [Float], _ input: [Float]) -> [Double] {
        let general = FaceNetUnfoldTests.Shape(cin: s.cin, cout: s.cout, kh: 3, kw: 3, stride: 1, padH: s.pad,
                                               padW: s.pad, n: s.n, h: s.h, w: s.w)
        let out = FaceNetUnfoldTests.reference(general, weight, bias, input)
        return s.relu ? out.map { max($0, 0) } : out
    }

    /// Runs one path: its status, its output (NaN where it wrote nothing) and the definition's.
    /// `winograd`: 0 the GEMM over the unfolded input, 1 Winograd on the CPU's best kernels
    /// (AVX-512 where it has them), 2 Winograd capped at AVX2 (cfn_conv3x3_cnhw).
    static func run(_ s: Shape, winograd: Int32, scratch: Int = 0, threads: Int = 1) -> (status: Int32, out: [Float], reference: [Double]) {
        let weight = values(s.cout * s.cin * 9, seed: UInt64(s.cin * 31 + s.cout))
        let bias = values(s.cout, seed: 7)
        let input = values(s.cin * s.n * s.h * s.w, seed: UInt64(s.h * 131 + s.w))
        var out = [Float](repeating: .nan, count: s.cout * s.n * s.outH * s.outW)
        let status = cfn_conv3x3_cnhw(weight, bias, Int32(s.cout), Int32(s.cin), input, Int32(s.n), Int32(s.h),
                                      Int32(s.w), Int32(s.pad), s.relu ? 1 : 0, winograd, scratch, Int32(threads), &out)
        return (status, out, reference(s, weight, bias, input))
    }

    static func worst(_ out: [Float], _ reference: [Double]) -> Double {
        zip(out, reference).map { abs(Double($0) - $1) }.max() ?? .infinity
    }

    /// With 3 workers the transforms' channel ranges and the products' tasks split unevenly.
    /// The AVX-512 transforms and products do the AVX2 ones' arithmetic operation for operation
    /// (16 tiles and lane masks instead of 8 tiles and staged edges), so both paths must give
    /// the same bits.
    /// FaceNet's Winograd kernels are AVX2 (and AVX-512) only: elsewhere its 3×3 layers run the
    /// unfolded GEMM, which the test below checks on every CPU.
    static let winogradAvailable = run(shapes[0], winograd: 1).status == 1
    static let noWinograd: Comment = "FaceNet's Winograd kernels need AVX2 + FMA, which this CPU lacks"

    @Test("Winograd matches the definition, the same on AVX-512 as on AVX2",
          .enabled(if: winogradAvailable, noWinograd), arguments: shapes, [1, 3])
    func winograd(shape: Shape, threads: Int) throws {
        let (status, out, reference) = Self.run(shape, winograd: 1, threads: threads)
        try #require(status == 1, "Winograd path did not run (status \(status))")
        #expect(!out.contains { $0.isNaN }, "an output was not written")
        #expect(Self.worst(out, reference) < 1e-4)
        let avx2 = Self.run(shape, winograd: 2, threads: threads)
        try #require(avx2.status == 1)
        #expect(Self.worst(avx2.out, reference) < 1e-4)
        #expect(avx2.out.map(\.bitPattern) == out.map(\.bitPattern), "AVX-512 and AVX2 paths differ")
    }

    @Test("the GEMM over the unfolded input matches the definition", arguments: shapes, [1, 3])
    func im2col(shape: Shape, threads: Int) throws {
        let (status, out, reference) = Self.run(shape, winograd: 0, threads: threads)
        try #require(status == 1)
        #expect(Self.worst(out, reference) < 1e-4)
    }

    /// The products then see 19 columns at a time instead of all the tiles, so this holds the
    /// chunked result to the definition too.
    @Test("Winograd in chunks of one tile row matches the definition; less scratch is refused",
          .enabled(if: winogradAvailable, noWinograd))
    func chunks() throws {
        let s = Self.shapes[3]
        let tilesPerRow = (s.outW + 1) / 2
        let oneRow = 16 * (s.cin + s.cout) * (tilesPerRow + 8) // conv2d_winograd.c's chunk_floats
        let chunked = Self.run(s, winograd: 1, scratch: oneRow)
        try #require(chunked.status == 1)
        #expect(!chunked.out.contains { $0.isNaN }, "an output was not written")
        #expect(Self.worst(chunked.out, chunked.reference) < 1e-4)
        #expect(Self.run(s, winograd: 1, scratch: oneRow - 1).status == 0, "less than one tile row must be refused")
    }
}
