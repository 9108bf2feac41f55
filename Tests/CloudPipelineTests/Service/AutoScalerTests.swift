import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Testing

/// ``ScalingPolicy`` arithmetic and ``AutoScaler`` decisions against real worker processes
/// (`/bin/sh` sleeping) and a real SQLite queue; the clock is injected for the cooldown.
@Suite("AutoScaler")
struct AutoScalerTests {
    @Test("desired = clamp(ceil(backlog / jobsPerWorker), min, max); bad policies are refused")
    func policy() throws {
        let policy = try ScalingPolicy(minWorkers: 1, maxWorkers: 4, jobsPerWorker: 5)
        let cases: [(QueueDepth, Int)] = [
            (QueueDepth(visible: 0, inFlight: 0), 1), (QueueDepth(visible: 5, inFlight: 0), 1),
            (QueueDepth(visible: 5, inFlight: 1), 2), (QueueDepth(visible: 0, inFlight: 11), 3),
            (QueueDepth(visible: 1000, inFlight: 0), 4), (QueueDepth(visible: 3, inFlight: 3, delayed: 4), 2),
        ]
        for (depth, expected) in cases { #expect(policy.desiredWorkers(for: depth) == expected, "\(depth)") }
        #expect(throws: ScalingPolicyError.self) { try ScalingPolicy(minWorkers: 3, maxWorkers: 2) }
        #expect(throws: ScalingPolicyError.self) { try ScalingPolicy(maxWorkers: 2, jobsPerWorker: 0) }
        #expect(throws: ScalingPolicyError.self) { try ScalingPolicy(minWorkers: -1, maxWorkers: 2) }
    }

    @Test("scales out at once with the backlog, scales in newest-first only after the cooldown")
    func reconcile() async throws {
        let directory = try LocalTestDirectory.make("autoscaler")
        defer { try? FileManager.default.removeItem(at: directory) }
        let queue = try SQLiteMessageQueue(path: directory.appendingPathComponent("q.sqlite").path, name: "input")
        let provider = ProcessInstanceProvider(command: .init(executable: URL(fileURLWithPath: "/bin/sh"), arguments: ["-c", "exec sleep 600"]))
        defer { Task { try? await provider.terminateAll() } }
        let clock = ManualInstantClock()
        let scaler = AutoScaler(queue: queue, provider: provider,
                                policy: try ScalingPolicy(minWorkers: 0, maxWorkers: 3, jobsPerWorker: 2, scaleInCooldown: .seconds(30)),
                                now: { clock.now })

        #expect(try await scaler.reconcile().action == .none)
        for index in 0..<5 { try await queue.send("job \(index)") }
        let out = try await scaler.reconcile()
        #expect(out.action == .launch(3))
        #expect(out.desired == 3)
        #expect(try await provider.running().count == 3)
        // Backlog falls to 2 messages: one worker wanted, but not before the cooldown.
        for message in try await queue.receive(maxMessages: 3, waitTime: .zero, visibilityTimeout: nil) {
            try await queue.delete(receiptHandle: message.receiptHandle)
        }
        let waiting = try await scaler.reconcile()
        #expect(waiting.desired == 1)
        #expect(waiting.action == .waitForCooldown(remaining: .seconds(30)))
        clock.advance(by: .seconds(29))
        guard case .waitForCooldown = try await scaler.reconcile().action else { Issue.record("scaled in early"); return }
        clock.advance(by: .seconds(1))
        let running = try await provider.running()
        let scaledIn = try await scaler.reconcile()
        let newestFirst = running.sorted { ($0.launchedAt!, $0.id) > ($1.launchedAt!, $1.id) }.prefix(2).map(\.id)
        #expect(scaledIn.action == .terminate(newestFirst))
        #expect(try await provider.running().count == 1)
        // A renewed burst resets the countdown and scales out again.
        for index in 0..<4 { try await queue.send("more \(index)") }
        #expect(try await scaler.reconcile().action == .launch(2))
    }
}

/// A monotonic instant the test advances by hand.
final class ManualInstantClock: @unchecked Sendable {
    // @unchecked: `offset` is only touched under `lock`.
    private let lock = NSLock()
    private let start = ContinuousClock.now
    private var offset: Duration = .zero
    var now: ContinuousClock.Instant { lock.withLock { start + offset } }
    func advance(by duration: Duration) { lock.withLock { offset += duration } }
}
