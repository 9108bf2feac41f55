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

/// The health rule: instances whose worker never heartbeats, falls silent or stopped are
/// replaced in the same reconcile; the wall clock is injected.
@Suite("AutoScaler fleet health")
struct AutoScalerHealthTests {
    @Test("an instance without a heartbeat past the grace, a silent one and a stopped one are terminated and replaced; fresh and draining ones are kept")
    func replacesUnhealthy() async throws {
        let directory = try LocalTestDirectory.make("autoscaler-health")
        defer { try? FileManager.default.removeItem(at: directory) }
        let queue = try SQLiteMessageQueue(path: directory.appendingPathComponent("q.sqlite").path, name: "input")
        let heartbeats = HeartbeatStore(store: try DirectoryObjectStore(root: directory.appendingPathComponent("out")))
        // Launch times and heartbeats on one manual clock: the grace is judged in logical time,
        // however long the launches take on a loaded machine.
        let wall = ManualDateClock()
        let provider = ProcessInstanceProvider(command: .init(executable: URL(fileURLWithPath: "/bin/sh"), arguments: ["-c", "exec sleep 600"]),
                                               clock: { wall.now })
        defer { Task { try? await provider.terminateAll() } }
        let health = FleetHealthCheck(heartbeats: heartbeats, startupGrace: .seconds(120), heartbeatTimeout: .seconds(60),
                                      clock: { wall.now })
        let scaler = AutoScaler(queue: queue, provider: provider,
                                policy: try ScalingPolicy(minWorkers: 4, maxWorkers: 4, jobsPerWorker: 1), health: health)
        #expect(try await scaler.reconcile().action == .launch(4))
        let ids = try await provider.running().map(\.id).sorted()
        func beat(_ id: String, _ state: WorkerHeartbeat.State) async throws {
            try await heartbeats.publish(WorkerHeartbeat(worker: id, state: state, startedAt: wall.now, at: wall.now, completed: 0, failed: 0))
        }
        // Within the grace, no heartbeat is no problem yet.
        wall.advance(by: 100)
        #expect(try await scaler.reconcile().replaced.isEmpty)
        try await beat(ids[0], .ready)
        try await beat(ids[1], .draining)
        try await beat(ids[2], .stopped)
        // ids[3] never beats. Past the grace: ids[2] (stopped) and ids[3] (never started) go.
        wall.advance(by: 30)
        let first = try await scaler.reconcile()
        #expect(first.replaced.keys.sorted() == [ids[2], ids[3]])
        #expect(first.replaced[ids[3]]?.contains("never started") == true)
        #expect(first.replaced[ids[2]]?.contains("stopped") == true)
        #expect(first.running == 2 && first.action == .launch(2))
        // 61 s of silence from ids[0] and ids[1]: both count as dead now; ids[0] beats again
        // first, and so do the replacements (launched 61 s ago, within their grace).
        wall.advance(by: 61)
        try await beat(ids[0], .ready)
        for replacement in try await provider.running().map(\.id) where !ids.contains(replacement) {
            try await beat(replacement, .ready)
        }
        let second = try await scaler.reconcile()
        #expect(Array(second.replaced.keys) == [ids[1]])
        #expect(second.replaced[ids[1]]?.contains("hung or died") == true)
        let running = Set(try await provider.running().map(\.id))
        #expect(running.count == 4 && running.contains(ids[0]) && !running.contains(ids[1]) && !running.contains(ids[2]) && !running.contains(ids[3]))
    }

    @Test("EC2 on moto: an instance that never heartbeats is terminated after the grace and replaced by a new one")
    func replacesSilentEC2Instance() async throws {
        let moto = try await MotoEnvironment.shared()
        let fleet = MotoEnvironment.uniqueName("health")
        let s3 = S3Client(configuration: moto.configuration())
        let bucket = MotoEnvironment.uniqueName("beats")
        try await s3.createBucket(bucket)
        let ec2 = EC2Client(configuration: moto.configuration())
        let provider = EC2InstanceProvider(client: ec2, template: EC2RunInstancesRequest(imageId: "ami-12345678", instanceType: "t3.micro"),
                                           tagValue: fleet)
        let wall = ManualDateClock()
        let directory = try LocalTestDirectory.make("health-queue")
        defer { try? FileManager.default.removeItem(at: directory) }
        let queue = try SQLiteMessageQueue(path: directory.appendingPathComponent("q.sqlite").path, name: "input")
        let scaler = AutoScaler(queue: queue, provider: provider,
                                policy: try ScalingPolicy(minWorkers: 1, maxWorkers: 1, jobsPerWorker: 1),
                                health: FleetHealthCheck(heartbeats: HeartbeatStore(store: S3ObjectStore(client: s3, bucket: bucket)),
                                                         startupGrace: .seconds(600), clock: { wall.now }))
        #expect(try await scaler.reconcile().action == .launch(1))
        let original = try #require(try await provider.running().first).id
        #expect(try await scaler.reconcile().replaced.isEmpty)
        // The launch time is moto's (real); the test's clock started before the launch. 900 s
        // on it is past the 600 s grace however long the launch took on a loaded machine.
        wall.advance(by: 900)
        let decision = try await scaler.reconcile()
        #expect(Array(decision.replaced.keys) == [original])
        #expect(decision.action == .launch(1))
        let now = try await ec2.describeAllInstances(filters: [EC2Filter(name: "tag:facerec:pipeline", values: [fleet])])
        #expect(now.count == 2)
        #expect(now.first { $0.instanceId == original }.map { ["shutting-down", "terminated"].contains($0.state) } == true)
        #expect(now.contains { $0.instanceId != original && ["pending", "running"].contains($0.state) })
    }
}

/// A wall clock the test advances by hand.
final class ManualDateClock: @unchecked Sendable {
    // @unchecked: `offset` is only touched under `lock`.
    private let lock = NSLock()
    private let start = Date()
    private var offset: TimeInterval = 0
    var now: Date { lock.withLock { start.addingTimeInterval(offset) } }
    func advance(by seconds: TimeInterval) { lock.withLock { offset += seconds } }
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
