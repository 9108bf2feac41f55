import CFaceNet
import CFaceNetTesting
import Foundation
import Testing

@testable import FaceRecognition

/// FaceNet against facenet-pytorch: the goldens were made by Tests/Fixtures/make_facenet_goldens.py
/// running facenet-pytorch's InceptionResnetV1 with the same synthetic weights on real face crops.
@Suite("FaceNet parity with facenet-pytorch", .ownThreads)
struct FaceNetParityTests {
    struct Case: Decodable {
        let height: Int
        let width: Int
        let inputs: [String]
        let embeddings: [[Float]]
    }
    struct Goldens: Decodable {
        let cases: [Case]
        let max_cross_person_cosine_160: Float
    }

    static let fixtures = TestPaths.fixtures.appendingPathComponent("facenet")

    static let remedy = "run Tests/Fixtures/make_facenet_goldens.py"

    /// facenet-pytorch's embeddings; a missing or broken file fails the tests that read it.
    static var goldens: Goldens { get throws { try loadedGoldens.get() } }
    private static let loadedGoldens = FixtureError.loading(fixtures.appendingPathComponent("goldens.json"), remedy: remedy) {
        try JSONDecoder().decode(Goldens.self, from: Data(contentsOf: $0))
    }

    /// The synthetic weights, built once per test process (23.5 M parameters).
    static var weights: StateDict { get throws { try loadedWeights.get() } }
    private static let loadedWeights = FixtureError.loading(fixtures.appendingPathComponent("bn_statistics.safetensors"),
                                                            remedy: remedy) {
        try SyntheticFaceNetWeights.make(runningStatistics: try SafeTensors.read(contentsOf: $0))
    }

    static var facenet: FaceNet { get throws { try loadedFaceNet.get() } }
    private static let loadedFaceNet = Result { try FaceNet(stateDict: try loadedWeights.get()) }

    /// The same weights in the portable path's layout (row-major, one SGEMM per layer over the
    /// batch), which a CPU without AVX2 builds: built here whatever the CPU.
    static var portableModel: FaceNet.Model { get throws { try loadedPortableModel.get() } }
    private static let loadedPortableModel = Result { () throws -> FaceNet.Model in
        var dict = try loadedWeights.get()
        let pinned = PinnedTensors(consuming: &dict)
        var message = [CChar](repeating: 0, count: 512)
        var handle: OpaquePointer?
        let status = pinned.withLookup { lookup, user in
            cfn_facenet_create_portable(lookup, user, &handle, &message, message.count)
        }
        guard status == CFN_OK, let handle else {
            throw InferenceError.fromBuild(status, network: "FaceNet",
                                           message: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return FaceNet.Model(handle)
    }

    static func crops(_ c: Case) throws -> [RGBImage] {
        try c.inputs.map { try ImageDecoder.decode(contentsOf: fixtures.appendingPathComponent($0)) }
    }

    @Test("embeddings match facenet-pytorch within 1e-4 per component", arguments: try goldens.cases.indices)
    func parity(caseIndex: Int) throws {
        let c = try Self.goldens.cases[caseIndex]
        let crops = try Self.crops(c)
        #expect(crops.allSatisfy { $0.width == c.width && $0.height == c.height })
        let ours = try Self.facenet.embed(crops)
        try #require(ours.count == c.embeddings.count)
        var worst: Float = 0
        for (mine, theirs) in zip(ours, c.embeddings) {
            try #require(mine.count == 512 && theirs.count == 512)
            for (a, b) in zip(mine, theirs) { worst = max(worst, abs(a - b)) }
        }
        print("FaceNet parity \(c.width)×\(c.height) batch \(c.inputs.count): max |Δ| = \(worst)")
        #expect(worst <= 1e-4)
    }

    /// Case `caseIndex` on a fresh context: its max |Δ| against facenet-pytorch.
    static func worstOnContext(_ caseIndex: Int, kernels: cfn_kernel_set, threads: Int32,
                               model: FaceNet.Model? = nil) throws -> Float {
        let c = try goldens.cases[caseIndex]
        var input: [Float] = []
        for crop in try crops(c) { FaceNet.appendStandardized(crop, to: &input) }
        let context = try #require(InferenceContext())
        cfn_context_set_kernels(context.handle, kernels)
        cfn_context_set_threads(context.handle, threads)
        var output = [Float](repeating: .nan, count: c.inputs.count * 512)
        let handle = try model?.handle ?? self.facenet.model.handle
        let status = input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                cfn_facenet_embed(handle, context.handle, x.baseAddress, Int32(c.inputs.count),
                                  Int32(c.height), Int32(c.width), y.baseAddress)
            }
        }
        try #require(status == CFN_OK)
        let expected = c.embeddings.flatMap { $0 }
        return zip(output, expected).map { abs($0 - $1) }.max() ?? .infinity
    }

