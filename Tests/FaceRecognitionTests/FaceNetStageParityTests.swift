import CFaceNet
import CFaceNetTesting
import Foundation
import Testing

@testable import FaceRecognition

/// FaceNet stage by stage against facenet-pytorch: `make_facenet_goldens.py` records, for the
/// first 160 × 160 crop, each InceptionResnetV1 stage's output shape, mean, standard deviation
/// and first four values (`stages_160_image0`). The forward pass here hands each stage's output
/// to a test observer (`cfn_facenet_embed_observed`), so a wrong layer fails the case of the
/// first stage it feeds, by name, instead of only the final embedding.
@Suite("FaceNet parity per stage", .ownThreads)
struct FaceNetStageParityTests {
    struct StageSummary: Decodable, Sendable {
        let shape: [Int]
        let mean: Double
        let std: Double
        let first: [Double]
    }
    struct StageGoldens: Decodable {
        let stages_160_image0: [String: StageSummary]
    }

    /// The stages in forward order, as facenet-pytorch names its modules.
    static let stages = ["conv2d_4b", "repeat_1", "mixed_6a", "repeat_2", "mixed_7a", "repeat_3", "block8", "last_bn"]

    static var goldens: [String: StageSummary] { get throws { try loadedGoldens.get() } }
    private static let loadedGoldens = FixtureError.loading(FaceNetParityTests.fixtures.appendingPathComponent("goldens.json"),
                                                            remedy: FaceNetParityTests.remedy) {
        try JSONDecoder().decode(StageGoldens.self, from: Data(contentsOf: $0)).stages_160_image0
    }

    /// One observed stage: its dimensions and the same summary the goldens hold.
    struct Observed: Sendable {
        let shape: [Int]
        let mean: Double
        let std: Double
        let first: [Double]
    }

    /// Collects the observer's calls (made on the calling thread, during the pass).
    final class Recorder {
        var stages: [(name: String, observed: Observed)] = []
    }

    /// The kernel sets a pass can run: the machine's best (Winograd and the widest products),
    /// and the portable path every CPU runs.
    enum Kernels: String, CaseIterable, Sendable {
        case best, portable
        var set: cfn_kernel_set { self == .best ? CFN_KERNELS_BEST : CFN_KERNELS_PORTABLE }
    }

    /// Runs the first 160 × 160 golden crop through FaceNet on `kernels`, recording each stage.
    static func observe(_ kernels: Kernels) throws -> [(name: String, observed: Observed)] {
        let c = try #require(try FaceNetParityTests.goldens.cases.first { $0.height == 160 && $0.inputs.count == 1 })
        var input: [Float] = []
        for crop in try FaceNetParityTests.crops(c) { FaceNet.appendStandardized(crop, to: &input) }
        let facenet = try FaceNetParityTests.facenet
        let context = try #require(InferenceContext())
        cfn_context_set_kernels(context.handle, kernels.set)
        let recorder = Recorder()
        var output = [Float](repeating: .nan, count: 512)
        let observer: cfn_facenet_stage_observer = { user, stage, x, channels, n, h, w in
            guard let user, let stage, let x else { return }
            let recorder = Unmanaged<Recorder>.fromOpaque(user).takeUnretainedValue()
            let values = UnsafeBufferPointer(start: x, count: Int(channels) * Int(n) * Int(h) * Int(w))
            let count = Double(values.count)
            let mean = values.reduce(0.0) { $0 + Double($1) } / count
            let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / (count - 1)
            // Image 0 of a batch of one: CNHW and NCHW agree, so the first values are PyTorch's.
            let shape = h == 1 && w == 1 ? [Int(n), Int(channels)] : [Int(n), Int(channels), Int(h), Int(w)]
            recorder.stages.append((String(cString: stage),
                                    Observed(shape: shape, mean: mean, std: variance.squareRoot(), first: values.prefix(4).map(Double.init))))
        }
        let status = withExtendedLifetime(recorder) {
            input.withUnsafeBufferPointer { x in
                output.withUnsafeMutableBufferPointer { y in
                    cfn_facenet_embed_observed(facenet.model.handle, context.handle, x.baseAddress, 1, 160, 160, y.baseAddress,
                                               observer, Unmanaged.passUnretained(recorder).toOpaque())
                }
            }
        }
        try #require(status == CFN_OK)
        return recorder.stages
    }

    /// One pass per kernel set, shared by the stage cases.
    private static let observedBest = Result { try observe(.best) }
    private static let observedPortable = Result { try observe(.portable) }
    static func observed(_ kernels: Kernels) throws -> [(name: String, observed: Observed)] {
        try (kernels == .best ? observedBest : observedPortable).get()
    }

    @Test("the pass reports every stage once, in facenet-pytorch's order", arguments: Kernels.allCases)
    func order(kernels: Kernels) throws {
        #expect(try Self.observed(kernels).map(\.name) == Self.stages)
    }

    /// Tolerances: the embeddings agree within 1e-4 per component; a stage's values (order 1)
    /// agree to a few 1e-5, so 1e-4 relative to the larger of 1 and the value.
    static func close(_ a: Double, _ b: Double, tolerance: Double = 1e-4) -> Bool {
        abs(a - b) <= tolerance * max(1, abs(b))
    }

    @Test("each stage matches facenet-pytorch: shape, mean, std and first values",
          arguments: Kernels.allCases, stages)
    func stage(kernels: Kernels, name: String) throws {
        let expected = try #require(try Self.goldens[name], "no golden for stage \(name)")
        let observed = try #require(try Self.observed(kernels).first { $0.name == name }?.observed, "stage \(name) was not reported")
        #expect(observed.shape == expected.shape, "\(name): shape")
        #expect(Self.close(observed.mean, expected.mean), "\(name): mean \(observed.mean), facenet-pytorch \(expected.mean)")
        #expect(Self.close(observed.std, expected.std), "\(name): std \(observed.std), facenet-pytorch \(expected.std)")
        try #require(observed.first.count == expected.first.count)
        for (i, (ours, theirs)) in zip(observed.first, expected.first).enumerated() {
            #expect(Self.close(ours, theirs), "\(name): value \(i) is \(ours), facenet-pytorch \(theirs)")
        }
    }
}
