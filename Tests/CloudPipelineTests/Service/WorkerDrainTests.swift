import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Testing

/// A draining worker loses nothing: not the jobs in hand, and not the messages a receive that
/// was under way when the drain began brings back (on SQS, an aborted long poll would leave
/// them hidden for their whole visibility timeout; giving them back would spend one of their
/// dead-letter receives untried).
@Suite("RecognitionWorker drain")
struct WorkerDrainTests {
    @Test("SQS (moto): the message handed to a long poll under way when the drain begins is processed, its result written and the message deleted, before the worker stops")
    func sqsDrainFinishesWhatThePollBrings() async throws {
        let moto = try await MotoEnvironment.shared()
        let sqs = SQSClient(configuration: moto.configuration())
        let queueURL = try await sqs.createQueue(name: MotoEnvironment.uniqueName("drain"), attributes: ["VisibilityTimeout": "120"])
        let input = CountingQueue(SQSMessageQueue(client: sqs, queueUrl: queueURL))
        let fixture = try LocalPipelineFixture()
        defer { fixture.remove() }
        try await fixture.inputStore.put(Data("face:Ana".utf8), key: "late.jpg")
        let recognizer = ScriptedRecognizer()
        let worker = RecognitionWorker(input: input, output: fixture.output, inputStore: fixture.inputStore,
                                       outputStore: fixture.outputStore, recognizer: recognizer,
                                       configuration: .init(concurrency: 1, visibilityTimeout: .seconds(120), receiveWaitTime: .seconds(6)))
        let run = Task { await worker.run() }
        // The drain begins once the worker's first long poll is under way (an event, not a delay).
        #expect(await eventually { input.receives >= 1 })
        run.cancel()
        // Sent after the drain began: only the poll under way can take it.
        try await input.send("late.jpg")
        await run.value

        let statistics = worker.statistics.snapshot()
        #expect(statistics.received == 1 && statistics.receivedWhileDraining == 1)
        #expect(statistics.completed == 1 && statistics.settled == statistics.received)
        #expect(recognizer.callCount("late.jpg") == 1)
        #expect(String(decoding: try await fixture.outputStore.get(key: "late"), as: UTF8.self) == "Ana")
        // Deleted, not hidden: a message the drain dropped would sit in flight for 120 s.
        #expect(try await input.depth().total == 0)
        // And not made visible again: that would spend one of its dead-letter receives untried.
        #expect(try await input.receive(maxMessages: 1, waitTime: .zero, visibilityTimeout: nil).isEmpty)
    }

    @Test("SQLite: a drain stops the long poll without claiming anything, not even a message sent while it waited")
    func sqliteDrainStopsWaiting() async throws {
        let fixture = try LocalPipelineFixture(visibilityTimeout: .seconds(120))
        defer { fixture.remove() }
        let worker = fixture.worker(ScriptedRecognizer(), .init(concurrency: 2, receiveWaitTime: .seconds(20)))
        let run = Task { await worker.run() }
        try await Task.sleep(for: .milliseconds(300))
        run.cancel()
        // Sent while the worker may still be in its 20 s poll: a poll that ignored the cancel
        // would claim it within its 20 ms look interval, and the draining worker would take it.
        try await fixture.input.send("after.jpg")
        await run.value
        #expect(try await fixture.input.depth().visible == 1)
        #expect(worker.statistics.snapshot().received == 0)
    }

    @Test("heartbeats: ready while taking jobs (with the count), stopped once drained")
    func heartbeats() async throws {
        let fixture = try LocalPipelineFixture()
        defer { fixture.remove() }
        let stamp = Date(timeIntervalSince1970: 1_800_000_000)
        let heartbeats = HeartbeatStore(store: fixture.outputStore)
        let worker = fixture.worker(ScriptedRecognizer(), .init(
            receiveWaitTime: .seconds(1),
            heartbeat: HeartbeatSettings(store: heartbeats, worker: "local-0000beat", interval: .milliseconds(100), clock: { stamp })))
        try await fixture.inputStore.put(Data("face:Ana".utf8), key: "a.jpg")
        try await fixture.input.send("a.jpg")
        let run = Task { await worker.run() }
        #expect(await eventually { (try? await heartbeats.latest(of: "local-0000beat"))?.completed == 1 })
        let ready = try #require(try await heartbeats.latest(of: "local-0000beat"))
        #expect(ready.state == .ready && ready.at == stamp && ready.worker == "local-0000beat")
        run.cancel()
        await run.value
        let last = try #require(try await heartbeats.latest(of: "local-0000beat"))
        #expect(last.state == .stopped)
        #expect(last.completed == 1)
        // Kept apart from results: the only other object in the output store is the result.
        #expect(try await fixture.outputStore.list(prefix: "").map(\.key) == ["_facerec/heartbeats/local-0000beat", "a"])
    }
}
