import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Testing

// The backends every conformance suite runs against. To add one, append one line to
// `QueueBackends.all` or `StoreBackends.all` (a factory may throw to report that its service,
// e.g. the moto server, is unavailable).

/// What a queue conformance test asks for.
struct QueueSpec: Sendable {
    /// The queue's default visibility timeout (whole seconds, for SQS).
    var visibilityTimeout: Duration = .seconds(30)
    /// When set, the queue gets a dead-letter queue with this redrive limit.
    var maxReceiveCount: Int? = nil
}

/// A fresh, empty queue (and its dead-letter queue when asked for) made for one test.
struct QueueUnderTest: Sendable {
    let queue: any MessageQueue
    let deadLetter: (any MessageQueue)?
    /// Lets `duration` pass for the queue's leases: a logical clock's step where the backend
    /// takes one (SQLite), a real wait where its clock is the server's (SQS on moto).
    var passTime: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    /// Removes whatever the factory created.
    let cleanup: @Sendable () async -> Void
}

/// A named factory of ``QueueUnderTest``.
struct QueueBackend: Sendable, CustomTestStringConvertible {
    let name: String
    let make: @Sendable (QueueSpec) async throws -> QueueUnderTest
    var testDescription: String { name }
}

/// A fresh, empty object store made for one test.
struct StoreUnderTest: Sendable {
    let store: any ObjectStore
    let cleanup: @Sendable () async -> Void
}

/// A named factory of ``StoreUnderTest``.
struct StoreBackend: Sendable, CustomTestStringConvertible {
    let name: String
    let make: @Sendable () async throws -> StoreUnderTest
    var testDescription: String { name }
}

enum QueueBackends {
    static let all: [QueueBackend] = [
        .sqlite, .sqsMoto,
    ]
}

enum StoreBackends {
    static let all: [StoreBackend] = [
        .directory, .s3Moto,
    ]
}

// MARK: Local factories

extension QueueBackend {
    /// A new SQLite file per test holding the queue and, when asked for, its dead-letter queue.
    /// Its visibility deadlines follow a manual clock: leases expire when the test moves it.
    static let sqlite = QueueBackend(name: "SQLiteMessageQueue") { spec in
        let directory = try LocalTestDirectory.make("queue")
        let path = directory.appendingPathComponent("queue.db").path
        let clock = ManualClock()
        let now: @Sendable () -> Date = { clock.now() }
        let configuration = SQLiteMessageQueue.Configuration(
            visibilityTimeout: spec.visibilityTimeout,
            deadLetter: spec.maxReceiveCount.map { .init(queueName: "jobs-dlq", maxReceiveCount: $0) })
        let queue = try SQLiteMessageQueue(path: path, name: "jobs", configuration: configuration, now: now)
        let deadLetter = try spec.maxReceiveCount.map { _ in try SQLiteMessageQueue(path: path, name: "jobs-dlq", now: now) }
        return QueueUnderTest(queue: queue, deadLetter: deadLetter, passTime: { clock.advance(by: $0) }) {
            queue.close()
            deadLetter?.close()
            try? FileManager.default.removeItem(at: directory)
        }
    }
}

extension StoreBackend {
    /// A new directory per test.
    static let directory = StoreBackend(name: "DirectoryObjectStore") {
        let directory = try LocalTestDirectory.make("store")
        let store = try DirectoryObjectStore(root: directory.appendingPathComponent("root"))
        return StoreUnderTest(store: store) {
            try? FileManager.default.removeItem(at: directory)
        }
    }
}
