import Foundation
import Testing

@testable import FaceRecognition

/// One budget of threads for every detection and forward pass, counted for real: the budget's
/// gauge counts each caller thread inside a pass, each MTCNN stage thread, and each FaceNet
/// helper thread from its pass's first job to the pass's end (the C thread pool counts them).
@Suite("ComputeBudget", .serialized, .ownThreads)
struct ComputeBudgetTests {
    static let images: [RGBImage] = (0..<4).map { i in
        try! ImageDecoder.decode(contentsOf: TestPaths.data("face_images_100/test_0\(i).jpg"))
    }

    /// A recognizer whose models draw from `budget`: the fetched MTCNN, synthetic FaceNet.
    static func recognizer(budget: ComputeBudget) throws -> FaceRecognizer {
        let dir = try #require(MTCNNTestSupport.weightsDirectory, "MTCNN weights: run weights/fetch_mtcnn_weights.sh")
        let detector = try MTCNN(weightsDirectory: dir, options: MTCNNOptions(imageSize: 160, threads: 4), budget: budget)
        let facenet = try FaceNet(stateDict: FaceNetParityTests.weights, budget: budget)
        return FaceRecognizer(detector: detector, facenet: facenet, gallery: try Gallery.load(contentsOf: TestPaths.data("data.pt")))
    }

    @Test("16 concurrent callers never run more threads than the budget, and get the serial results",
          .enabled(if: MTCNNTestSupport.weightsDirectory != nil, "needs MTCNN weights (weights/fetch_mtcnn_weights.sh)"))
    func sixteenCallers() throws {
        let budget = ComputeBudget(threads: 3)
        let recognizer = try Self.recognizer(budget: budget)
        let serial = try Self.images.map { try recognizer.recognize($0) }
        #expect(serial.allSatisfy { $0.count == 1 })
        // The serial passes ran on up to 3 threads (the caller and FaceNet's or MTCNN's helpers).
        #expect(budget.peakRunningThreads >= 1 && budget.peakRunningThreads <= 3)
        budget.resetPeakRunningThreads()

        let callers = 16
        let results = ConcurrentResults(count: callers)
        let group = DispatchGroup()
        for caller in 0..<callers {
            group.enter()
            // Plain threads, not a bounded pool: 16 callers really arrive at once.
            Thread {
                defer { group.leave() }
                let image = caller % Self.images.count
                results.set(caller, Result { try recognizer.recognize(Self.images[image]) })
            }.start()
        }
        group.wait()

        #expect(budget.peakRunningThreads <= budget.threads)
        #expect(budget.peakRunningThreads >= 1)
        #expect(budget.runningThreads == 0)
        for caller in 0..<callers {
            let faces = try results.get(caller)
            #expect(faces == serial[caller % Self.images.count], "caller \(caller)")
        }
    }

    @Test("a budget of one thread runs every pass on the caller alone",
          .enabled(if: MTCNNTestSupport.weightsDirectory != nil, "needs MTCNN weights (weights/fetch_mtcnn_weights.sh)"))
    func oneThread() throws {
        let budget = ComputeBudget(threads: 1)
        let recognizer = try Self.recognizer(budget: budget)
        DispatchQueue.concurrentPerform(iterations: 4) { i in _ = try? recognizer.recognize(Self.images[i]) }
        #expect(budget.peakRunningThreads == 1)
    }

    @Test("threadsPerPass stays within 1 … threads")
    func threadsPerPassClamped() {
        let budget = ComputeBudget(threads: 3, threadsPerPass: 8)
        #expect(budget.threadsPerPass == 3)
        budget.threadsPerPass = 0
        #expect(budget.threadsPerPass == 1)
        #expect(ComputeBudget(threads: 0).threads == 1)
    }

    /// Per-caller results, written from many threads.
    final class ConcurrentResults: @unchecked Sendable {
        private let lock = NSLock()
        private var slots: [Result<[RecognizedFace], any Error>?]
        init(count: Int) { slots = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ result: Result<[RecognizedFace], any Error>) { lock.withLock { slots[i] = result } }
        func get(_ i: Int) throws -> [RecognizedFace] { try #require(lock.withLock { slots[i] }).get() }
    }
}

/// The async API: compute on the budget's threads, cancellation between images.
@Suite("Async API")
struct AsyncAPITests {
    /// A door the compute side waits at until the test opens it.
    actor Gate {
        private var open = false
        private var waiting: [CheckedContinuation<Void, Never>] = []
        func wait() async {
            if open { return }
            await withCheckedContinuation { waiting.append($0) }
        }
        func openDoor() {
            open = true
            waiting.forEach { $0.resume() }
            waiting = []
        }
    }

