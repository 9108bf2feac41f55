import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Testing

/// ``RecognitionWorker`` on the real local backends: results, idempotent redelivery, the
/// dead-letter path, retries, lease renewal and draining on cancellation.
@Suite("RecognitionWorker")
struct RecognitionWorkerTests {
    @Test("a job writes the result object, sends STEM:NAME with the input key, and deletes the message")
    func completes() async throws {
        let fixture = try LocalPipelineFixture()
        defer { fixture.remove() }
        try await fixture.inputStore.put(Data("face:Paul".utf8), key: "test_00.jpg")
        try await fixture.input.send("test_00.jpg")
        let worker = fixture.worker(ScriptedRecognizer(), .init(receiveWaitTime: .zero))
        let message = try #require(try await fixture.input.receive(maxMessages: 1, waitTime: .zero, visibilityTimeout: nil).first)
        let outcome = await worker.process(message)
        #expect(outcome == .completed([.init(inputKey: "test_00.jpg", resultKey: "test_00", line: "test_00:Paul")]))
        #expect(try await fixture.outputStore.get(key: "test_00") == Data("Paul".utf8))
        let lines = try await fixture.drainOutput()
        #expect(lines.map(\.body) == ["test_00:Paul"])
        #expect(lines.first?.attributes == ["inputKey": "test_00.jpg", "status": "ok"])
        #expect(try await fixture.input.depth().total == 0)
    }

    @Test("a redelivered message gives the same result again (idempotent)")
    func idempotent() async throws {
        let fixture = try LocalPipelineFixture(visibilityTimeout: .seconds(1))
        defer { fixture.remove() }
        try await fixture.inputStore.put(Data("face:Emily".utf8), key: "test_01.jpg")
        try await fixture.input.send("test_01.jpg")
        let recognizer = ScriptedRecognizer()
        let worker = fixture.worker(recognizer, .init(receiveWaitTime: .zero))
        // First delivery: processed, but (as if the worker died before deleting) the message is
        // received again by someone else after the timeout.
        let first = try #require(try await fixture.input.receive(maxMessages: 1, waitTime: .zero, visibilityTimeout: .zero).first)
        let second = try #require(try await fixture.input.receive(maxMessages: 1, waitTime: .zero, visibilityTimeout: nil).first)
        #expect(second.receiveCount == 2)
        let firstOutcome = await worker.process(first)
        let secondOutcome = await worker.process(second)
        #expect(firstOutcome == secondOutcome)
        #expect(recognizer.callCount("test_01.jpg") == 2)
        #expect(try await fixture.outputStore.get(key: "test_01") == Data("Emily".utf8))
        #expect(try await fixture.drainOutput().map(\.body) == ["test_01:Emily", "test_01:Emily"])
        #expect(try await fixture.input.depth().total == 0)
    }

    @Test("an undecodable image gets an error result, one Error line, and ends in the dead-letter queue")
    func deadLetter() async throws {
        let fixture = try LocalPipelineFixture(maxReceiveCount: 2)
        defer { fixture.remove() }
        try await fixture.inputStore.put(Data("not a jpeg".utf8), key: "broken.jpg")
        try await fixture.input.send("broken.jpg")
        let worker = fixture.worker(ScriptedRecognizer(), .init(receiveWaitTime: .seconds(1), failedJobRetryDelay: .zero))
        let run = Task { await worker.run() }
        #expect(await eventually { (try? await fixture.deadLetter.depth().total) == 1 })
        run.cancel()
        await run.value
        #expect(try await fixture.input.depth().total == 0)
        let result = String(decoding: try await fixture.outputStore.get(key: "broken"), as: UTF8.self)
        #expect(result == "error: not an image: 10 bytes")
        let lines = try await fixture.drainOutput()
        #expect(lines.map(\.body) == ["broken:Error"])
        #expect(lines.first?.attributes["status"] == "error")
        #expect(worker.statistics.snapshot().failed == 2)
        let dead = try #require(try await fixture.deadLetter.receive(maxMessages: 1, waitTime: .zero, visibilityTimeout: nil).first)
        #expect(dead.body == "broken.jpg")
    }

