import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Testing

/// Regressions found by scripts/fault_injection.py: a permanently failing job whose first
/// delivery is cut short must still send its one `STEM:Error` line.
@Suite("RecognitionWorker under faults")
struct RecognitionWorkerFaultTests {
    @Test("first delivery fails transiently, the next ones permanently: exactly one Error line, result written, DLQ")
    func transientThenPermanent() async throws {
        let fixture = try LocalPipelineFixture(maxReceiveCount: 3)
        defer { fixture.remove() }
        try await fixture.inputStore.put(Data("not a jpeg".utf8), key: "broken.jpg")
        try await fixture.input.send("broken.jpg")
        // Delivery 1 throws a transient error (as an S3 503 would); deliveries 2 and 3 find that
        // the bytes are not an image.
        let worker = fixture.worker(ScriptedRecognizer(transientFailures: 1),
                                    .init(receiveWaitTime: .seconds(1), failedJobRetryDelay: .zero, transientRetryDelay: .zero))
        let run = Task { await worker.run() }
        #expect(await eventually { (try? await fixture.deadLetter.depth().total) == 1 })
        run.cancel()
        await run.value
        #expect(worker.statistics.snapshot().retried == 1)
        #expect(worker.statistics.snapshot().failed == 2)
        #expect(String(decoding: try await fixture.outputStore.get(key: "broken"), as: UTF8.self) == "error: not an image: 10 bytes")
        let lines = try await fixture.drainOutput()
        #expect(lines.map(\.body) == ["broken:Error"])
        #expect(lines.first?.attributes["status"] == "error")
        #expect(try await fixture.input.depth().total == 0)
    }

    @Test("a first delivery lost entirely (worker SIGKILLed mid-job): the redeliveries send one Error line")
    func firstDeliveryLost() async throws {
        let fixture = try LocalPipelineFixture(visibilityTimeout: .seconds(30), maxReceiveCount: 3)
        defer { fixture.remove() }
        try await fixture.inputStore.put(Data("not a jpeg".utf8), key: "broken.jpg")
        try await fixture.input.send("broken.jpg")
        let worker = fixture.worker(ScriptedRecognizer(), .init(receiveWaitTime: .zero, failedJobRetryDelay: .zero))
        // Delivery 1 is taken and never settled, as by a worker killed before it wrote anything.
        let lost = try #require(try await fixture.input.receive(maxMessages: 1, waitTime: .zero, visibilityTimeout: .zero).first)
        #expect(lost.receiveCount == 1)
        var outcomes: [RecognitionWorker.Outcome] = []
        for expected in [2, 3] {
            let message = try #require(try await fixture.input.receive(maxMessages: 1, waitTime: .seconds(2), visibilityTimeout: nil).first)
            #expect(message.receiveCount == expected)
            outcomes.append(await worker.process(message))
        }
        #expect(outcomes == [.failed(reason: "broken.jpg: not an image: 10 bytes"), .failed(reason: "broken.jpg: not an image: 10 bytes")])
        #expect(try await fixture.drainOutput().map(\.body) == ["broken:Error"])
        #expect(String(decoding: try await fixture.outputStore.get(key: "broken"), as: UTF8.self) == "error: not an image: 10 bytes")
    }
}
