import CloudPipeline
import CloudPipelineTestSupport
import Foundation

/// A recognizer for testing the worker's queue semantics in isolation from the networks (the
/// networks' own results are checked against facenet-pytorch elsewhere, and the service tests
/// run the real engine end to end). It labels an image by its bytes' text, counts calls, and can
/// be told to be slow, to hold every job until a gate opens, or to fail.
final class ScriptedRecognizer: ImageRecognizing, @unchecked Sendable {
    // @unchecked: the counters are only touched under `lock`.
    private let lock = NSLock()
    private var calls: [String: Int] = [:]
    let delay: Duration
    let gate: AsyncGate?
    let transientFailures: Int

    init(delay: Duration = .zero, gate: AsyncGate? = nil, transientFailures: Int = 0) {
        self.delay = delay
        self.gate = gate
        self.transientFailures = transientFailures
    }

    struct Transient: Error {}

    func recognize(imageData: Data, key: String) async throws -> RecognitionAnswer {
        let call = lock.withLock { () -> Int in
            calls[key, default: 0] += 1
            return calls[key]!
        }
        if delay > .zero { try? await Task.sleep(for: delay) }
        if let gate { await gate.wait() }
        if call <= transientFailures { throw Transient() }
        let text = String(decoding: imageData, as: UTF8.self)
        guard text.hasPrefix("face:") else { throw UnprocessableImage(reason: "not an image: \(imageData.count) bytes") }
        return RecognitionAnswer(label: String(text.dropFirst("face:".count)))
    }

    func callCount(_ key: String) -> Int { lock.withLock { calls[key] ?? 0 } }
}

/// A local pipeline (SQLite queues with a dead-letter policy, directory stores) in a fresh
/// temporary directory.
struct LocalPipelineFixture {
    let directory: URL
    let input: SQLiteMessageQueue
    let output: SQLiteMessageQueue
    let deadLetter: SQLiteMessageQueue
    let inputStore: DirectoryObjectStore
    let outputStore: DirectoryObjectStore

    /// `clock`: the queues' visibility deadlines follow it instead of the wall clock.
    init(visibilityTimeout: Duration = .seconds(30), maxReceiveCount: Int = 3, clock: ManualClock? = nil) throws {
        directory = try LocalTestDirectory.make("worker")
        let path = directory.appendingPathComponent("queues.sqlite").path
        let now: @Sendable () -> Date
        if let clock { now = { clock.now() } } else { now = { Date() } }
        let options = SQLiteMessageQueue.Options(pollInterval: .milliseconds(20))
        input = try SQLiteMessageQueue(path: path, name: "input", configuration: .init(
            visibilityTimeout: visibilityTimeout, deadLetter: .init(queueName: "input-dlq", maxReceiveCount: maxReceiveCount)),
            options: options, now: now)
        output = try SQLiteMessageQueue(path: path, name: "output", options: options, now: now)
        deadLetter = try SQLiteMessageQueue(path: path, name: "input-dlq", options: options, now: now)
        inputStore = try DirectoryObjectStore(root: directory.appendingPathComponent("in"))
        outputStore = try DirectoryObjectStore(root: directory.appendingPathComponent("out"))
    }

    /// A worker on the fixture's queues and stores (`input` in place of the input queue, e.g. a
    /// ``CountingQueue`` over it).
    func worker(_ recognizer: any ImageRecognizing, _ configuration: RecognitionWorker.Configuration,
                input: (any MessageQueue)? = nil) -> RecognitionWorker {
        RecognitionWorker(input: input ?? self.input, output: output, inputStore: inputStore, outputStore: outputStore,
                          recognizer: recognizer, configuration: configuration)
    }

    func drainOutput() async throws -> [ReceivedMessage] {
        var all: [ReceivedMessage] = []
        while true {
            let batch = try await output.receive(maxMessages: 10, waitTime: .zero, visibilityTimeout: nil)
            if batch.isEmpty { return all }
            for message in batch { try await output.delete(receiptHandle: message.receiptHandle) }
            all += batch
        }
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// A queue that counts the receives begun and the lease renewals (`changeVisibility` calls)
/// made through it, so a test can wait for a worker's poll or its next renewal instead of
/// sleeping for a guess of how long they take.
final class CountingQueue: MessageQueue, @unchecked Sendable {
    // @unchecked: the counts are only touched under `lock`.
    private let lock = NSLock()
    private var count = 0
    private var receiveCount = 0
    let base: any MessageQueue

    init(_ base: any MessageQueue) { self.base = base }

    var renewals: Int { lock.withLock { count } }
    var receives: Int { lock.withLock { receiveCount } }

    func send(_ body: String, attributes: [String: String]) async throws -> String {
        try await base.send(body, attributes: attributes)
    }
    func receive(maxMessages: Int, waitTime: Duration, visibilityTimeout: Duration?) async throws -> [ReceivedMessage] {
        lock.withLock { receiveCount += 1 }
        return try await base.receive(maxMessages: maxMessages, waitTime: waitTime, visibilityTimeout: visibilityTimeout)
    }
    func delete(receiptHandle: String) async throws { try await base.delete(receiptHandle: receiptHandle) }
    func changeVisibility(receiptHandle: String, timeout: Duration) async throws {
        try await base.changeVisibility(receiptHandle: receiptHandle, timeout: timeout)
        lock.withLock { count += 1 }
    }
    func depth() async throws -> QueueDepth { try await base.depth() }
    func defaultVisibilityTimeout() async throws -> Duration { try await base.defaultVisibilityTimeout() }
}
