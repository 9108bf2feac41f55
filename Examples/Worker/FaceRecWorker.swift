import ArgumentParser
import CloudPipeline
import FaceRecognitionService
import Foundation
import ServiceCommandLine

/// `facerec-worker`: takes recognition jobs from the input queue until SIGTERM.
@main
struct FaceRecWorker: AsyncParsableCommand {
    static func main() async { await ServiceMain.run(Self.self) }

    static let configuration = CommandConfiguration(
        commandName: "facerec-worker",
        abstract: "Recognise queued images: input queue → recognition → result object + output queue.",
        discussion: """
            Uses S3/SQS when INPUT_QUEUE_URL, OUTPUT_QUEUE_URL, INPUT_BUCKET and OUTPUT_BUCKET are set, \
            else the embedded default under --data-dir. SIGTERM or SIGINT drains: no new jobs, messages \
            received meanwhile are given back, the jobs in hand finish, then exit 0. On AWS the credentials are \
            checked at start: a refusal exits 78 with the reason.
            """)

    @OptionGroup var recognition: RecognitionOptions
    @OptionGroup var pipelineOptions: PipelineOptions
    @Option(help: "Jobs held at once: receiving, fetching and writing overlap the analyses, whose images are batched.")
    var concurrency = RecognitionWorker.Configuration.defaultConcurrency
    @Option(help: "Analyses run at once (the default is the number of cores).")
    var lanes = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Most images per forward pass.") var batchSize = 8
    @Option(help: "Lease per job in seconds, renewed while the job runs (default: the input queue's own, as setup configured it).")
    var visibilityTimeout: Int?
    @Option(help: "Seconds between heartbeats in the output store, which the auto-scaler watches (0: none).")
    var heartbeatInterval = Int(HeartbeatSettings.defaultInterval.components.seconds)

    func validate() throws {
        guard concurrency >= 1, lanes >= 1, batchSize >= 1 else {
            throw ValidationError("--concurrency, --lanes and --batch-size must be at least 1")
        }
        if let visibilityTimeout, !(1...43_200).contains(visibilityTimeout) {
            throw ValidationError("--visibility-timeout must be 1...43200 seconds")
        }
        guard heartbeatInterval >= 0 else { throw ValidationError("--heartbeat-interval must be 0 or more") }
    }

    func run() async throws {
        var logger = ServiceLogging.logger("facerec.worker")
        let backend = try PipelineBackend.from(dataDirectory: pipelineOptions.dataDirectory)
        let workerID = await WorkerIdentity.resolve(backend: backend)
        if let workerID { logger[metadataKey: "worker"] = "\(workerID)" }
        try await StartupChecks.verifyCredentialsOrExit(backend, services: [.queues], logger: logger)
        let pipeline = try Pipeline.open(backend, logger: logger)
        let lease: Duration
        if let visibilityTimeout {
            lease = .seconds(visibilityTimeout)
        } else {
            lease = await StartupChecks.queueVisibilityTimeout(pipeline, logger: logger)
        }
        let engine = try recognition.makeEngine(lanes: lanes, maxBatchSize: batchSize)
        let workspace = try await engine.prepare()
        logger.info("networks ready", metadata: [
            "lanes": "\(lanes)", "batch-size": "\(batchSize)", "workspace-mib": "\(workspace >> 20)",
        ])
        let worker = RecognitionWorker(
            input: pipeline.input, output: pipeline.output, inputStore: pipeline.inputStore, outputStore: pipeline.outputStore,
            recognizer: engine,
            configuration: .init(concurrency: concurrency, visibilityTimeout: lease, inputBucket: pipeline.inputBucket,
                                 heartbeat: heartbeat(workerID: workerID, store: pipeline.outputStore)),
            logger: logger)
        logger.info("taking jobs", metadata: ["visibility-timeout": "\(lease)"])
        if case .aws(let cloud) = backend, let lifecycle = AutoScalingLifecycle(configuration: cloud, logger: logger) {
            // In an Auto Scaling group: scale-in is a lifecycle transition, not a signal. Drain
            // when the group marks this instance Terminated, then let the termination go on.
            let scaledIn = LockedFlag()
            await runUntilTerminated { scaledIn.set(await Self.run(worker, untilTerminating: lifecycle)) }
            if scaledIn.value { await lifecycle.complete() }
        } else {
            await runUntilTerminated { await worker.run() }
        }
        let batches = await engine.batchSizes().sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        logger.info("analysis batches (images per batch: batches)", metadata: ["batches": "\(batches.joined(separator: ", "))"])
    }

    /// Runs `worker` until the task is cancelled (a signal) or the group starts terminating the
    /// instance, whichever comes first; either way the worker drains before this returns.
    /// Returns true when the group's scale-in started the drain.
    static func run(_ worker: RecognitionWorker, untilTerminating lifecycle: AutoScalingLifecycle) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await worker.run(); return false }
            group.addTask { (try? await lifecycle.waitUntilTerminating()) != nil }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    private func heartbeat(workerID: String?, store: any ObjectStore) -> HeartbeatSettings? {
        guard heartbeatInterval > 0 else { return nil }
        guard let workerID else {
            ServiceLog.notice("no worker id (\(ProcessInstanceProvider.workerIDVariable) unset, not on EC2): publishing no heartbeats")
            return nil
        }
        return HeartbeatSettings(store: HeartbeatStore(store: store), worker: workerID, interval: .seconds(heartbeatInterval))
    }
}

/// A flag set from inside a `@Sendable` closure.
final class LockedFlag: @unchecked Sendable {
    // @unchecked: `flag` is only touched under `lock`.
    private let lock = NSLock()
    private var flag = false
    var value: Bool { lock.withLock { flag } }
    func set(_ value: Bool) { lock.withLock { flag = value } }
}