    /// The test above runs the machine's kernels (Winograd for the 3×3 layers on AVX2); a
    /// portable context runs the GEMM over the unfolded input everywhere, through BLAS, the
    /// path of CPUs without AVX2.
    @Test("the portable path (no Winograd) matches facenet-pytorch too", arguments: try goldens.cases.indices)
    func portableParity(caseIndex: Int) throws {
        #expect(try Self.worstOnContext(caseIndex, kernels: CFN_KERNELS_PORTABLE, threads: 0) <= 1e-4)
    }

    /// A CPU without AVX2 (arm64, or FACEREC_DISABLE_AVX2 set) builds its weights row-major and
    /// runs each layer as one SGEMM over the whole batch after an im2col: that model, on one
    /// thread (one SGEMM per layer), on two and on three (one SGEMM per worker's slice of
    /// columns or rows, uneven with three).
    @Test("the portable layout (one SGEMM per layer over the batch) matches facenet-pytorch",
          arguments: try goldens.cases.indices)
    func portableLayoutParity(caseIndex: Int) throws {
        let model = try Self.portableModel
        _ = try Self.facenet // its budget pins OpenBLAS to the caller: a SGEMM per worker's slice
        for threads: Int32 in [1, 2, 3] {
            let worst = try Self.worstOnContext(caseIndex, kernels: CFN_KERNELS_BEST, threads: threads, model: model)
            #expect(worst <= 1e-4, "\(threads) threads: max |Δ| = \(worst)")
        }
    }

    /// No idle spin: between passes a context's helper threads wait on a condition variable.
    /// A pass sends them to sleep as it ends (they spin only between the jobs of a pass, and stop
    /// at the first poll after the end), so they are asleep as soon as the OS has run them once
    /// more; the wait below only leaves it the time to. A pool that kept spinning would fail.
    @Test("a context's helper threads are asleep once its pass has ended, on both layouts")
    func helpersSleepBetweenPasses() throws {
        let c = try Self.goldens.cases[0]
        var input: [Float] = []
        for crop in try Self.crops(c) { FaceNet.appendStandardized(crop, to: &input) }
        for model in [try Self.facenet.model, try Self.portableModel] {
            let context = try #require(InferenceContext())
            cfn_context_set_threads(context.handle, 3)
            var output = [Float](repeating: .nan, count: c.inputs.count * 512)
            for _ in 0..<2 {
                let status = input.withUnsafeBufferPointer { x in
                    output.withUnsafeMutableBufferPointer { y in
                        cfn_facenet_embed(model.handle, context.handle, x.baseAddress, Int32(c.inputs.count),
                                          Int32(c.height), Int32(c.width), y.baseAddress)
                    }
                }
                try #require(status == CFN_OK)
                var helpers: Int32 = 0, asleep = cfn_context_sleeping_helpers(context.handle, &helpers)
                let deadline = Date().addingTimeInterval(10)
                while asleep < helpers && Date() < deadline {
                    Thread.sleep(forTimeInterval: 0.001)
                    asleep = cfn_context_sleeping_helpers(context.handle, &helpers)
                }
                #expect(helpers == 2)
                #expect(asleep == helpers)
            }
        }
    }

