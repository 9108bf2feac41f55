import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Testing

/// A wall clock the test moves by hand, shared by every queue instance in a test.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current = Date(timeIntervalSince1970: 1_800_000_000)

    func now() -> Date { lock.withLock { current } }
    func advance(by duration: Duration) {
        let (seconds, attoseconds) = duration.components
        lock.withLock { current += Double(seconds) + Double(attoseconds) * 1e-18 }
    }
}

/// Behaviour specific to ``SQLiteMessageQueue``: persistence, several connections on one
/// file, the stale-handle decisions, and exact timing with an injected clock.
@Suite("SQLiteMessageQueue")
struct LocalQueueTests {
    let directory: URL
    let path: String
    let clock = ManualClock()

    init() throws {
        directory = try LocalTestDirectory.make("sqlite-queue")
        path = directory.appendingPathComponent("queue.db").path
    }

    private func open(_ name: String = "jobs", _ configuration: SQLiteMessageQueue.Configuration? = nil) throws -> SQLiteMessageQueue {
        let clock = self.clock
        return try SQLiteMessageQueue(path: path, name: name, configuration: configuration, now: { clock.now() })
    }

    @Test("closing and reopening loses nothing; in-flight messages return after their timeout")
    func restart() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try open("jobs", .init(visibilityTimeout: .seconds(60)))
        var ids: [String] = []
        for index in 0..<3 { ids.append(try await first.send("job \(index)", attributes: ["n": "\(index)"])) }
        let leased = try #require(try await first.receive(maxMessages: 1).first)
        #expect(leased.id == ids[0])
        first.close()
        await #expect(throws: SQLiteError.self) { _ = try await first.depth() }

