import CFaceNet
import Foundation
import Testing
@testable import FaceRecognition

/// P-Net, R-Net and O-Net forward passes against facenet-pytorch's modules on deterministic
/// inputs (Tests/Fixtures/mtcnn/nets.json), and the builders' error reporting.
@Suite(.ownThreads) struct MTCNNNetsTests {
    let nets: [String: Any]
    let networks: MTCNNNetworks

    init() throws {
        nets = try #require(try MTCNNTestSupport.json("nets.json") as? [String: Any])
        networks = try MTCNNTestSupport.networks()
    }

    @Test func pnetMatchesTorch() throws {
        let g = try #require(nets["pnet"] as? [String: Any])
        let (n, h, w) = (2, 17, 23)
        let shape = try #require(g["reg_shape"] as? [Int])
        var oh: Int32 = 0, ow: Int32 = 0
        cfn_mtcnn_pnet_output_size(Int32(h), Int32(w), &oh, &ow)
        #expect([n, 4, Int(oh), Int(ow)] == shape)
        let cells = Int(oh * ow)
        let input = MTCNNTestSupport.formulaInput(n: n, height: h, width: w, seed: 5)
        let goldenReg = MTCNNTestSupport.floats(g["reg"]), goldenProb = MTCNNTestSupport.floats(g["prob"])
        let ctx = try #require(cfn_context_create())
        defer { cfn_context_destroy(ctx) }
        for i in 0..<n {
            var prob = [Float](repeating: 0, count: cells), reg = [Float](repeating: 0, count: 4 * cells)
            let image = Array(input[(i * 3 * h * w)..<((i + 1) * 3 * h * w)])
            #expect(cfn_mtcnn_pnet_forward(networks.pnet, ctx, image, Int32(h), Int32(w), &prob, &reg) == CFN_OK)
            let expectedProb = Array(goldenProb[(i * 2 * cells + cells)..<((i + 1) * 2 * cells)])
            let expectedReg = Array(goldenReg[(i * 4 * cells)..<((i + 1) * 4 * cells)])
            #expect(MTCNNTestSupport.maxAbsDiff(prob, expectedProb) < 1e-5)
            #expect(MTCNNTestSupport.maxAbsDiff(reg, expectedReg) < 1e-5)
        }
    }

    @Test func rnetMatchesTorch() throws {
        let g = try #require(nets["rnet"] as? [String: Any])
        let n = 3
        let input = MTCNNTestSupport.formulaInput(n: n, height: 24, width: 24, seed: 11)
        var prob = [Float](repeating: 0, count: n), reg = [Float](repeating: 0, count: 4 * n)
        let ctx = try #require(cfn_context_create())
        defer { cfn_context_destroy(ctx) }
        #expect(cfn_mtcnn_rnet_forward(networks.rnet, ctx, input, Int32(n), &prob, &reg) == CFN_OK)
        let goldenProb = MTCNNTestSupport.floats(g["prob"])
        #expect(MTCNNTestSupport.maxAbsDiff(prob, (0..<n).map { goldenProb[2 * $0 + 1] }) < 1e-5)
        #expect(MTCNNTestSupport.maxAbsDiff(reg, MTCNNTestSupport.floats(g["reg"])) < 1e-5)
    }

    @Test func onetMatchesTorchIncludingLandmarks() throws {
        let g = try #require(nets["onet"] as? [String: Any])
        let n = 2
        let input = MTCNNTestSupport.formulaInput(n: n, height: 48, width: 48, seed: 3)
        var prob = [Float](repeating: 0, count: n), reg = [Float](repeating: 0, count: 4 * n)
        var marks = [Float](repeating: 0, count: 10 * n)
        let ctx = try #require(cfn_context_create())
        defer { cfn_context_destroy(ctx) }
        #expect(cfn_mtcnn_onet_forward(networks.onet, ctx, input, Int32(n), &prob, &reg, &marks) == CFN_OK)
        let goldenProb = MTCNNTestSupport.floats(g["prob"])
        #expect(MTCNNTestSupport.maxAbsDiff(prob, (0..<n).map { goldenProb[2 * $0 + 1] }) < 1e-5)
        #expect(MTCNNTestSupport.maxAbsDiff(reg, MTCNNTestSupport.floats(g["reg"])) < 1e-5)
        #expect(MTCNNTestSupport.maxAbsDiff(marks, MTCNNTestSupport.floats(g["landmarks"])) < 1e-5)
    }

    @Test func largeBatchesAreChunkedWithoutChangingResults() throws {
        // 300 crops span several internal chunks; each must equal its single-crop result.
        let n = 300
        let input = MTCNNTestSupport.formulaInput(n: n, height: 24, width: 24, seed: 1)
        var prob = [Float](repeating: 0, count: n), reg = [Float](repeating: 0, count: 4 * n)
        let ctx = try #require(cfn_context_create())
        defer { cfn_context_destroy(ctx) }
        #expect(cfn_mtcnn_rnet_forward(networks.rnet, ctx, input, Int32(n), &prob, &reg) == CFN_OK)
        for i in [0, 127, 128, 255, 299] {
            var p: Float = 0
            var r = [Float](repeating: 0, count: 4)
            let one = Array(input[(i * 1728)..<((i + 1) * 1728)])
            #expect(cfn_mtcnn_rnet_forward(networks.rnet, ctx, one, 1, &p, &r) == CFN_OK)
            #expect(abs(p - prob[i]) < 1e-5)
            #expect(MTCNNTestSupport.maxAbsDiff(r, Array(reg[(4 * i)..<(4 * i + 4)])) < 1e-5)
        }
    }