    @Test("a missing object and a body that is not a job fail permanently; the S3 test event is deleted")
    func permanentAndIgnored() async throws {
        let fixture = try LocalPipelineFixture()
        defer { fixture.remove() }
        let worker = fixture.worker(ScriptedRecognizer(), .init(receiveWaitTime: .zero, failedJobRetryDelay: .seconds(30)))
        try await fixture.input.send("missing.jpg")
        try await fixture.input.send("{\"Records\": 5}")
        try await fixture.input.send(#"{"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "input"}"#)
        let messages = try await fixture.input.receive(maxMessages: 3, waitTime: .zero, visibilityTimeout: nil)
        var outcomes: [RecognitionWorker.Outcome] = []
        for message in messages { outcomes.append(await worker.process(message)) }
        #expect(outcomes.count == 3)
        if case .failed(let reason) = outcomes[0] { #expect(reason.contains("missing.jpg")) } else { Issue.record("\(outcomes[0])") }
        if case .failed(let reason) = outcomes[1] { #expect(reason.contains("Records")) } else { Issue.record("\(outcomes[1])") }
        #expect(outcomes[2] == .ignored(reason: "s3:TestEvent"))
        // The two failures stay (hidden, on their way to the DLQ); the test event is gone.
        #expect(try await fixture.input.depth() == QueueDepth(visible: 0, inFlight: 2))
        #expect(String(decoding: try await fixture.outputStore.get(key: "missing"), as: UTF8.self).hasPrefix("error: object not found"))
    }

    @Test("an event for another bucket is refused")
    func foreignBucket() async throws {
        let fixture = try LocalPipelineFixture()
        defer { fixture.remove() }
        try await fixture.inputStore.put(Data("face:Paul".utf8), key: "a.jpg")
        let worker = fixture.worker(ScriptedRecognizer(), .init(receiveWaitTime: .zero, inputBucket: "input"))
        try await fixture.input.send(#"{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "other"}, "object": {"key": "a.jpg"}}}]}"#)
        let message = try #require(try await fixture.input.receive(maxMessages: 1, waitTime: .zero, visibilityTimeout: nil).first)
        guard case .failed(let reason) = await worker.process(message) else { Issue.record("not failed"); return }
        #expect(reason.contains("\"other\""))
    }

    @Test("a transient failure writes nothing and the job succeeds on redelivery")
    func transient() async throws {
        let fixture = try LocalPipelineFixture()
        defer { fixture.remove() }
        try await fixture.inputStore.put(Data("face:Paul".utf8), key: "t.jpg")
        try await fixture.input.send("t.jpg")
        let recognizer = ScriptedRecognizer(transientFailures: 1)
        let worker = fixture.worker(recognizer, .init(receiveWaitTime: .seconds(1), transientRetryDelay: .zero))
        let run = Task { await worker.run() }
        #expect(await eventually { (try? await fixture.outputStore.head(key: "t")) != nil })
        #expect(await eventually { (try? await fixture.input.depth().total) == 0 })
        run.cancel()
        await run.value
        #expect(recognizer.callCount("t.jpg") == 2)
        #expect(worker.statistics.snapshot().retried == 1)
        #expect(worker.statistics.snapshot().completed == 1)
        #expect(try await fixture.drainOutput().map(\.body) == ["t:Paul"])
    }

    @Test("a job longer than the visibility timeout keeps its lease and is processed once")
    func leaseRenewal() async throws {
        // Logical time: the queue's deadlines follow `clock`, the job runs until `gate` opens,
        // and each step waits for the worker's next renewal before moving the clock 1.5 s on,
        // past the original 2 s lease from the second step. Without renewal the message becomes
        // visible and the second worker takes it too.
        let clock = ManualClock()
        let fixture = try LocalPipelineFixture(clock: clock)
        defer { fixture.remove() }
        try await fixture.inputStore.put(Data("face:Slow".utf8), key: "slow.jpg")
        try await fixture.input.send("slow.jpg")
        let gate = AsyncGate()
        let recognizer = ScriptedRecognizer(gate: gate)
        let configuration = RecognitionWorker.Configuration(concurrency: 2, visibilityTimeout: .seconds(2),
                                                            leaseRenewalInterval: .milliseconds(50), receiveWaitTime: .seconds(1))
        let counted = CountingQueue(fixture.input)
        let first = fixture.worker(recognizer, configuration, input: counted)
        var runs = [Task { await first.run() }]
        #expect(await eventually { recognizer.callCount("slow.jpg") == 1 })
        // A second worker competes from now on.
        let second = fixture.worker(recognizer, configuration)
        runs.append(Task { await second.run() })
        for step in 1...4 {
            let renewals = counted.renewals
            #expect(await eventually { counted.renewals > renewals }, "step \(step): no renewal")
            clock.advance(by: .milliseconds(1500))
            #expect(try await fixture.input.depth().visible == 0, "step \(step): the lease lapsed")
        }
        gate.open()
        #expect(await eventually { (try? await fixture.input.depth().total) == 0 })
        runs.forEach { $0.cancel() }
        for run in runs { await run.value }
        #expect(recognizer.callCount("slow.jpg") == 1)
        #expect(try await fixture.drainOutput().map(\.body) == ["slow:Slow"])
    }

    @Test("cancelling run() lets the job in flight finish and write its result")
    func drainsOnCancel() async throws {
        let fixture = try LocalPipelineFixture()
        defer { fixture.remove() }
        try await fixture.inputStore.put(Data("face:Ana".utf8), key: "drain.jpg")
        try await fixture.input.send("drain.jpg")
        // The job is held at `gate` until after the cancel, so it is truly in the recognizer (not
        // merely received, which a drain rightly gives back) when the worker is told to stop.
        let gate = AsyncGate()
        let recognizer = ScriptedRecognizer(gate: gate)
        let worker = fixture.worker(recognizer, .init(receiveWaitTime: .seconds(1)))
        let run = Task { await worker.run() }
        #expect(await eventually { recognizer.callCount("drain.jpg") == 1 })
        run.cancel()
        gate.open()
        await run.value
        // Returned only after the job completed.
        #expect(try await fixture.outputStore.get(key: "drain") == Data("Ana".utf8))
        #expect(try await fixture.input.depth().total == 0)
    }
}
