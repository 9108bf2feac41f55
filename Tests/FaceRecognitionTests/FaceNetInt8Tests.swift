import CFaceNet
import CFaceNetTesting
import Foundation
import Testing

@testable import FaceRecognition

/// The opt-in int8 FaceNet: its kernels against the plain C reference, and its embeddings and
/// identities against the float32 network's, with the synthetic weights of the parity tests on
/// real faces.
@Suite("FaceNet int8", .ownThreads)
struct FaceNetInt8Tests {
    /// 1 plain C, 2 AVX2, 3 AVX-512 VNNI, as cfn_q_gemm_test numbers them minus one.
    enum Kernels: Int32, CaseIterable, CustomTestStringConvertible {
        case reference = 0, avx2 = 1, vnni = 2
        var testDescription: String { "\(self)" }
        /// Whether this CPU runs them (the test entry says 0 when it does not).
        var available: Bool {
            var acc = [Int32](repeating: 0, count: 16)
            return cfn_q_gemm_test([Int8](repeating: 1, count: 16), [UInt8](repeating: 1, count: 1), 16, 1, 1, rawValue, &acc) == 1
        }
    }

    /// A deterministic stream of bytes (a 64-bit LCG's high bits).
    struct Bytes {
        var state: UInt64
        mutating func next() -> UInt8 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
    }

    /// The product in plain Swift integers: the definition every kernel must meet.
    static func product(_ w: [Int8], _ x: [UInt8], rows: Int, columns: Int, depth: Int) -> [Int32] {
        var acc = [Int32](repeating: 0, count: rows * columns)
        for c in 0..<columns {
            for r in 0..<rows {
                var sum: Int32 = 0
                for k in 0..<depth { sum += Int32(w[r * depth + k]) * Int32(x[c * depth + k]) }
                acc[c * rows + r] = sum
            }
        }
        return acc
    }

    @Test("the plain C int8 kernel computes the exact integer product on random data, extremes included")
    func referenceExact() throws { try Self.checkExact(.reference) }

    @Test("the AVX2 int8 kernel computes the exact integer product (no vpmaddubsw saturation)",
          .enabled(if: Kernels.avx2.available, "this CPU lacks AVX2 + FMA"))
    func avx2Exact() throws { try Self.checkExact(.avx2) }

    @Test("the AVX-512 VNNI int8 kernel computes the exact integer product",
          .enabled(if: Kernels.vnni.available, "this CPU lacks AVX-512 VNNI"))
    func vnniExact() throws { try Self.checkExact(.vnni) }

    /// Random products of several shapes on `kernels` against ``product(_:_:rows:columns:depth:)``.
    static func checkExact(_ kernels: Kernels) throws {
        var bytes = Bytes(state: 0x5EED_0000 &+ UInt64(kernels.rawValue))
        // Rows one and several panels (odd counts take the one-panel tile); depths off and on the
        // groups of 4; columns below, at and past a micro-tile of 8.
        let shapes = [(16, 1, 1), (16, 7, 3), (32, 8, 4), (48, 9, 37), (80, 17, 288), (96, 3, 1792), (32, 25, 2304)]
        for (rows, columns, depth) in shapes {
            var w = (0..<rows * depth).map { _ in Int8(Int(bytes.next()) % 127 - 63) }
            var x = (0..<columns * depth).map { _ in bytes.next() }
            // The extremes where vpmaddubsw would saturate with 8-bit weights: 255 · ±63, paired.
            for k in 0..<min(depth, 8) { w[k] = k % 2 == 0 ? 63 : -63; x[k] = 255 }
            if depth >= 2 { w[depth] = 63; w[depth + 1] = 63; x[depth] = 255; x[depth + 1] = 255 }
            var got = [Int32](repeating: .min, count: rows * columns)
            #expect(cfn_q_gemm_test(w, x, Int32(rows), Int32(columns), Int32(depth), kernels.rawValue, &got) == 1)
            let want = Self.product(w, x, rows: rows, columns: columns, depth: depth)
            #expect(got == want, "\(kernels) \(rows)×\(columns)×\(depth)")
        }
        var acc = [Int32](repeating: 0, count: 16)
        #expect(cfn_q_gemm_test([Int8](repeating: 1, count: 16), [1], 15, 1, 1, kernels.rawValue, &acc) == -1)
    }

