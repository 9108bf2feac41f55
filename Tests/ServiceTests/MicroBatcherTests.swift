import CloudPipeline
import CloudPipelineTestSupport
import FaceRecognition
import FaceRecognitionService
import Foundation
import Testing

/// A door the test opens: batches wait at it, so the test decides what arrives while a lane is busy.
private actor Door {
    private var isOpen = false
    private var waiting: [CheckedContinuation<Void, Never>] = []
    func pass() async {
        if isOpen { return }
        await withCheckedContinuation { waiting.append($0) }
    }
    func open() {
        isOpen = true
        waiting.forEach { $0.resume() }
        waiting.removeAll()
    }
}

private struct OddInput: Error {}

/// The error `operation` throws, nil when it returns.
private func error<T>(of operation: () async throws -> T) async -> (any Error)? {
    do {
        _ = try await operation()
        return nil
    } catch {
        return error
    }
}

@Suite("MicroBatcher: concurrent requests coalesced into batches")
struct MicroBatcherTests {
    /// Doubles its inputs after the door opens; odd inputs fail alone.
    private static func doubler(_ door: Door) -> MicroBatcher<Int, Int> {
        MicroBatcher(lanes: 1, maxBatchSize: 8) { inputs in
            await door.pass()
            return inputs.map { $0 % 2 == 0 ? .success($0 * 2) : .failure(OddInput()) }
        }
    }

    @Test("an idle batcher runs a request at once, alone")
    func idleRunsAtOnce() async throws {
        let door = Door()
        await door.open()
        let batcher = Self.doubler(door)
        #expect(try await batcher.submit(4) == 8)
        #expect(await batcher.batchSizes == [1: 1])
    }

    @Test("requests that arrive while the lane is busy leave together, at most maxBatchSize at a time, each with its own result")
    func busyLaneFillsBatches() async throws {
        let door = Door()
        let batcher = Self.doubler(door)
        try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            group.addTask { (0, try await batcher.submit(0)) }
            #expect(await eventually { await batcher.batchSizes == [1: 1] })
            for value in stride(from: 2, through: 40, by: 2) {
                group.addTask { (value, try await batcher.submit(value)) }
            }
            #expect(await eventually { await batcher.pendingCount == 20 })
            await door.open()
            var answers: [Int: Int] = [:]
            for try await (input, output) in group { answers[input] = output }
            #expect(answers == Dictionary(uniqueKeysWithValues: stride(from: 0, through: 40, by: 2).map { ($0, $0 * 2) }))
        }
        #expect(await batcher.batchSizes == [1: 1, 8: 2, 4: 1])
    }

    @Test("one input's failure fails that request only")
    func failureIsPerItem() async throws {
        let door = Door()
        let batcher = Self.doubler(door)
        async let first = batcher.submit(2)
        #expect(await eventually { await batcher.batchSizes == [1: 1] })
        async let odd = error { try await batcher.submit(3) }
        async let even = batcher.submit(6)
        #expect(await eventually { await batcher.pendingCount == 2 })
        await door.open()
        #expect(try await first == 4)
        #expect(try await even == 12)
        #expect(await odd is OddInput)
        #expect(await batcher.batchSizes == [1: 1, 2: 1])
    }

    @Test("a process that returns too few results fails the requests left over instead of hanging them")
    func missingResults() async throws {
        let batcher = MicroBatcher<Int, Int>(lanes: 1, maxBatchSize: 4) { inputs in [.success(inputs[0])] }
        #expect(try await batcher.submit(7) == 7)
        let short = MicroBatcher<Int, Int>(lanes: 1, maxBatchSize: 4) { _ in [] }
        await #expect(throws: MicroBatcherError.self) { try await short.submit(1) }
    }
}

@Suite("FaceRecognitionEngine batching", .serialized)
struct FaceRecognitionEngineBatchingTests {
    @Test("images analysed concurrently are batched and get the analysis each gets alone")
    func batchedEqualsAlone() async throws {
        let files = try ServiceFixtures.images(12)
        let images = try files.map { try ImageDecoder.decode(contentsOf: $0) }
        let shared = try ServiceFixtures.engine
        guard case .identify(let recognizer) = shared.mode else { Issue.record("the fixture engine identifies"); return }
        let engine = FaceRecognitionEngine(mode: .identify(recognizer), lanes: 1, maxBatchSize: 8)
        let batched = try await withThrowingTaskGroup(of: (Int, ImageAnalysis).self) { group in
            for (index, image) in images.enumerated() { group.addTask { (index, try await engine.analyze(image)) } }
            var out = [ImageAnalysis?](repeating: nil, count: images.count)
            for try await (index, analysis) in group { out[index] = analysis }
            return out.map { $0! }
        }
        let sizes = await engine.batchSizes()
        #expect(sizes.reduce(0) { $0 + $1.key * $1.value } == images.count)
        #expect(sizes.keys.contains { $0 > 1 }, "no batch of more than one image: \(sizes)")
        for (image, analysis) in zip(images, batched) {
            let alone = try FaceRecognitionEngine.analyze(image, mode: .identify(recognizer))
            #expect(analysis.label == alone.label)
            #expect(analysis.faces.map(\.box) == alone.faces.map(\.box))
            #expect(analysis.faces.map(\.name) == alone.faces.map(\.name))
            for (a, b) in zip(analysis.faces, alone.faces) {
                #expect(abs((a.distance ?? 0) - (b.distance ?? 0)) < 1e-4)
            }
        }
    }

    @Test("an undecodable image in a busy engine fails alone with UnprocessableImage")
    func badImageFailsAlone() async throws {
        let good = try Data(contentsOf: ServiceFixtures.images(1)[0])
        let engine = try ServiceFixtures.engine
        async let first = engine.analyze(good)
        async let bad = error { try await engine.analyze(Data("not an image".utf8)) }
        async let second = engine.analyze(good)
        #expect(try await first == second)
        #expect(await bad is UnprocessableImage)
    }
}

@Suite("BLASThreads")
struct BLASThreadsTests {
    @Test("parallel callers share the cores; an operator's OPENBLAS_NUM_THREADS wins")
    func configure() {
        let before = BLASThreads.count
        defer { BLASThreads.set(before) }
        #expect(BLASThreads.configure(parallelCallers: 2, cores: 2, environment: [:]) == 1)
        #expect(BLASThreads.configure(parallelCallers: 1, cores: 2, environment: [:]) == 2)
        BLASThreads.set(1)
        #expect(BLASThreads.configure(parallelCallers: 1, cores: 2, environment: ["OPENBLAS_NUM_THREADS": "1"]) == 1)
        #expect(LocalWorkerFleet.lanesPerWorker(cores: 2, maxWorkers: 2) == 1)
        #expect(LocalWorkerFleet.lanesPerWorker(cores: 8, maxWorkers: 2) == 4)
        #expect(LocalWorkerFleet.lanesPerWorker(cores: 2, maxWorkers: 4) == 1)
    }
}
