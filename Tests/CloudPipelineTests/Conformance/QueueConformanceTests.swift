import CloudPipeline
import Foundation
import Testing

/// The behaviour every ``MessageQueue`` backend promises (see the protocol's contract), run
/// against each entry of `QueueBackends.all`. Timeouts are whole seconds so that SQS runs them
/// unchanged; receives that expect a message wait a little, because SQS short polls may miss.
@Suite("MessageQueue conformance")
struct QueueConformanceTests {
    @Test("send, receive, delete", arguments: QueueBackends.all)
    func sendReceiveDelete(backend: QueueBackend) async throws {
        try await withQueue(backend) { queue, _ in
            let id = try await queue.send("job-1", attributes: [:])
            #expect(!id.isEmpty)
            let received = try await queue.receive(maxMessages: 1, waitTime: .seconds(2), visibilityTimeout: nil)
            let message = try #require(received.first)
            #expect(received.count == 1)
            #expect(message.id == id)
            #expect(message.body == "job-1")
            #expect(message.receiveCount == 1)
            #expect(message.attributes.isEmpty)
            try await queue.delete(receiptHandle: message.receiptHandle)
            #expect(try await queue.receive(maxMessages: 1, waitTime: .seconds(1), visibilityTimeout: nil).isEmpty)
            let depth = try await queue.depth()
            #expect(depth.visible == 0 && depth.inFlight == 0)
        }
    }

    @Test("attributes and unicode bodies round-trip", arguments: QueueBackends.all)
    func attributesRoundTrip(backend: QueueBackend) async throws {
        try await withQueue(backend) { queue, _ in
            let attributes = ["job-kind": "recognise", "trace.id": "ÅÍ·✓ 🙂", "object_key": "uploads/2026/äb c.jpg"]
            let body = #"{"key":"uploads/é.jpg","n":1,"tab":"\t","emoji":"🧑‍💻"}"# + "\nsecond line"
            let id = try await queue.send(body, attributes: attributes)
            let message = try #require(try await queue.receive(maxMessages: 1, waitTime: .seconds(2), visibilityTimeout: nil).first)
            #expect(message.id == id)
            #expect(message.body == body)
            #expect(message.attributes == attributes)
        }
    }

