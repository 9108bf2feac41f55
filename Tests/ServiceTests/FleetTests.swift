import CloudPipeline
import CloudPipelineTestSupport
import FaceRecognitionService
import Foundation
import Testing

/// The fleet as an operator runs it: `facerec-worker` processes on S3/SQS (moto, signatures
/// checked) or the embedded default, drained with SIGTERM under load; workers in AWS mode on
/// any machine; wrong credentials stopping every executable at once.
@Suite("Fleet", .serialized)
struct FleetTests {
    static func bin(_ name: String) -> URL { ServiceFixtures.binaries.appendingPathComponent(name) }

    /// A pipeline on moto, set up as `facerec-server setup` does, and the environment that
    /// points the executables at it.
    struct MotoPipeline {
        let environment: [String: String]
        let pipeline: Pipeline

        init(_ moto: MotoEnvironment, secret: String? = nil) async throws {
            let suffix = MotoEnvironment.uniqueName("fleet")
            var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
            environment.merge(try await moto.pipelineEnvironment(suffix: suffix)) { $1 }
            environment["OPENBLAS_NUM_THREADS"] = "1"
            pipeline = try Pipeline.open(.aws(try CloudConfiguration(environment: environment)), environment: environment)
            if let secret { environment["AWS_SECRET_ACCESS_KEY"] = secret }
            self.environment = environment
        }
    }

    /// Children a test starts, killed when it ends, pass or fail.
    final class Children: @unchecked Sendable {
        // @unchecked: `all` is only touched under `lock`.
        private let lock = NSLock()
        private var all: [ChildProcess] = []
        func start(_ executable: URL, _ arguments: [String], environment: [String: String], log: URL) throws -> ChildProcess {
            let child = try ChildProcess(executable, arguments, environment: environment, stderr: log)
            lock.withLock { all.append(child) }
            return child
        }
        deinit {
            for child in all where child.process.isRunning { child.signal(SIGKILL) }
        }
    }

    /// The counts in a worker's `worker stopped` line (`jobs=received 36 (2 while draining),
    /// completed 36, ignored 0, …`), by name.
    static func jobCounts(_ line: String) -> [String: Int] {
        guard let jobs = line.range(of: "jobs=") else { return [:] }
        var counts: [String: Int] = [:]
        for part in line[jobs.upperBound...].split(separator: ",") {
            let words = part.split(separator: " ")
            if words.count >= 2, let value = Int(words[1]) { counts[String(words[0])] = value }
        }
        return counts
    }

    static func workerArguments(extra: [String] = []) throws -> [String] {
        try EndToEndTests.recognitionArguments + ["--concurrency", "4", "--lanes", "1", "--batch-size", "4"] + extra
    }

    enum Backend: String, CaseIterable, CustomTestStringConvertible {
        case moto, local
        var testDescription: String { rawValue }
        /// Uploads per run: the issue's 200 on moto; 100 on the embedded default, whose drain
        /// path (a SQLite poll that stops at once) is the shorter one.
        var uploads: Int { self == .moto ? 200 : 100 }
    }