    @Test("the async calls give the synchronous results",
          .enabled(if: MTCNNTestSupport.weightsDirectory != nil, "needs MTCNN weights (weights/fetch_mtcnn_weights.sh)"))
    func sameResults() async throws {
        let recognizer = try ComputeBudgetTests.recognizer(budget: ComputeBudget(threads: 2))
        let images = Array(ComputeBudgetTests.images.prefix(2))
        let sync = try Self.synchronously(recognizer, images)
        let async = try await recognizer.recognize(batch: images)
        #expect(async.map { $0.map(\.face) } == sync.map { $0.map(\.face) })
        #expect(async.map { $0.map(\.match?.name) } == sync.map { $0.map(\.match?.name) })
        let detected = try await recognizer.detect(images[0])
        #expect(detected == sync[0].map(\.face))
        let embedded = try await recognizer.embed(images[0])
        #expect(embedded.map(\.face) == sync[0].map(\.face))
        let verification = try await recognizer.verify(images[0], images[0])
        #expect(verification.isMatch && verification.distance == 0)
    }

    /// The synchronous batch (in an async context, Swift picks the async overload).
    static func synchronously(_ recognizer: FaceRecognizer, _ images: [RGBImage]) throws -> [[RecognizedFace]] {
        try recognizer.recognize(batch: images)
    }

    @Test("cancelling a batch stops it between images",
          .enabled(if: MTCNNTestSupport.weightsDirectory != nil, "needs MTCNN weights (weights/fetch_mtcnn_weights.sh)"))
    func cancelBetweenImages() async throws {
        let recognizer = try ComputeBudgetTests.recognizer(budget: ComputeBudget(threads: 2))
        let gate = Gate()
        let (done, report) = AsyncStream.makeStream(of: Int.self)
        let task = Task {
            try await recognizer.recognize(batch: ComputeBudgetTests.images) { count in
                report.yield(count)
                if count == 1 { await gate.wait() } // held after the first image until cancelled
            }
        }
        var events = done.makeAsyncIterator()
        #expect(await events.next() == 1)
        task.cancel()
        await gate.openDoor()
        await #expect(throws: CancellationError.self) { try await task.value }
        report.finish()
        #expect(await events.next() == nil) // no image after the first was reported done
    }

    @Test("heavy calls wait on the budget's threads, not the cooperative pool", .timeLimit(.minutes(1)))
    func cooperativePoolStaysFree() async throws {
        let budget = ComputeBudget(threads: 2)
        let release = DispatchSemaphore(value: 0)
        let heavy = 4 * max(ProcessInfo.processInfo.activeProcessorCount, 2)
        let finished = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<heavy {
                group.addTask {
                    // Blocks a thread until released: on the cooperative pool this would take
                    // every one of its threads.
                    let onComputeThread = try await budget.run { () -> Bool in
                        release.wait()
                        return ComputeExecutor.isCurrentThreadCompute
                    }
                    #expect(onComputeThread)
                    finished.increment()
                }
            }
            // A light task of many hops still runs to its end while all heavy calls are held.
            let light = Task {
                var hops = 0
                for _ in 0..<100 {
                    await Task.yield()
                    hops += 1
                }
                return hops
            }
            #expect(await light.value == 100)
            #expect(finished.value == 0)
            for _ in 0..<heavy { release.signal() }
            try await group.waitForAll()
        }
        #expect(finished.value == heavy)
    }

    @Test("a test thread is not a compute thread")
    func markerIsSpecific() {
        #expect(!ComputeExecutor.isCurrentThreadCompute)
    }

    @Test("a cancelled task does not start its compute")
    func cancelledBeforeStart() async {
        let budget = ComputeBudget(threads: 1)
        let started = Counter()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await budget.run { started.increment() }
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(started.value == 0)
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        func increment() { lock.withLock { count += 1 } }
        var value: Int { lock.withLock { count } }
    }
}
