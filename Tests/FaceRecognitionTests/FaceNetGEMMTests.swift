import CFaceNet
import CFaceNetTesting
import Testing

/// FaceNet's own matrix product (gemm_packed.c): weights packed in 6- or 16-row panels, activations
/// packed per task in 16-column strips, the work cut into tasks over column blocks and row
/// ranges and spread over a pool. Checked against the product's definition in double on shapes
/// that reach every edge: partial panels and strips, several column blocks (shallow products
/// take 512 columns per block), deep products (16 columns per block, so rows are split between
/// workers), batches of products, leading dimensions wider than the matrices, each epilogue,
/// the AVX-512 (where the CPU has it), AVX2 and portable kernels, one to three workers.
@Suite("FaceNet GEMM engine", .ownThreads)
struct FaceNetGEMMTests {
    struct Shape: CustomStringConvertible, Sendable {
        var m: Int, n: Int, k: Int, count: Int, ldbExtra: Int, ldcExtra: Int
        var description: String { "\(count)×(\(m)×\(k) · \(k)×\(n)) ld+\(ldbExtra)/\(ldcExtra)" }
    }

    static let shapes: [Shape] = [
        Shape(m: 1, n: 1, k: 1, count: 1, ldbExtra: 0, ldcExtra: 0),
        Shape(m: 6, n: 16, k: 8, count: 1, ldbExtra: 0, ldcExtra: 0),       // one whole tile
        Shape(m: 7, n: 17, k: 5, count: 1, ldbExtra: 3, ldcExtra: 5),       // partial panel and strip
        Shape(m: 13, n: 33, k: 40, count: 3, ldbExtra: 8, ldcExtra: 1),     // a batch of products
        Shape(m: 32, n: 1100, k: 27, count: 1, ldbExtra: 0, ldcExtra: 2),   // 3 column blocks (conv2d_1a)
        Shape(m: 50, n: 9, k: 2500, count: 1, ldbExtra: 0, ldcExtra: 0),    // deep, narrow (Block8 at batch 1)
        Shape(m: 24, n: 16, k: 300, count: 1, ldbExtra: 0, ldcExtra: 4),    // narrow, panels in pairs only
        Shape(m: 18, n: 48, k: 64, count: 2, ldbExtra: 1, ldcExtra: 0),     // strip pairs and a whole last strip
        Shape(m: 70, n: 14, k: 100, count: 2, ldbExtra: 2, ldcExtra: 3),    // 16-row panels: pairs, a partial one
        Shape(m: 33, n: 15, k: 20, count: 1, ldbExtra: 0, ldcExtra: 1),     // 16-row panels one at a time
    ]

    /// The kernel sets a product runs on (cfn_kernel_set): the machine's best (AVX-512 where
    /// the CPU has it), AVX2 at most, and BLAS per panel.
    enum Kernels: Int32, CustomStringConvertible, Sendable {
        case best = 0, portable = 1, avx2 = 2
        var description: String { ["best", "portable", "AVX2"][Int(rawValue)] }
    }

    enum Epilogue: Int32, CaseIterable, CustomStringConvertible, Sendable {
        case store = 0, biasReLU = 1, residual = 2
        var description: String { ["store", "bias + ReLU", "residual"][Int(rawValue)] }
    }

    static func values(_ count: Int, seed: UInt64) -> [Float] {
        FaceNetConvolutionTests.values(count, seed: seed)
    }

