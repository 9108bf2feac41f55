import CFaceNet
import CFaceNetTesting
import Testing

/// FaceNet's MaxPool2d(3, stride 2) (Mixed_6a, Mixed_7a and after conv2d_2b: floor mode, every
/// window inside the plane), which runs 16 output columns at a time with AVX-512 where the CPU
/// has it and the plain loop on AVX2-capped contexts. Both checked against the definition, NaN
/// propagation included, on the network's map sizes and on widths that end a 16-column group
/// anywhere.
@Suite("FaceNet max-pool", .ownThreads)
struct FaceNetPoolTests {
    @Test("3×3 stride-2 max-pool matches its definition", arguments: [(77, 77), (17, 17), (8, 8), (3, 35), (38, 67), (9, 3)],
          [CFN_KERNELS_BEST, CFN_KERNELS_AVX2])
    func pool(size: (Int, Int), kernels: cfn_kernel_set) throws {
        let (h, w) = size, planes = 3
        var state: UInt64 = UInt64(h * 1000 + w)
        let input: [Float] = (0..<planes * h * w).map { i in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            if i % 97 == 13 { return .nan }
            if i % 89 == 5 { return -.infinity }
            return Float(Int64(bitPattern: state >> 11) % 2_000_000) / 1_000_000 - 1
        }
        let oh = (h - 3) / 2 + 1, ow = (w - 3) / 2 + 1
        var out = [Float](repeating: 42, count: planes * oh * ow + 1) // one past: must stay 42
        try #require(cfn_maxpool3x3_s2_check(input, Int32(planes), Int32(h), Int32(w), Int32(kernels.rawValue), &out) == 0)
        var wrong = 0
        for p in 0..<planes {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var best = -Float.infinity, sawNaN = false
                    for y in 2 * oy..<2 * oy + 3 {
                        for x in 2 * ox..<2 * ox + 3 {
                            let v = input[(p * h + y) * w + x]
                            if v.isNaN { sawNaN = true } else { best = max(best, v) }
                        }
                    }
                    let got = out[(p * oh + oy) * ow + ox]
                    if sawNaN ? !got.isNaN : got != best { wrong += 1 }
                }
            }
        }
        #expect(wrong == 0, "\(h)×\(w), kernels \(kernels.rawValue): \(wrong) outputs differ from the definition")
        #expect(out[planes * oh * ow] == 42, "wrote past the output")
    }
}