    @Test func bandedPnetEqualsWholeImagePnet() throws {
        // A 300×1000 input is processed in bands; compare against the golden-free identity that
        // each output row only depends on its 12-row input window: run the bottom rows alone.
        let (h, w) = (300, 1000)
        let input = MTCNNTestSupport.formulaInput(n: 1, height: h, width: w, seed: 9)
        var oh: Int32 = 0, ow: Int32 = 0
        cfn_mtcnn_pnet_output_size(Int32(h), Int32(w), &oh, &ow)
        let cells = Int(oh * ow)
        var prob = [Float](repeating: 0, count: cells), reg = [Float](repeating: 0, count: 4 * cells)
        let ctx = try #require(cfn_context_create())
        defer { cfn_context_destroy(ctx) }
        #expect(cfn_mtcnn_pnet_forward(networks.pnet, ctx, input, Int32(h), Int32(w), &prob, &reg) == CFN_OK)
        // Output rows 100..<145 need input rows 200..<300 (the bottom edge, ceil-mode pooling).
        let top = 200, rows = h - top
        var sub = [Float](repeating: 0, count: 3 * rows * w)
        for c in 0..<3 { for y in 0..<rows { for x in 0..<w { sub[(c * rows + y) * w + x] = input[(c * h + top + y) * w + x] } } }
        var soh: Int32 = 0, sow: Int32 = 0
        cfn_mtcnn_pnet_output_size(Int32(rows), Int32(w), &soh, &sow)
        #expect(Int(soh) == Int(oh) - top / 2)
        var sprob = [Float](repeating: 0, count: Int(soh * sow)), sreg = [Float](repeating: 0, count: 4 * Int(soh * sow))
        #expect(cfn_mtcnn_pnet_forward(networks.pnet, ctx, sub, Int32(rows), Int32(w), &sprob, &sreg) == CFN_OK)
        #expect(MTCNNTestSupport.maxAbsDiff(sprob, Array(prob[(top / 2 * Int(ow))...])) < 1e-5)
    }

    @Test func missingTensorIsNamedInTheError() throws {
        var dict = try MTCNNTestSupport.stateDict("rnet.pt")
        dict.tensors["dense4.weight"] = nil
        #expect {
            _ = try MTCNNNetworks(pnet: MTCNNTestSupport.stateDict("pnet.pt"), rnet: dict,
                                  onet: MTCNNTestSupport.stateDict("onet.pt"))
        } throws: { error in
            guard case let .invalidWeights(net, reason) = error as? MTCNNError else { return false }
            return net == "R-Net" && reason.contains("dense4.weight")
        }
    }

    @Test func wrongShapeAndNonFiniteAreRejected() throws {
        var dict = try MTCNNTestSupport.stateDict("onet.pt")
        dict.tensors["conv4.weight"] = Tensor(shape: [128, 64, 3, 3], scalars: [Float](repeating: 0, count: 128 * 64 * 9))
        var nan = try MTCNNTestSupport.stateDict("pnet.pt")
        var slope = try #require(nan.tensors["prelu2.weight"])
        slope.scalars[3] = .nan
        nan.tensors["prelu2.weight"] = slope
        let pnet = try MTCNNTestSupport.stateDict("pnet.pt"), rnet = try MTCNNTestSupport.stateDict("rnet.pt")
        #expect { _ = try MTCNNNetworks(pnet: pnet, rnet: rnet, onet: dict) } throws: { error in
            "\(error)".contains("conv4.weight") && "\(error)".contains("[128, 64, 3, 3]")
        }
        #expect { _ = try MTCNNNetworks(pnet: nan, rnet: rnet, onet: MTCNNTestSupport.stateDict("onet.pt")) } throws: { error in
            "\(error)".contains("prelu2.weight") && "\(error)".contains("non-finite")
        }
    }

    @Test func badArgumentsReturnErrorsNotCrashes() throws {
        let ctx = try #require(cfn_context_create())
        defer { cfn_context_destroy(ctx) }
        var prob = [Float](repeating: 0, count: 4), reg = [Float](repeating: 0, count: 16)
        let tiny = [Float](repeating: 0, count: 3 * 11 * 11)
        #expect(cfn_mtcnn_pnet_forward(networks.pnet, ctx, tiny, 11, 11, &prob, &reg) == CFN_ERROR_INVALID_ARGUMENT)
        #expect(String(cString: cfn_context_last_error(ctx)).contains("smaller than 12"))
        #expect(cfn_mtcnn_rnet_forward(networks.rnet, ctx, tiny, -1, &prob, &reg) == CFN_ERROR_INVALID_ARGUMENT)
        let pixels = [UInt8](repeating: 0, count: 10 * 10 * 3)
        var out = [Float](repeating: 0, count: 3 * 24 * 24)
        #expect(cfn_mtcnn_resample(ctx, pixels, 10, 10, 30, 5, 5, 11, 9, 24, 24, &out) == CFN_ERROR_INVALID_ARGUMENT)
        #expect(String(cString: cfn_context_last_error(ctx)).contains("outside"))
    }
}