    /// A float32 layer of the int8 network (conv2d_1a, 2a and 3b run in float32) on every
    /// build of its loop: the same floats, and the convolution itself within float rounding.
    @Test("the int8 network's float32 layers give the same floats on the plain, AVX2 and AVX-512 builds, and the convolution")
    func floatLayerBuilds() throws {
        var bytes = Bytes(state: 0xF10A7)
        // 24 significant bits, so that products round: with 8-bit values every product is exact
        // in float32 and a build that fused multiply and add would give the same floats.
        func random() -> Float {
            let bits = (0..<3).reduce(0) { value, _ in value << 8 | Int(bytes.next()) }
            return Float(bits) / Float(1 << 23) - 1
        }
        // conv2d_1a's shape (3 channels, 3×3 stride 2, no padding) and a padded 3×3 and a 1×1.
        for (cin, cout, k, stride, pad) in [(3, 32, 3, 2, 0), (5, 16, 3, 1, 1), (64, 80, 1, 1, 0)] {
            let n = 2, h = 19, w = 17
            let x = (0..<n * h * w * cin).map { _ in random() }
            let weight = (0..<cout * cin * k * k).map { _ in random() }
            let bias = (0..<cout).map { _ in random() }
            let oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1
            var plain = [Float](repeating: .nan, count: n * oh * ow * cout)
            #expect(cfn_fconv_test(x, Int32(n), Int32(h), Int32(w), Int32(cin), weight, bias, Int32(cout), Int32(k),
                                   Int32(stride), Int32(pad), 0, 1, 0, 0, &plain) == 1)
            for image in 0..<n {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        for o in 0..<cout {
                            var sum = Double(bias[o])
                            for c in 0..<cin {
                                for ky in 0..<k {
                                    for kx in 0..<k {
                                        let iy = oy * stride - pad + ky, ix = ox * stride - pad + kx
                                        guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                                        sum += Double(x[((image * h + iy) * w + ix) * cin + c]) * Double(weight[((o * cin + c) * k + ky) * k + kx])
                                    }
                                }
                            }
                            let got = plain[((image * oh + oy) * ow + ox) * cout + o]
                            #expect(abs(Double(got) - sum) <= 1e-4 * max(1, abs(sum)), "\(cin)→\(cout) k\(k) at \(image),\(oy),\(ox),\(o)")
                        }
                    }
                }
            }
            // The epilogues: none, ReLU (the network's float32 layers), a residual
            // up-projection's out + scale · v then ReLU, and the last block's residual without
            // ReLU (out starts as other random floats, half of them below 0).
            let residualInput = (0..<plain.count).map { _ in random() }
            for (residual, scale, relu): (Int32, Float, Int32) in [(0, 1, 0), (0, 1, 1), (1, 0.17, 1), (1, 1, 0)] {
                var base = residual == 1 ? residualInput : [Float](repeating: .nan, count: plain.count)
                #expect(cfn_fconv_test(x, Int32(n), Int32(h), Int32(w), Int32(cin), weight, bias, Int32(cout), Int32(k),
                                       Int32(stride), Int32(pad), residual, scale, relu, 0, &base) == 1)
                // The plain build against the epilogue's definition on the convolution's output
                // (`plain`, checked above), in Swift's unfused float arithmetic: bit for bit.
                let expected = (0..<plain.count).map { i -> Float in
                    let t = residual == 1 ? residualInput[i] + scale * plain[i] : plain[i]
                    return relu == 1 && t < 0 ? 0 : t
                }
                let wrong = zip(base, expected).filter { $0.0.bitPattern != $0.1.bitPattern }.count
                #expect(wrong == 0, "plain build, epilogue \((residual, scale, relu)): \(wrong) floats differ from the definition")
                if relu == 1 { #expect(base.contains(0)) } // the ReLU had something to do
                for build: Int32 in [1, 2] { // 1 AVX2, 2 AVX-512; status 0: this CPU lacks it
                    var wide = residual == 1 ? residualInput : [Float](repeating: .nan, count: plain.count)
                    let ran = cfn_fconv_test(x, Int32(n), Int32(h), Int32(w), Int32(cin), weight, bias, Int32(cout), Int32(k),
                                             Int32(stride), Int32(pad), residual, scale, relu, build, &wide)
                    if ran == 1 {
                        let differing = zip(wide, base).filter { $0.0.bitPattern != $0.1.bitPattern }.count
                        #expect(differing == 0, "build \(build), \(cin)→\(cout) k\(k), epilogue \((residual, scale, relu)): \(differing) floats differ")
                    } else {
                        #expect(ran == 0)
                        print("FaceNetInt8Tests: the float32 loop's build \(build) does not run on this CPU")
                    }
                }
            }
            #expect(cfn_fconv_test(x, Int32(n), Int32(h), Int32(w), Int32(cin), weight, bias, Int32(cout), Int32(k),
                                   Int32(stride), Int32(pad), 0, 1, 0, 3, &plain) == -1)
        }
    }

    // ---- The network --------------------------------------------------------------------------

    /// The largest face of face_images_100 images (real photos, 64×64), cropped by MTCNN at
    /// FaceNet's 160×160 as the pipeline crops.
    static func sampleFaces(_ range: Range<Int>) throws -> [RGBImage] {
        let detector = try MTCNNTestSupport.detector(MTCNNOptions(imageSize: 160))
        return try range.map { i in
            let image = try ImageDecoder.decode(contentsOf: TestPaths.data(String(format: "face_images_100/test_%02d.jpg", i)))
            return try #require(try detector.extractFaces(image).first).image
        }
    }

    /// Calibration crops: the faces of photos/multiface.jpg and of face_images_100's test_00 …
    /// test_04 (the set repeats ten distinct photos: test_i is test_(i mod 10)), 160×160.
    static func calibrationFaces() throws -> [RGBImage] {
        let detector = try MTCNNTestSupport.detector(MTCNNOptions(keepAll: true, imageSize: 160))
        let group = try ImageDecoder.decode(contentsOf: TestPaths.data("photos/multiface.jpg"))
        return try detector.extractFaces(group).map(\.image) + sampleFaces(0..<5)
    }

    /// The synthetic-weight network in int8, calibrated on ``calibrationFaces()``.
    static var int8: FaceNet { get throws { try loadedInt8.get() } }
    private static let loadedInt8 = Result {
        try FaceNet(stateDict: try FaceNetParityTests.weights, precision: .int8(calibration: try calibrationFaces()))
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } // both unit length
    }

    /// The bound is what this synthetic-weight network reaches at 160×160 when calibrated on
    /// other faces, less a margin (min 0.9944, mean 0.9959 on 2026-12-07; with every convolution
    /// in int8 it was min 0.984, mean 0.990); a broken int8 layer lands far below it. The 0.995
    /// int8 aims for is a 240×240 figure (``cosineAt240()``).
    @Test("int8 embeddings are within cosine 0.99 of float32 on real 160×160 face crops it was not calibrated on")
    func cosineToFloat() throws {
        let facenet = try Self.int8
        #expect(facenet.precision == .int8)
        var crops = try FaceNetParityTests.goldens.cases.filter { $0.width == 160 && $0.height == 160 }
            .flatMap { try FaceNetParityTests.crops($0) }
        crops += try Self.sampleFaces(5..<10) // the five distinct photos not calibrated on
        let float = try FaceNetParityTests.facenet.embed(crops)
        let quantised = try facenet.embed(crops)
        let cosines = zip(float, quantised).map { Self.cosine($0, $1) }
        print("int8 vs float32 cosine on \(cosines.count) crops: min \(cosines.min()!), mean \(cosines.reduce(0, +) / Float(cosines.count))")
        #expect(cosines.allSatisfy { $0 >= 0.99 }, "\(cosines)")
        #expect(cosines.reduce(0, +) / Float(cosines.count) >= 0.993)
        // Not the float network in disguise: the embeddings do differ.
        #expect(cosines.contains { $0 < 0.99999 })
        // One image's embedding does not depend on its batch (the integer layers are exact; the
        // float last layer's BLAS product may round differently for another batch size).
        let alone = try facenet.embed([crops[5]])[0]
        #expect(zip(alone, quantised[5]).allSatisfy { abs($0 - $1) <= 1e-5 })
    }

    /// The pipeline's crops (MTCNN at 240×240) of the ten distinct photos face_images_1000 repeats
    /// (face_images_100's test_00 … test_09), and the int8 network calibrated on multiface.jpg's
    /// faces cropped the same way: other people.
    static let at240 = Result { () throws -> (crops: [RGBImage], int8: FaceNet) in
        let group = try ImageDecoder.decode(contentsOf: TestPaths.data("photos/multiface.jpg"))
        let calibration = try MTCNNTestSupport.detector(MTCNNOptions(keepAll: true, imageSize: 240)).extractFaces(group).map(\.image)
        let detector = try MTCNNTestSupport.detector(MTCNNOptions(imageSize: 240))
        let crops = try (0..<10).map { i in
            let image = try ImageDecoder.decode(contentsOf: TestPaths.data(String(format: "face_images_100/test_%02d.jpg", i)))
            return try #require(try detector.extractFaces(image).first).image
        }
        return (crops, try FaceNet(stateDict: try FaceNetParityTests.weights, precision: .int8(calibration: calibration)))
    }

    /// int8 aims for cosine ≥ 0.995 to float32 on every crop of face_images_1000 (README, "int8
    /// FaceNet"); on its ten photos, calibrated on multiface.jpg, the network reaches min 0.9982
    /// (2026-12-07), and 0.9951 with every convolution in int8: the bound, 0.997, fails if the
    /// float32 stem layers or the calibration regress.
    @Test("int8 embeddings are within cosine 0.997 of float32 on the pipeline's 240×240 crops of face_images_1000's ten photos, calibrated on other faces")
    func cosineAt240() throws {
        let (crops, int8) = try Self.at240.get()
        let float = try FaceNetParityTests.facenet.embed(crops)
        let cosines = zip(float, try int8.embed(crops)).map { Self.cosine($0, $1) }
        print("int8 vs float32 cosine on the ten 240×240 crops: min \(cosines.min()!), mean \(cosines.reduce(0, +) / Float(cosines.count))")
        #expect(cosines.count == 10)
        #expect(cosines.allSatisfy { $0 >= 0.997 }, "\(cosines)")
    }

    @Test("every kernel path gives the same int8 embeddings, bit for bit")
    func pathsAgree() throws {
        let facenet = try Self.int8
        var input: [Float] = []
        for crop in try Self.sampleFaces(8..<10) { FaceNet.appendStandardized(crop, to: &input) }
        func embed(_ kernels: cfn_kernel_set, threads: Int32) throws -> [Float] {
            let context = try #require(InferenceContext())
            cfn_context_set_kernels(context.handle, kernels)
            cfn_context_set_threads(context.handle, threads)
            var out = [Float](repeating: .nan, count: 2 * 512)
            #expect(cfn_facenet_int8_embed(facenet.model.handle, context.handle, input, 2, 160, 160, &out) == CFN_OK)
            return out
        }
        let best = try embed(CFN_KERNELS_BEST, threads: 2)
        #expect(try embed(CFN_KERNELS_AVX2, threads: 1) == best)
        #expect(try embed(CFN_KERNELS_PORTABLE, threads: 2) == best)
    }

    /// face_images_100 repeats ten distinct photos (test_i is test_(i mod 10)): the ten are used.
    @Test("identities match float32's on the ten distinct face_images_100 photos wherever float32's choice is not a near tie")
    func identifyAgreement() throws {
        let detector = try MTCNNTestSupport.detector()
        let gallery = try Gallery.load(contentsOf: GalleryTests.coursePT)
        let images = try (0..<10).map {
            try ImageDecoder.decode(contentsOf: TestPaths.data(String(format: "face_images_100/test_%02d.jpg", $0)))
        }
        // Calibrated on 240×240 MTCNN crops (the pipeline's) of multiface.jpg's faces.
        let group = try ImageDecoder.decode(contentsOf: TestPaths.data("photos/multiface.jpg"))
        let calibration = try MTCNNTestSupport.detector(MTCNNOptions(keepAll: true)).extractFaces(group).map(\.image)
        let int8 = try FaceNet(stateDict: try FaceNetParityTests.weights, precision: .int8(calibration: calibration))
        let float = FaceRecognizer(detector: detector, facenet: try FaceNetParityTests.facenet, gallery: gallery,
                                   options: .init(threshold: .infinity, topK: 2))
        let quantised = FaceRecognizer(detector: detector, facenet: int8, gallery: gallery,
                                       options: .init(threshold: .infinity, topK: 2))
        var agree = 0, ties = 0, total = 0
        var disagreements: [String] = []
        for (i, (a, b)) in zip(try float.recognize(batch: images), try quantised.recognize(batch: images)).enumerated() {
            guard let fa = a.first, let fb = b.first else { continue }
            total += 1
            if fa.match?.name == fb.match?.name { agree += 1; continue }
            // The synthetic network's nearest and second-nearest gallery entries can be very close.
            let margin = fa.candidates.count > 1 ? fa.candidates[1].distance - fa.candidates[0].distance : .infinity
            if margin < 0.01 { ties += 1 } else { disagreements.append("test_\(i): margin \(margin)") }
        }
        print("int8 identify agreement with float32 on face_images_100: \(agree)/\(total) (\(ties) near ties, margin < 0.01)")
        #expect(total == 10)
        #expect(agree >= 8)
        #expect(disagreements.isEmpty, "\(disagreements)")
    }

    @Test("int8 without usable calibration crops is refused, naming the problem")
    func badCalibration() throws {
        let weights = try FaceNetParityTests.weights
        let small = try RGBImage(width: 64, height: 64, pixels: [UInt8](repeating: 100, count: 64 * 64 * 3))
        let crops = try Self.sampleFaces(0..<1)
        for (bad, word) in [([RGBImage](), "no calibration"), ([small], "smaller"),
                            ([crops[0], crops[0].resizedBilinear(width: 120, height: 120)], "one size")] {
            #expect {
                try FaceNet(stateDict: weights, precision: .int8(calibration: bad))
            } throws: { error in
                guard case InferenceError.invalidInput(_, let message) = error else { return false }
                return message.contains(word)
            }
        }
    }
}