    @Test("uploads keep arriving while one of two workers is drained with SIGTERM: every one is answered, as facerec identify answers it, within the visibility timeout",
          arguments: Backend.allCases)
    func drainUnderLoad(_ backend: Backend) async throws {
        let directory = try LocalTestDirectory.make("fleet-drain")
        defer { try? FileManager.default.removeItem(at: directory) }
        let children = Children()
        let pipeline: Pipeline
        var environment: [String: String]
        var workerExtra: [String] = []
        switch backend {
        case .moto:
            let moto = try await MotoPipeline(try await MotoEnvironment.shared())
            pipeline = moto.pipeline
            environment = moto.environment
        case .local:
            let local = PipelineBackend.local(LocalPipelineLayout(dataDirectory: directory.appendingPathComponent("data")))
            _ = try await PipelineSetup().run(local)
            pipeline = try Pipeline.open(local)
            environment = ProcessInfo.processInfo.environment.filter { !PipelineBackend.cloudVariables.contains($0.key) }
            environment["OPENBLAS_NUM_THREADS"] = "1"
            workerExtra = ["--data-dir", directory.appendingPathComponent("data").path]
        }
        let visibility = try await pipeline.input.defaultVisibilityTimeout()
        #expect(visibility == PipelineSettings.defaultVisibilityTimeout)

        // The API in process (it only stores and queues); the workers as the executables, on
        // the default 20 s long polls that a drain must not cut short.
        let waiter = ResultWaiter(output: pipeline.output, outputStore: pipeline.outputStore,
                                  storePollInterval: .milliseconds(500), receiveWaitTime: .seconds(1))
        let api = UploadAPI(pipeline: pipeline, engine: try ServiceFixtures.engine, waiter: waiter, metrics: ServiceMetrics(),
                            configuration: .init(resultTimeout: UploadAPIConfiguration.defaultResultTimeout(visibilityTimeout: visibility)))
        let server = try await ServedApplication.start { api.application(host: "127.0.0.1", port: 0, onListening: $0) }
        let consumer = Task { await waiter.run() }
        defer { consumer.cancel() }

        var workers: [ChildProcess] = []
        for name in ["w1", "w2"] {
            var env = environment
            env[ProcessInstanceProvider.workerIDVariable] = "local-\(name)"
            workers.append(try children.start(Self.bin("facerec-worker"), Self.workerArguments(extra: workerExtra), environment: env,
                                              log: directory.appendingPathComponent("\(name).log")))
        }

        let pool = try ServiceFixtures.images(100)
        let files = (0..<backend.uploads).map { pool[$0 % pool.count] }
        let answered = Counter()
        let client = UploadClient(baseURL: server.baseURL, timeout: 600)
        let uploads = Task { await client.uploadAll(files, concurrency: 6) { answered.set($0) } }
        // Drain w1 a third of the way in, while uploads keep arriving.
        #expect(await eventually(timeout: .seconds(900)) { answered.value >= backend.uploads / 3 })
        workers[0].signal(SIGTERM)
        let drainedAt = answered.value
        #expect(await workers[0].waitForExit(timeout: .seconds(120)) == 0)
        let results = await uploads.value
        await server.stop()
        #expect(answered.value > drainedAt + 10, "uploads went on after the drain")

        let answers = results.compactMap { try? $0.get() }
        #expect(answers.count == backend.uploads)
        #expect(answers.allSatisfy { $0.status == 200 }, "\(answers.filter { $0.status != 200 }.prefix(3))")
        let expected = try await ServiceFixtures.identify(pool)
        for (file, answer) in zip(files, answers) {
            let stem = file.deletingPathExtension().lastPathComponent
            #expect(answer.body == "\(stem):\(expected[stem] ?? "?")")
        }
        let summary = LatencySummary(answers.map(\.seconds))
        print("fleet drain (\(backend.rawValue)): \(answers.count)/\(backend.uploads) answered, latency \(summary), drained w1 after \(drainedAt)")

        let log = try String(contentsOf: directory.appendingPathComponent("w1.log"), encoding: .utf8)
        #expect(log.contains("draining: no new jobs") && log.contains("worker stopped"))
        let stopped = log.split(separator: "\n").first { $0.contains("worker stopped") }.map(String.init) ?? "-"
        print("fleet drain (\(backend.rawValue)): w1's last line: \(stopped)")
        #expect(try await pipeline.input.depth().total == 0)
        let deadLettered = try await pipeline.deadLetter?.depth().total ?? 0
        #expect(deadLettered == 0)
        if deadLettered > 0 || answers.contains(where: { $0.status != 200 }) {
            // What a failed run needs to be understood: every line of either worker that is not
            // a plain first-delivery completion (retries, warnings, jobs finished while draining, redeliveries).
            for name in ["w1", "w2"] {
                let text = (try? String(contentsOf: directory.appendingPathComponent("\(name).log"), encoding: .utf8)) ?? ""
                let notable = text.split(separator: "\n").filter { !($0.contains("job completed") && $0.contains("receive-count=1 ")) }
                print("fleet drain (\(backend.rawValue)): \(name), \(notable.count) notable lines:\n" + notable.suffix(80).joined(separator: "\n"))
            }
        }
        // w1 said it stopped; w2 is still ready.
        let heartbeats = HeartbeatStore(store: pipeline.outputStore)
        #expect(try await heartbeats.latest(of: "local-w1")?.state == .stopped)
        #expect(try await heartbeats.latest(of: "local-w2")?.state == .ready)
        workers[1].signal(SIGTERM)
        #expect(await workers[1].waitForExit(timeout: .seconds(120)) == 0)

        // No job was dropped to wait out its visibility timeout (a logical check, not a latency
        // bound): each worker's last line accounts for every delivery it received, those a
        // poll under way brought after the drain began included, with an outcome.
        for name in ["w1", "w2"] {
            let text = try String(contentsOf: directory.appendingPathComponent("\(name).log"), encoding: .utf8)
            let last = text.split(separator: "\n").last { $0.contains("worker stopped") }.map(String.init) ?? "-"
            let counts = Self.jobCounts(last)
            #expect(counts["received"] != nil, "\(name)'s last line names no counts: \(last)")
            let settled = ["completed", "ignored", "failed", "retried"].reduce(0) { $0 + (counts[$1] ?? 0) }
            #expect(counts["received"] == settled, "\(name): \(last)")
        }
    }