    @Test("receive returns at most maxMessages (1...10), each message once", arguments: QueueBackends.all)
    func maxMessages(backend: QueueBackend) async throws {
        try await withQueue(backend) { queue, _ in
            var sent = Set<String>()
            for index in 0..<15 { sent.insert(try await queue.send("m\(index)", attributes: [:])) }
            var seen: [String] = []
            for _ in 0..<10 where seen.count < 15 {
                let batch = try await queue.receive(maxMessages: 10, waitTime: .seconds(1), visibilityTimeout: .seconds(60))
                #expect(batch.count <= 10)
                seen += batch.map(\.id)
            }
            #expect(seen.count == 15)
            #expect(Set(seen) == sent)
            for bad in [0, 11] {
                await #expect(throws: MessageQueueError.self) {
                    _ = try await queue.receive(maxMessages: bad, waitTime: .zero, visibilityTimeout: nil)
                }
            }
        }
    }

    @Test("an undeleted message comes back after its visibility timeout with a new handle", arguments: QueueBackends.all)
    func visibilityExpiry(backend: QueueBackend) async throws {
        try await withQueue(backend) { queue, _, passTime in
            let id = try await queue.send("retry me", attributes: [:])
            // A lease long enough that the next call surely falls inside it on moto, whose clock
            // is real: with the whole suite running on a loaded 2-core machine, more than 5 s
            // once passed between two back-to-back calls. (On SQLite the clock is logical.)
            let lease = Duration.seconds(20)
            let first = try #require(try await queue.receive(maxMessages: 1, waitTime: .seconds(2), visibilityTimeout: lease).first)
            #expect(first.receiveCount == 1)
            // Hidden while the lease lasts.
            #expect(try await queue.receive(maxMessages: 1, waitTime: .zero, visibilityTimeout: .seconds(30)).isEmpty)
            try await passTime(lease + .seconds(1))
            let second = try #require(try await queue.receive(maxMessages: 1, waitTime: .seconds(2), visibilityTimeout: .seconds(30)).first)
            #expect(second.id == id)
            #expect(second.body == "retry me")
            #expect(second.receiveCount == 2)
            #expect(second.receiptHandle != first.receiptHandle)
        }
    }

    @Test("changeVisibility(0) releases a message at once", arguments: QueueBackends.all)
    func changeVisibilityToZero(backend: QueueBackend) async throws {
        try await withQueue(backend) { queue, _ in
            let id = try await queue.send("give back", attributes: [:])
            let first = try #require(try await queue.receive(maxMessages: 1, waitTime: .seconds(2), visibilityTimeout: .seconds(60)).first)
            try await queue.changeVisibility(receiptHandle: first.receiptHandle, timeout: .zero)
            let again = try #require(try await queue.receive(maxMessages: 1, waitTime: .seconds(2), visibilityTimeout: nil).first)
            #expect(again.id == id)
            #expect(again.receiveCount == 2)
        }
    }

    @Test("changeVisibility extends a lease past the original timeout", arguments: QueueBackends.all)
    func changeVisibilityExtends(backend: QueueBackend) async throws {
        try await withQueue(backend) { queue, _, passTime in
            _ = try await queue.send("long job", attributes: [:])
            let message = try #require(try await queue.receive(maxMessages: 1, waitTime: .seconds(2), visibilityTimeout: .seconds(1)).first)
            try await queue.changeVisibility(receiptHandle: message.receiptHandle, timeout: .seconds(60))
            try await passTime(.seconds(2))
            #expect(try await queue.receive(maxMessages: 1, waitTime: .seconds(1), visibilityTimeout: nil).isEmpty)
            let depth = try await queue.depth()
            #expect(depth.inFlight == 1)
            #expect(depth.visible == 0)
            try await queue.delete(receiptHandle: message.receiptHandle)
        }
    }

    @Test("a superseded handle does not fail delete; the current one deletes; garbage throws", arguments: QueueBackends.all)
    func staleAndInvalidHandles(backend: QueueBackend) async throws {
        try await withQueue(backend) { queue, _, passTime in
            _ = try await queue.send("contested", attributes: [:])
            let first = try #require(try await queue.receive(maxMessages: 1, waitTime: .seconds(2), visibilityTimeout: .seconds(1)).first)
            try await passTime(.seconds(2))
            let second = try #require(try await queue.receive(maxMessages: 1, waitTime: .seconds(2), visibilityTimeout: .seconds(1)).first)
            #expect(second.receiveCount == 2)
            // Whether this removes the message is backend-defined; it must not throw.
            try await queue.delete(receiptHandle: first.receiptHandle)
            try await queue.delete(receiptHandle: second.receiptHandle)
            // Deleting again is idempotent.
            try await queue.delete(receiptHandle: second.receiptHandle)
            try await passTime(.seconds(2))
            #expect(try await queue.receive(maxMessages: 1, waitTime: .seconds(1), visibilityTimeout: nil).isEmpty)
            await #expect(throws: MessageQueueError.self) {
                try await queue.delete(receiptHandle: "not-a-receipt-handle")
            }
        }
    }

    @Test("a message moves to the dead-letter queue when a receive would exceed maxReceiveCount", arguments: QueueBackends.all)
    func deadLetter(backend: QueueBackend) async throws {
        try await withQueue(backend, QueueSpec(visibilityTimeout: .seconds(1), maxReceiveCount: 2)) { queue, deadLetter, passTime in
            let dlq = try #require(deadLetter)
            let id = try await queue.send("poison", attributes: ["kind": "poison"])
            for expected in 1...2 {
                let message = try #require(try await queue.receive(maxMessages: 1, waitTime: .seconds(3), visibilityTimeout: nil).first)
                #expect(message.id == id)
                #expect(message.receiveCount == expected)
                try await passTime(.seconds(2))
            }
            // The third receive would exceed the limit: the message moves instead.
            #expect(try await queue.receive(maxMessages: 1, waitTime: .seconds(1), visibilityTimeout: nil).isEmpty)
            let dead = try #require(try await dlq.receive(maxMessages: 1, waitTime: .seconds(3), visibilityTimeout: nil).first)
            #expect(dead.id == id)
            #expect(dead.body == "poison")
            #expect(dead.attributes == ["kind": "poison"])
            let depth = try await queue.depth()
            #expect(depth.visible == 0 && depth.inFlight == 0)
        }
    }

    @Test("a long poll returns as soon as a message is sent", arguments: QueueBackends.all)
    func longPollWakes(backend: QueueBackend) async throws {
        try await withQueue(backend) { queue, _ in
            async let received = queue.receive(maxMessages: 1, waitTime: .seconds(20), visibilityTimeout: nil)
            try await Task.sleep(for: .milliseconds(500))
            let id = try await queue.send("wake up", attributes: [:])
            // Ordering, not speed: the poll under way when the message was sent returns it (a
            // poll that ignored the send would end empty after its 20 s).
            #expect(try await received.map(\.id) == [id])
        }
    }

    @Test("a long poll on an empty queue returns empty after the wait", arguments: QueueBackends.all)
    func longPollTimesOut(backend: QueueBackend) async throws {
        try await withQueue(backend) { queue, _ in
            let clock = ContinuousClock()
            let start = clock.now
            let messages = try await queue.receive(maxMessages: 1, waitTime: .seconds(1), visibilityTimeout: nil)
            let elapsed = start.duration(to: clock.now)
            #expect(messages.isEmpty)
            #expect(elapsed >= .milliseconds(900))
        }
    }

    @Test("depth counts visible and in-flight messages", arguments: QueueBackends.all)
    func depth(backend: QueueBackend) async throws {
        try await withQueue(backend) { queue, _ in
            #expect(try await queue.depth() == QueueDepth(visible: 0, inFlight: 0, delayed: 0))
            for index in 0..<3 { _ = try await queue.send("d\(index)", attributes: [:]) }
            #expect(try await queue.depth() == QueueDepth(visible: 3, inFlight: 0, delayed: 0))
            let message = try #require(try await queue.receive(maxMessages: 1, waitTime: .seconds(2), visibilityTimeout: .seconds(60)).first)
            #expect(try await queue.depth() == QueueDepth(visible: 2, inFlight: 1, delayed: 0))
            try await queue.delete(receiptHandle: message.receiptHandle)
            #expect(try await queue.depth() == QueueDepth(visible: 2, inFlight: 0, delayed: 0))
        }
    }

    @Test("invalid sends are rejected with MessageQueueError.invalidArgument", arguments: QueueBackends.all)
    func invalidSends(backend: QueueBackend) async throws {
        try await withQueue(backend) { queue, _ in
            let tooBig = String(repeating: "x", count: MessageQueueLimits.maxBodyBytes + 1)
            for (body, attributes) in [("", [:]), (tooBig, [:]), ("nul\u{0}inside", [:]),
                                       ("ok", ["AWS.reserved": "x"]), ("ok", ["empty": ""])] as [(String, [String: String])] {
                await #expect(throws: MessageQueueError.self, "body of \(body.utf8.count) bytes, attributes \(attributes)") {
                    _ = try await queue.send(body, attributes: attributes)
                }
            }
            let atLimit = String(repeating: "y", count: MessageQueueLimits.maxBodyBytes)
            _ = try await queue.send(atLimit, attributes: [:])
            let message = try #require(try await queue.receive(maxMessages: 1, waitTime: .seconds(2), visibilityTimeout: nil).first)
            #expect(message.body == atLimit)
        }
    }

    // MARK: Helpers

    private func withQueue(_ backend: QueueBackend, _ spec: QueueSpec = QueueSpec(),
                           _ body: (any MessageQueue, (any MessageQueue)?) async throws -> Void) async throws {
        try await withQueue(backend, spec) { queue, deadLetter, _ in try await body(queue, deadLetter) }
    }

    /// `body` gets the queue, its dead-letter queue, and how to let time pass for its leases
    /// (logical on SQLite, real on moto's SQS).
    private func withQueue(_ backend: QueueBackend, _ spec: QueueSpec = QueueSpec(),
                           _ body: (any MessageQueue, (any MessageQueue)?, _ passTime: @Sendable (Duration) async throws -> Void)
                               async throws -> Void) async throws {
        let fixture = try await backend.make(spec)
        do {
            try await body(fixture.queue, fixture.deadLetter, fixture.passTime)
        } catch {
            await fixture.cleanup()
            throw error
        }
        await fixture.cleanup()
    }
}