        let second = try open()
        // The configuration came back from the file.
        #expect(try await second.configuration().visibilityTimeout == .seconds(60))
        #expect(try await second.depth() == QueueDepth(visible: 2, inFlight: 1))
        clock.advance(by: .seconds(30))
        let visible = try await second.receive(maxMessages: 10)
        #expect(visible.map(\.id) == [ids[1], ids[2]])
        #expect(visible.map(\.attributes) == [["n": "1"], ["n": "2"]])
        // 60 s after the first lease only that message is due again.
        clock.advance(by: .seconds(30))
        let redelivered = try await second.receive(maxMessages: 10)
        #expect(redelivered.map(\.id) == [ids[0]])
        #expect(redelivered.first?.receiveCount == 2)
        #expect(redelivered.first?.body == "job 0")
        // The handle from before the restart was superseded: deleting with it changes nothing.
        try await second.delete(receiptHandle: leased.receiptHandle)
        #expect(try await second.depth() == QueueDepth(visible: 0, inFlight: 3))
        second.close()
    }

    @Test("two connections on one file never hold the same message at once")
    func twoConnectionsShareOneFile() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let producer = try open("jobs", .init(visibilityTimeout: .seconds(600)))
        var sent = Set<String>()
        for index in 0..<300 { sent.insert(try await producer.send("job \(index)", attributes: [:])) }
        let a = try open()
        let b = try open()
        let results = try await withThrowingTaskGroup(of: [ReceivedMessage].self) { group in
            for queue in [a, b, a, b] {
                group.addTask {
                    var mine: [ReceivedMessage] = []
                    while true {
                        let batch = try await queue.receive(maxMessages: Int.random(in: 1...10))
                        if batch.isEmpty { return mine }
                        mine += batch
                    }
                }
            }
            var all: [[ReceivedMessage]] = []
            for try await result in group { all.append(result) }
            return all
        }
        let ids = results.flatMap { $0.map(\.id) }
        #expect(ids.count == 300)
        #expect(Set(ids) == sent)
        #expect(results.flatMap { $0 }.allSatisfy { $0.receiveCount == 1 })
        // Each connection can delete what the other received: handles belong to the file.
        for (index, message) in results.flatMap({ $0 }).enumerated() {
            try await (index.isMultiple(of: 2) ? a : b).delete(receiptHandle: message.receiptHandle)
        }
        #expect(try await producer.depth() == QueueDepth(visible: 0, inFlight: 0))
    }

    @Test("visibility deadlines are exact to the millisecond with an injected clock")
    func exactVisibility() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let queue = try open("jobs", .init(visibilityTimeout: .seconds(10)))
        let id = try await queue.send("x", attributes: [:])
        let first = try #require(try await queue.receive().first)
        clock.advance(by: .milliseconds(9_999))
        #expect(try await queue.receive().isEmpty)
        #expect(try await queue.depth() == QueueDepth(visible: 0, inFlight: 1))
        clock.advance(by: .milliseconds(1))
        #expect(try await queue.depth() == QueueDepth(visible: 1, inFlight: 0))
        // Until it is received again, the old handle still works (as on SQS).
        try await queue.changeVisibility(receiptHandle: first.receiptHandle, timeout: .seconds(5))
        #expect(try await queue.receive().isEmpty)
        clock.advance(by: .seconds(5))
        let second = try #require(try await queue.receive(maxMessages: 1, waitTime: .zero, visibilityTimeout: .seconds(1)).first)
        #expect(second.id == id)
        #expect(second.receiveCount == 2)
    }

    @Test("superseded handles: delete is a no-op, changeVisibility throws messageNotInFlight")
    func staleHandles() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let queue = try open("jobs", .init(visibilityTimeout: .seconds(30)))
        let id = try await queue.send("contested", attributes: [:])
        let first = try #require(try await queue.receive().first)
        clock.advance(by: .seconds(30))
        let second = try #require(try await queue.receive().first)
        try await queue.delete(receiptHandle: first.receiptHandle)
        #expect(try await queue.depth() == QueueDepth(visible: 0, inFlight: 1))
        await #expect(throws: MessageQueueError.messageNotInFlight(first.receiptHandle)) {
            try await queue.changeVisibility(receiptHandle: first.receiptHandle, timeout: .zero)
        }
        try await queue.changeVisibility(receiptHandle: second.receiptHandle, timeout: .zero)
        let third = try #require(try await queue.receive().first)
        #expect(third.id == id && third.receiveCount == 3)
        try await queue.delete(receiptHandle: third.receiptHandle)
        #expect(try await queue.depth() == QueueDepth(visible: 0, inFlight: 0))
        // After deletion: delete is idempotent, changeVisibility reports the lost lease.
        try await queue.delete(receiptHandle: third.receiptHandle)
        await #expect(throws: MessageQueueError.messageNotInFlight(third.receiptHandle)) {
            try await queue.changeVisibility(receiptHandle: third.receiptHandle, timeout: .seconds(1))
        }
        let validShape = "sq1.1." + String(repeating: "0", count: 32)
        for garbage in ["", "sq1", "sq1.x.0123", "sq2.1." + String(repeating: "a", count: 32),
                        "sq1.-1." + String(repeating: "a", count: 32), "sq1.1." + String(repeating: "A", count: 32),
                        "sq1.1." + String(repeating: "a", count: 31)] {
            await #expect(throws: MessageQueueError.invalidReceiptHandle(garbage)) {
                try await queue.delete(receiptHandle: garbage)
            }
        }
        // Well formed but never issued: nothing to delete, nothing in flight.
        try await queue.delete(receiptHandle: validShape)
        await #expect(throws: MessageQueueError.messageNotInFlight(validShape)) {
            try await queue.changeVisibility(receiptHandle: validShape, timeout: .zero)
        }
    }

    @Test("dead-letter move keeps id, body, attributes and receive count; the policy persists")
    func deadLetterDetails() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let policy = SQLiteMessageQueue.DeadLetterPolicy(queueName: "jobs-dlq", maxReceiveCount: 3)
        let owner = try open("jobs", .init(visibilityTimeout: .seconds(5), deadLetter: policy))
        let good = try await owner.send("good", attributes: [:])
        let poison = try await owner.send("poison", attributes: ["why": "crashes"])
        // A worker opening without a configuration adopts the stored policy.
        let worker = try open()
        #expect(try await worker.configuration() == .init(visibilityTimeout: .seconds(5), deadLetter: policy))
        for round in 1...3 {
            let batch = try await worker.receive(maxMessages: 10)
            #expect(batch.map(\.id) == (round == 1 ? [good, poison] : [poison]))
            if round == 1 { try await worker.delete(receiptHandle: batch[0].receiptHandle) }
            clock.advance(by: .seconds(5))
        }
        #expect(try await worker.receive(maxMessages: 10).isEmpty)
        #expect(try await worker.depth() == QueueDepth(visible: 0, inFlight: 0))
        let dlq = try open("jobs-dlq")
        #expect(try await dlq.depth() == QueueDepth(visible: 1, inFlight: 0))
        let dead = try #require(try await dlq.receive().first)
        #expect(dead.id == poison)
        #expect(dead.body == "poison")
        #expect(dead.attributes == ["why": "crashes"])
        #expect(dead.receiveCount == 4)
        // The dead-letter queue has no policy of its own: it redelivers forever.
        #expect(try await dlq.configuration().deadLetter == nil)
    }

    @Test("a long poll on one connection wakes when another connection sends")
    func longPollAcrossConnections() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let waiter = try SQLiteMessageQueue(path: path, name: "jobs")
        let sender = try SQLiteMessageQueue(path: path, name: "jobs")
        async let received = waiter.receive(maxMessages: 1, waitTime: .seconds(15), visibilityTimeout: nil)
        try await Task.sleep(for: .milliseconds(300))
        let id = try await sender.send("hello", attributes: [:])
        #expect(try await received.map(\.id) == [id])
    }

    @Test("a long poll picks up a message another process wrote, by polling")
    func longPollSeesForeignWrites() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let waiter = try SQLiteMessageQueue(path: path, name: "jobs",
                                            options: .init(pollInterval: .milliseconds(50)))
        async let received = waiter.receive(maxMessages: 1, waitTime: .seconds(15), visibilityTimeout: nil)
        try await Task.sleep(for: .milliseconds(300))
        // Another process: the sqlite3 shell inserts a row directly, so no in-process signal
        // fires and only the poll can find it.
        let shell = "/usr/bin/sqlite3"
        try #require(FileManager.default.isExecutableFile(atPath: shell), "the test needs the sqlite3 shell")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: shell)
        process.arguments = [path, """
            PRAGMA busy_timeout=5000;
            INSERT INTO messages (id, queue, body, attributes, sent_at_ms, visible_at_ms, receive_count)
            VALUES ('foreign-1', 'jobs', 'from afar', '{}', 0, 0, 0);
            """]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let messages = try await received
        #expect(messages.map(\.id) == ["foreign-1"])
        #expect(messages.first?.body == "from afar")
    }

    @Test("a cancelled long poll leases nothing, not even a message sent while it was still waiting")
    func cancelledLongPoll() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let queue = try SQLiteMessageQueue(path: path, name: "jobs")
        let poll = Task { try await queue.receive(maxMessages: 1, waitTime: .seconds(20), visibilityTimeout: nil) }
        try await Task.sleep(for: .milliseconds(300)) // the poll is usually waiting by now; it need not be
        poll.cancel()
        // Sent after the cancel, before the poll is awaited: the send wakes a waiting poll, so
        // one that ignored its cancel would lease this message and return it. No clock is read:
        // on a loaded machine a kept cancel and an ignored one can take the same wall time.
        let id = try await queue.send("after", attributes: [:])
        #expect(try await poll.value.isEmpty)
        #expect(try await queue.depth() == QueueDepth(visible: 1, inFlight: 0))
        #expect(try await queue.receive().map(\.id) == [id])
    }

    @Test("arguments out of SQS's ranges throw invalidArgument naming the field")
    func validation() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let queue = try open()
        func field(_ body: () async throws -> Void) async -> String? {
            do { try await body(); return nil } catch let MessageQueueError.invalidArgument(field, _) { return field } catch { return "\(error)" }
        }
        #expect(await field { _ = try await queue.send("", attributes: [:]) } == "body")
        #expect(await field { _ = try await queue.send("a\u{FFFF}", attributes: [:]) } == "body")
        #expect(await field { _ = try await queue.send("ok", attributes: ["bad name": "v"]) } == #"attributes["bad name"]"#)
        #expect(await field { _ = try await queue.send("ok", attributes: ["amazon.x": "v"]) } == #"attributes["amazon.x"]"#)
        #expect(await field { _ = try await queue.send("ok", attributes: ["a..b": "v"]) } == #"attributes["a..b"]"#)
        let eleven = Dictionary(uniqueKeysWithValues: (0..<11).map { ("k\($0)", "v") })
        #expect(await field { _ = try await queue.send("ok", attributes: eleven) } == "attributes")
        #expect(await field { _ = try await queue.receive(maxMessages: 1, waitTime: .seconds(21), visibilityTimeout: nil) } == "waitTime")
        #expect(await field { _ = try await queue.receive(maxMessages: 1, waitTime: .zero, visibilityTimeout: .seconds(-1)) } == "visibilityTimeout")
        #expect(await field { _ = try await queue.receive(maxMessages: 1, waitTime: .zero, visibilityTimeout: .seconds(43_201)) } == "visibilityTimeout")
        #expect(await field { _ = try SQLiteMessageQueue(path: path, name: "bad/name") } == "name")
        #expect(await field { _ = try SQLiteMessageQueue(path: path, name: "q", configuration: .init(deadLetter: .init(queueName: "q", maxReceiveCount: 1))) } == "configuration.deadLetter.queueName")
        #expect(await field { _ = try SQLiteMessageQueue(path: path, name: "q", configuration: .init(deadLetter: .init(queueName: "d", maxReceiveCount: 0))) } == "configuration.deadLetter.maxReceiveCount")
        #expect(try await queue.depth() == QueueDepth(visible: 0, inFlight: 0))
    }

    @Test("a file that is not a database is reported with its path")
    func notADatabase() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: path))
        do {
            _ = try SQLiteMessageQueue(path: path, name: "jobs")
            Issue.record("opening a non-database file succeeded")
        } catch let error as SQLiteError {
            #expect(error.path == path)
            #expect(error.description.contains(path))
        }
    }
}