    @Test("facerec-worker in AWS mode on any machine (the environment `setup` prints): answers a job, heartbeats, drains on SIGTERM and exits 0")
    func workerAnywhere() async throws {
        let directory = try LocalTestDirectory.make("fleet-anywhere")
        defer { try? FileManager.default.removeItem(at: directory) }
        let moto = try await MotoPipeline(try await MotoEnvironment.shared())
        var environment = moto.environment
        environment[ProcessInstanceProvider.workerIDVariable] = "onprem-1"
        let children = Children()
        let worker = try children.start(Self.bin("facerec-worker"), Self.workerArguments(), environment: environment,
                                        log: directory.appendingPathComponent("worker.log"))
        let file = try ServiceFixtures.images(1)[0]
        try await moto.pipeline.inputStore.put(try Data(contentsOf: file), key: "anywhere.jpg")
        try await moto.pipeline.input.send("anywhere.jpg")
        let heartbeats = HeartbeatStore(store: moto.pipeline.outputStore)
        #expect(await eventually(timeout: .seconds(180)) { (try? await heartbeats.latest(of: "onprem-1"))?.completed == 1 })
        let label = try await ServiceFixtures.engine.analyze(try Data(contentsOf: file)).label
        #expect(String(decoding: try await moto.pipeline.outputStore.get(key: "anywhere"), as: UTF8.self) == label)
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit(timeout: .seconds(60)) == 0)
        #expect(try await heartbeats.latest(of: "onprem-1")?.state == .stopped)
        let log = try String(contentsOf: directory.appendingPathComponent("worker.log"), encoding: .utf8)
        #expect(log.contains("visibility-timeout=30.0 seconds"), "the worker took the queue's own visibility timeout")
    }

    @Test("facerec-worker in an Auto Scaling group: heartbeats under its instance id from instance metadata, drains when the group marks the instance Terminated, asks to complete the lifecycle action, exits 0")
    func workerInAutoScalingGroup() async throws {
        let directory = try LocalTestDirectory.make("fleet-asg")
        defer { try? FileManager.default.removeItem(at: directory) }
        let moto = try await MotoPipeline(try await MotoEnvironment.shared())
        let instanceID = "i-0123456789abcdef0"
        let lifecycleState = LockedText("InService")
        let metadata = try LocalHTTPServer { request in
            switch (request.method, request.path) {
            case ("PUT", "/latest/api/token"): return .init(status: 200, text: "token-1")
            case (_, _) where request.headers["x-aws-ec2-metadata-token"] != "token-1": return .init(status: 401)
            case ("GET", "/latest/meta-data/instance-id"): return .init(status: 200, text: instanceID)
            case ("GET", "/latest/meta-data/autoscaling/target-lifecycle-state"): return .init(status: 200, text: lifecycleState.value)
            default: return .init(status: 404)
            }
        }
        defer { metadata.stop() }
        var environment = moto.environment
        environment["FACEREC_ASG_NAME"] = "facerec-workers"
        environment["FACEREC_LIFECYCLE_HOOK"] = "facerec-workers-drain"
        environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = metadata.endpoint.absoluteString
        let children = Children()
        let log = directory.appendingPathComponent("worker.log")
        let worker = try children.start(Self.bin("facerec-worker"), Self.workerArguments(), environment: environment, log: log)
        let heartbeats = HeartbeatStore(store: moto.pipeline.outputStore)
        #expect(await eventually(timeout: .seconds(180)) { (try? await heartbeats.latest(of: instanceID))?.state == .ready })
        try await moto.pipeline.inputStore.put(try Data(contentsOf: try ServiceFixtures.images(1)[0]), key: "asg.jpg")
        try await moto.pipeline.input.send("asg.jpg")
        #expect(await eventually(timeout: .seconds(120)) { (try? await moto.pipeline.outputStore.head(key: "asg")) != nil })

        lifecycleState.set("Terminated")
        #expect(await worker.waitForExit(timeout: .seconds(90)) == 0)
        let text = try String(contentsOf: log, encoding: .utf8)
        #expect(text.contains("the Auto Scaling group is terminating this instance"))
        #expect(text.contains("draining: no new jobs") && text.contains("worker stopped"))
        // moto has no CompleteLifecycleAction (its request is checked against botocore's in
        // QueryBotocoreGoldenTests); the worker asked, and says the hook's timeout ends it anyway.
        #expect(text.contains("lifecycle action"), "\(text)")
        #expect(try await heartbeats.latest(of: instanceID)?.state == .stopped)
        #expect(try await moto.pipeline.input.depth().total == 0)
    }

    @Test("a wrong secret: facerec-server, facerec-worker and facerec-autoscaler exit 78 at once with the reason, and never print the secret")
    func wrongCredentials() async throws {
        let directory = try LocalTestDirectory.make("fleet-credentials")
        defer { try? FileManager.default.removeItem(at: directory) }
        let secret = "wrong-secret-must-not-leak"
        var environment = try await MotoPipeline(try await MotoEnvironment.shared(), secret: secret).environment
        environment["AMI_ID"] = "ami-12345678"
        let children = Children()
        let commands: [(String, [String])] = [
            ("facerec-server", ["--port", "0"] + (try EndToEndTests.recognitionArguments)),
            ("facerec-worker", try Self.workerArguments()),
            ("facerec-autoscaler", try EndToEndTests.recognitionArguments),
        ]
        for (name, arguments) in commands {
            let log = directory.appendingPathComponent("\(name).log")
            let started = ContinuousClock.now
            let child = try children.start(Self.bin(name), arguments, environment: environment, log: log)
            let status = await child.waitForExit(timeout: .seconds(60))
            let elapsed = ContinuousClock.now - started
            let text = try String(contentsOf: log, encoding: .utf8)
            #expect(status == StartupChecks.configurationExitCode, "\(name): \(text)")
            #expect(elapsed < .seconds(30), "\(name) took \(elapsed)")
            #expect(text.contains("\(name): AWS refused the credentials: sqs GetQueueAttributes answered HTTP 403"), "\(name): \(text)")
            #expect(!text.contains(secret), "\(name) printed the secret")
        }
    }
}

/// A string shared with a server's handler thread.
final class LockedText: @unchecked Sendable {
    // @unchecked: `text` is only touched under `lock`.
    private let lock = NSLock()
    private var text: String
    init(_ text: String) { self.text = text }
    var value: String { lock.withLock { text } }
    func set(_ value: String) { lock.withLock { text = value } }
}

/// The latest count a progress callback reported.
final class Counter: @unchecked Sendable {
    // @unchecked: `count` is only touched under `lock`.
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func set(_ value: Int) { lock.withLock { count = max(count, value) } }
}