    /// On a CPU with AVX-512 the test above runs the AVX-512 products; capped at AVX2, the
    /// products run the AVX2 micro-kernel, the path of CPUs without AVX-512.
    @Test("the AVX2 kernels match facenet-pytorch too", arguments: try goldens.cases.indices)
    func avx2Parity(caseIndex: Int) throws {
        #expect(try Self.worstOnContext(caseIndex, kernels: CFN_KERNELS_AVX2, threads: 0) <= 1e-4)
    }

    /// Three workers split every job unevenly (tasks, channel ranges, the shared packing of a
    /// narrow product), whatever the machine's core count.
    @Test("a pass spread over three worker threads matches facenet-pytorch", arguments: try goldens.cases.indices)
    func threeWorkers(caseIndex: Int) throws {
        #expect(try Self.worstOnContext(caseIndex, kernels: CFN_KERNELS_BEST, threads: 3) <= 1e-4)
        #expect(try Self.worstOnContext(caseIndex, kernels: CFN_KERNELS_AVX2, threads: 3) <= 1e-4)
        #expect(try Self.worstOnContext(caseIndex, kernels: CFN_KERNELS_PORTABLE, threads: 3) <= 1e-4)
    }

    /// A batch split into concurrent passes (each on its own workspace, one BLAS thread each):
    /// every image must still get facenet-pytorch's embedding, at its own place in the output.
    @Test("a batch split into concurrent passes still matches facenet-pytorch", arguments: [2, 3, 16])
    func concurrentPasses(passes: Int) throws {
        // One thread per pass from a budget of its own (the shared one is left alone).
        let facenet = try FaceNet(stateDict: Self.weights,
                                  budget: ComputeBudget(threads: max(passes, 2), threadsPerPass: 1))
        for c in try Self.goldens.cases where c.inputs.count > 1 {
            let ours = try facenet.embed(try Self.crops(c), concurrentPasses: passes)
            try #require(ours.count == c.embeddings.count)
            let worst = zip(ours.joined(), c.embeddings.joined()).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst <= 1e-4, "\(c.width)×\(c.height) batch \(c.inputs.count)")
        }
    }

    /// The default layout: a batch of 4 on 2, 3 and 4 threads runs as gcd(4, threads) passes
    /// side by side (2 × 1 thread, 1 × 3 threads, 4 × 1 thread). Each image still gets
    /// facenet-pytorch's embedding, and the workspaces left behind are exactly those passes':
    /// that many contexts, each sized for its share of the images and threads.
    @Test("the automatic layout splits a batch the threads share evenly, and still matches facenet-pytorch",
          arguments: [2, 3, 4])
    func automaticLayout(threads: Int) throws {
        let budget = ComputeBudget(threads: threads)
        let facenet = try FaceNet(stateDict: Self.weights, budget: budget)
        let c = try #require(Self.goldens.cases.first { $0.height == 160 && $0.inputs.count == 4 })
        let ours = try facenet.embed(try Self.crops(c))
        let worst = zip(ours.joined(), c.embeddings.joined()).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-4)
        #expect(budget.peakRunningThreads >= 1 && budget.peakRunningThreads <= threads,
                "\(budget.peakRunningThreads) threads computed at once on a budget of \(threads)")

        let layout = PassLayout(count: 4, granted: threads)
        #expect(layout.passes == [2: 2, 3: 1, 4: 4][threads])
        let probe = try #require(InferenceContext())
        cfn_context_set_threads(probe.handle, Int32(layout.threadsPerPass))
        let perPass = 4 / layout.passes
        let zeros = [Float](repeating: 0, count: perPass * 3 * 160 * 160)
        var out = [Float](repeating: 0, count: perPass * 512)
        #expect(zeros.withUnsafeBufferPointer { x in out.withUnsafeMutableBufferPointer { y in
            cfn_facenet_embed(facenet.model.handle, probe.handle, x.baseAddress, Int32(perPass), 160, 160, y.baseAddress)
        } } == CFN_OK)
        #expect(facenet.workspaceBytes == layout.passes * probe.workspaceBytes,
                "\(layout.passes) contexts of \(perPass) images on \(layout.threadsPerPass) threads")
    }

    @Test("different people's embeddings differ (the test is not blind)")
    func discriminative() throws {
        let c = try #require(Self.goldens.cases.first { $0.height == 160 && $0.inputs.count == 4 })
        let ours = try Self.facenet.embed(try Self.crops(c))
        var largest: Float = -1
        for i in 0..<ours.count {
            let norm = ours[i].reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(norm - 1) < 1e-5)
            for j in 0..<i {
                let cosine = zip(ours[i], ours[j]).reduce(0) { $0 + $1.0 * $1.1 }
                #expect(cosine < 0.9, "crops \(i) and \(j) of different people have cosine \(cosine)")
                largest = max(largest, cosine)
            }
        }
        // The same closest pair as facenet-pytorch's on the same crops.
        #expect(abs(Double(largest) - Double(try Self.goldens.max_cross_person_cosine_160)) < 1e-4)
    }

    @Test("a batch gives each image the embedding it gets alone")
    func batchIndependence() throws {
        let c = try #require(Self.goldens.cases.first { $0.height == 240 && $0.inputs.count == 4 })
        let crops = try Self.crops(c)
        let batch = try Self.facenet.embed(crops)
        for (i, crop) in crops.enumerated() {
            let alone = try Self.facenet.embed([crop])[0]
            let worst = zip(alone, batch[i]).map { abs($0 - $1) }.max() ?? 0
            #expect(worst < 1e-5)
        }
    }

    @Test("repeated passes of one shape allocate nothing after the first")
    func workspaceReuse() throws {
        let c = try #require(Self.goldens.cases.first { $0.height == 160 && $0.inputs.count == 4 })
        var input: [Float] = []
        for crop in try Self.crops(c) { FaceNet.appendStandardized(crop, to: &input) }
        let context = try #require(InferenceContext())
        var output = [Float](repeating: 0, count: 4 * 512)
        let facenet = try Self.facenet
        func run(_ n: Int) -> cfn_status {
            input.withUnsafeBufferPointer { x in
                output.withUnsafeMutableBufferPointer { y in
                    cfn_facenet_embed(facenet.model.handle, context.handle, x.baseAddress, Int32(n), 160, 160, y.baseAddress)
                }
            }
        }
        #expect(run(4) == CFN_OK)
        let allocations = context.allocationCount
        let bytes = context.workspaceBytes
        #expect(allocations == 1)
        for _ in 0..<3 { #expect(run(4) == CFN_OK) }
        #expect(run(1) == CFN_OK) // a smaller shape fits in the same arena
        #expect(context.allocationCount == allocations)
        #expect(context.workspaceBytes == bytes)
    }

    @Test("prepare sizes one workspace per concurrent pass for the largest batch; smaller batches then allocate nothing")
    func prepareSizesWorkspaces() throws {
        // Its own contexts and budget, untouched by other tests: a pass's workspace depends on
        // its thread count (one GEMM scratch per thread), which is then the budget's 2.
        let facenet = try FaceNet(stateDict: Self.weights, budget: ComputeBudget(threads: 2))
        #expect(facenet.workspaceBytes == 0)
        try facenet.prepare(batchSize: 4, height: 160, width: 160, concurrentPasses: 2)
        let prepared = facenet.workspaceBytes
        let one = try #require(InferenceContext())
        cfn_context_set_threads(one.handle, 2)
        let probe = [Float](repeating: 0, count: 4 * 3 * 160 * 160)
        var out = [Float](repeating: 0, count: 4 * 512)
        #expect(probe.withUnsafeBufferPointer { x in out.withUnsafeMutableBufferPointer { y in
            cfn_facenet_embed(facenet.model.handle, one.handle, x.baseAddress, 4, 160, 160, y.baseAddress)
        } } == CFN_OK)
        #expect(prepared == 2 * one.workspaceBytes, "two contexts, each sized for a batch of 4")

        let c = try #require(Self.goldens.cases.first { $0.height == 160 && $0.inputs.count == 4 })
        let crops = try Self.crops(c)
        for count in [4, 1, 3, 2] { _ = try facenet.embed(Array(crops.prefix(count))) }
        #expect(facenet.workspaceBytes == prepared)
        #expect(throws: InferenceError.self) { try facenet.prepare(batchSize: 0, height: 160, width: 160) }
    }

    @Test("one model serves several threads at once with identical results")
    func concurrentContexts() throws {
        let c = try #require(Self.goldens.cases.first { $0.height == 160 && $0.inputs.count == 4 })
        let crops = try Self.crops(c)
        let facenet = try Self.facenet
        let expected = try facenet.embed(crops)
        let results = ResultsBox(count: 4)
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            results.set(i, try? facenet.embed(crops))
        }
        for i in 0..<4 { #expect(results.get(i) == expected) }
    }

    @Test("bad inputs are errors, not crashes")
    func badInputs() throws {
        let facenet = try Self.facenet
        let tiny = try RGBImage(width: 79, height: 79, pixels: [UInt8](repeating: 128, count: 79 * 79 * 3))
        #expect(throws: InferenceError.self) { try facenet.embed([tiny]) }
        #expect(throws: InferenceError.self) {
            try facenet.embed(standardized: [0, 1, 2], count: 1, height: 160, width: 160)
        }
        let a = try RGBImage(width: 160, height: 160, pixels: [UInt8](repeating: 1, count: 160 * 160 * 3))
        let b = try RGBImage(width: 100, height: 100, pixels: [UInt8](repeating: 1, count: 100 * 100 * 3))
        #expect(throws: InferenceError.self) { try facenet.embed([a, b]) }
    }

    @Test("weights: missing, misshapen and non-finite tensors are named")
    func badWeights() throws {
        let weights = try Self.weights
        func message(_ edit: (inout StateDict) -> Void) -> String {
            var dict = weights
            edit(&dict)
            do {
                _ = try FaceNet(stateDict: dict)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(message { $0.tensors["repeat_2.3.branch1.1.conv.weight"] = nil }
            .contains("missing tensor 'repeat_2.3.branch1.1.conv.weight'"))
        #expect(message { $0.tensors["block8.conv2d.bias"] = Tensor(shape: [1791], scalars: .init(repeating: 0, count: 1791)) }
            .contains("tensor 'block8.conv2d.bias' has shape [1791], expected [1792]"))
        #expect(message { $0.tensors["last_linear.weight"]!.scalars[7] = .nan }
            .contains("tensor 'last_linear.weight' holds a non-finite value at element 7"))
        #expect(message { $0.tensors["last_bn.running_var"]!.scalars[3] = -1 }.contains("last_bn.running_var"))
        // Extra keys of the pretrained checkpoints are ignored.
        #expect(message {
            $0.tensors["logits.weight"] = Tensor(shape: [2, 512], scalars: .init(repeating: 0, count: 1024))
            $0.tensors["conv2d_1a.bn.num_batches_tracked"] = Tensor(shape: [], scalars: [0])
        } == "accepted")
    }
}

/// Results written from concurrentPerform's threads.
final class ResultsBox: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [[Embedding]?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: [Embedding]?) { lock.withLock { values[i] = value } }
    func get(_ i: Int) -> [Embedding]? { lock.withLock { values[i] } }
}
