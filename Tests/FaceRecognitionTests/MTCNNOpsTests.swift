import CFaceNet
import CFaceNetTesting
import Foundation
import Testing

/// The MTCNN building-block ops against torch goldens (Tests/Fixtures/mtcnn/ops.json).
@Suite(.ownThreads) struct MTCNNOpsTests {
    let ops: [String: Any]

    init() throws {
        ops = try #require(try MTCNNTestSupport.json("ops.json") as? [String: Any])
    }

    private func golden(_ key: String) throws -> [String: Any] {
        try #require(ops[key] as? [String: Any])
    }

    /// NCHW golden → CNHW, the ops' layout.
    private func toCNHW(_ x: [Float], n: Int, c: Int, hw: Int) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        for i in 0..<n { for ch in 0..<c { for p in 0..<hw { out[(ch * n + i) * hw + p] = x[(i * c + ch) * hw + p] } } }
        return out
    }

    @Test func preluMatchesTorch() throws {
        let g = try golden("prelu")
        var x = toCNHW(MTCNNTestSupport.floats(g["input"]), n: 2, c: 3, hw: 6)
        let slope = MTCNNTestSupport.floats(g["weight"])
        cfn_prelu(&x, 3, 12, 12, slope)
        let expected = toCNHW(MTCNNTestSupport.floats(g["output"]), n: 2, c: 3, hw: 6)
        #expect(MTCNNTestSupport.maxAbsDiff(x, expected) < 1e-6)
        // The negative-slope channel really flips signs: the test would see a plain ReLU.
        #expect(x.contains { $0 > 0 } && x.contains { $0 < 0 })
    }

    @Test func softmaxOverChannelsMatchesTorch() throws {
        let g = try golden("softmax")
        var x = toCNHW(MTCNNTestSupport.floats(g["input"]), n: 2, c: 2, hw: 4)
        cfn_softmax_rows(&x, 2, 8, 8)
        let expected = toCNHW(MTCNNTestSupport.floats(g["output"]), n: 2, c: 2, hw: 4)
        #expect(MTCNNTestSupport.maxAbsDiff(x, expected) < 1e-6)
        #expect(x.allSatisfy { $0.isFinite }) // the logit of 30 must not overflow
    }

    @Test(arguments: ["a", "b"]) func maxPoolCeilModeMatchesTorch(_ key: String) throws {
        let g = try #require(try golden("maxpool")[key] as? [String: Any])
        let c = try #require(g["c"] as? Int), h = try #require(g["h"] as? Int), w = try #require(g["w"] as? Int)
        let k = try #require(g["kernel"] as? Int), s = try #require(g["stride"] as? Int)
        let shape = try #require(g["out_shape"] as? [Int])
        let oh = Int(cfn_pool_out_extent(Int32(h), Int32(k), Int32(s), 0, 1))
        let ow = Int(cfn_pool_out_extent(Int32(w), Int32(k), Int32(s), 0, 1))
        #expect([oh, ow] == shape)
        let x = MTCNNTestSupport.floats(g["input"])
        var y = [Float](repeating: .nan, count: c * oh * ow)
        cfn_maxpool2d(x, Int32(c), Int32(h), Int32(w), Int32(k), Int32(s), 0, 1, &y)
        let expected = MTCNNTestSupport.floats(g["output"])
        #expect(MTCNNTestSupport.maxAbsDiff(y, expected) == 0)
        // The stride-2 fast path the nets use gives the same values, partial windows included.
        var fast = [Float](repeating: .nan, count: c * oh * ow)
        cfn_maxpool2d_s2_ceil(x, Int32(c), Int32(h), Int32(w), Int32(k), &fast)
        #expect(MTCNNTestSupport.maxAbsDiff(fast, expected) == 0)
    }

    @Test func fastMaxPoolAgreesWithGenericOneOnOddSizes() {
        // Every size parity at both kernels, against the generic op (itself checked above).
        for k: Int32 in [2, 3] {
            for h: Int32 in 3...8 {
                for w: Int32 in 3...9 {
                    let x = (0..<Int(2 * h * w)).map { Float(($0 * 37) % 101) - 50 }
                    let oh = cfn_pool_out_extent(h, k, 2, 0, 1), ow = cfn_pool_out_extent(w, k, 2, 0, 1)
                    var a = [Float](repeating: 0, count: Int(2 * oh * ow)), b = a
                    cfn_maxpool2d(x, 2, h, w, k, 2, 0, 1, &a)
                    cfn_maxpool2d_s2_ceil(x, 2, h, w, k, &b)
                    #expect(a == b, "kernel \(k), \(h)x\(w)")
                }
            }
        }
    }

    @Test func permutedLinearMatchesTorchFlatten() throws {
        let g = try golden("linear_permuted")
        let (n, c, h, w) = (2, 4, 3, 2)
        let x = toCNHW(MTCNNTestSupport.floats(g["input"]), n: n, c: c, hw: h * w)
        let weight = MTCNNTestSupport.floats(g["weight"]), bias = MTCNNTestSupport.floats(g["bias"])
        var permuted = [Float](repeating: 0, count: weight.count)
        cfn_linear_permute_hwc_weight(weight, 5, Int32(c), Int32(h), Int32(w), &permuted)
        var flat = [Float](repeating: 0, count: c * h * w * n)
        cfn_flatten_cnhw(x, Int32(c), Int32(n), Int32(h * w), &flat)
        var out = [Float](repeating: 0, count: 5 * n)
        cfn_linear_forward(permuted, bias, 5, Int32(c * h * w), flat, Int32(n), &out)
        // out is features × batch; the golden is batch × features.
        let expected = MTCNNTestSupport.floats(g["output"])
        var transposed = [Float](repeating: 0, count: out.count)
        for i in 0..<n { for o in 0..<5 { transposed[i * 5 + o] = out[o * n + i] } }
        #expect(MTCNNTestSupport.maxAbsDiff(transposed, expected) < 1e-4)
        // Without the permutation the result differs: the golden really exercises the order.
        var unpermuted = [Float](repeating: 0, count: 5 * n)
        cfn_linear_forward(weight, bias, 5, Int32(c * h * w), flat, Int32(n), &unpermuted)
        #expect(MTCNNTestSupport.maxAbsDiff(unpermuted, out) > 1e-2)
    }
}