    /// Runs the engine; returns C (NaN-filled padding columns included) and the definition's C.
    static func run(_ s: Shape, _ epilogue: Epilogue, threads: Int, kernels: Kernels, panelRows: Int) throws -> (c: [Float], expected: [Double]) {
        let ldb = s.n + s.ldbExtra, ldc = s.n + s.ldcExtra
        let a = values(s.count * s.m * s.k, seed: UInt64(s.m * 7 + s.k))
        let b = values(s.count * s.k * ldb, seed: UInt64(s.n * 3 + 1))
        let bias = values(s.m, seed: 11)
        let scale: Float = 0.17
        let relu = epilogue != .store
        // Valid columns hold the residual's input; padding columns hold NaN and must stay so.
        var c = [Float](repeating: .nan, count: s.count * s.m * ldc)
        let initial = values(s.count * s.m * ldc, seed: 5)
        for i in 0..<s.count * s.m { for j in 0..<s.n { c[i * ldc + j] = initial[i * ldc + j] } }
        var expected = [Double](repeating: .nan, count: c.count)
        for p in 0..<s.count {
            for r in 0..<s.m {
                for j in 0..<s.n {
                    var sum = 0.0
                    for q in 0..<s.k {
                        sum += Double(a[(p * s.m + r) * s.k + q]) * Double(b[(p * s.k + q) * ldb + j])
                    }
                    let index = (p * s.m + r) * ldc + j
                    switch epilogue {
                    case .store: expected[index] = sum
                    case .biasReLU: expected[index] = max(sum + Double(bias[r]), 0)
                    case .residual: expected[index] = max(Double(c[index]) + Double(scale) * (sum + Double(bias[r])), 0)
                    }
                }
            }
        }
        let status = cfn_gemm_check(Int32(s.m), Int32(s.n), Int32(s.k), Int32(s.count), a, b, Int32(ldb), &c,
                                    Int32(ldc), epilogue.rawValue, bias, scale, relu ? 1 : 0, Int32(threads),
                                    kernels.rawValue, Int32(panelRows))
        try #require(status == 0)
        return (c, expected)
    }

    @Test("the product matches its definition", arguments: shapes, Epilogue.allCases)
    func product(shape: Shape, epilogue: Epilogue) throws {
        let runs: [(Int, Kernels)] = [(1, .best), (2, .best), (3, .best), (1, .avx2), (3, .avx2), (1, .portable), (3, .portable)]
        for (threads, kernels) in runs {
            for panelRows in [6, 16] {
                let (c, expected) = try Self.run(shape, epilogue, threads: threads, kernels: kernels, panelRows: panelRows)
                // Float sums of k products of values in [−1, 1): error grows with k.
                let tolerance = 1e-6 * Double(shape.k) + 1e-6
                var worst = 0.0, wrongPadding = 0
                for (value, reference) in zip(c, expected) {
                    if reference.isNaN {
                        if !value.isNaN { wrongPadding += 1 }
                    } else {
                        worst = max(worst, value.isNaN ? .infinity : abs(Double(value) - reference))
                    }
                }
                #expect(worst <= tolerance, "\(threads) workers, \(kernels) kernels, \(panelRows)-row panels: worst |Δ| \(worst)")
                #expect(wrongPadding == 0, "\(threads) workers, \(kernels) kernels, \(panelRows)-row panels: wrote past n columns")
            }
        }
    }

    @Test("bad arguments are refused")
    func badArguments() {
        var c = [Float](repeating: 0, count: 4)
        let a: [Float] = [1, 2, 3, 4], b: [Float] = [1, 2, 3, 4]
        #expect(cfn_gemm_check(2, 2, 2, 1, a, b, 1, &c, 2, 0, nil, 1, 0, 1, 0, 6) == -1) // ldb < n
        #expect(cfn_gemm_check(2, 2, 2, 1, a, b, 2, &c, 2, 3, nil, 1, 0, 1, 0, 6) == -1) // no epilogue 3
        #expect(cfn_gemm_check(2, 2, 2, 1, a, b, 2, &c, 2, 0, nil, 1, 0, 0, 0, 6) == -1) // no workers
        #expect(cfn_gemm_check(2, 2, 2, 1, a, b, 2, &c, 2, 0, nil, 1, 0, 1, 0, 8) == -1) // no 8-row panels
        #expect(cfn_gemm_check(2, 2, 2, 1, a, b, 2, &c, 2, 0, nil, 1, 0, 1, 0, 16) == 0)
        #expect(c == [7, 10, 15, 22])
    }
}
