import CloudPipeline
import CloudPipelineTestSupport
import Foundation

/// A recognizer for testing the worker's queue semantics in isolation from the networks (the
/// networks' own results are checked against facenet-pytorch elsewhere, and the service tests
/// run the real engine end to end). It labels an image by its bytes' text, counts calls, and can
/// be told to be slow or to fail.
final class ScriptedRecognizer: ImageRecognizing, @unchecked Sendable {
    // @unchecked: the counters are only touched under `lock`.
    private let lock = NSLock()
    private var calls: [String: Int] = [:]
    let delay: Duration
    let transientFailures: Int

    init(delay: Duration = .zero, transientFailures: Int = 0) {
        self.delay = delay
        self.transientFailures = transientFailures
    }

    struct Transient: Error {}

    func recognize(imageData: Data, key: String) async throws -> RecognitionAnswer {
        let call = lock.withLock { () -> Int in
            calls[key, default: 0] += 1
            return calls[key]!
        }
        if delay > .zero { try? await Task.sleep(for: delay) }
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

    init(visibilityTimeout: Duration = .seconds(30), maxReceiveCount: Int = 3) throws {
        directory = try LocalTestDirectory.make("worker")
        let path = directory.appendingPathComponent("queues.sqlite").path
        input = try SQLiteMessageQueue(path: path, name: "input", configuration: .init(
            visibilityTimeout: visibilityTimeout, deadLetter: .init(queueName: "input-dlq", maxReceiveCount: maxReceiveCount)),
            options: .init(pollInterval: .milliseconds(20)))
        output = try SQLiteMessageQueue(path: path, name: "output", options: .init(pollInterval: .milliseconds(20)))
        deadLetter = try SQLiteMessageQueue(path: path, name: "input-dlq", options: .init(pollInterval: .milliseconds(20)))
        inputStore = try DirectoryObjectStore(root: directory.appendingPathComponent("in"))
        outputStore = try DirectoryObjectStore(root: directory.appendingPathComponent("out"))
    }

    func worker(_ recognizer: any ImageRecognizing, _ configuration: RecognitionWorker.Configuration) -> RecognitionWorker {
        RecognitionWorker(input: input, output: output, inputStore: inputStore, outputStore: outputStore,
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

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}
