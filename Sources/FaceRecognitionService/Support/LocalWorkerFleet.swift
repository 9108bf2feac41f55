import CloudPipeline
import FaceRecognition
import Foundation
import Logging

/// The embedded default's workers: `facerec-worker` processes on this machine, started and
/// stopped by an `AutoScaler` over a `ProcessInstanceProvider`.
public final class LocalWorkerFleet: Sendable {
    public let provider: ProcessInstanceProvider
    public let scaler: AutoScaler
    public let interval: Duration
    private let metrics: ServiceMetrics?
    private let logger: Logger

    public init(layout: LocalPipelineLayout, recognition: RecognitionConfiguration, workerConcurrency: Int, policy: ScalingPolicy,
                queue: any MessageQueue, heartbeats: HeartbeatStore? = nil, workerExecutable: URL? = nil,
                interval: Duration = .seconds(1),
                metrics: ServiceMetrics? = nil, logger: Logger) throws {
        let executable = workerExecutable ?? executableDirectory().appendingPathComponent("facerec-worker")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw ServiceStartupError("the worker executable is missing at \(executable.path) (build the facerec-worker product)")
        }
        let logs = layout.dataDirectory.appendingPathComponent("logs", isDirectory: true)
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        // The workers share this machine: each gets an equal share of the cores as analysis
        // lanes, each lane one BLAS thread (more would oversubscribe the cores once the fleet is
        // full). An operator's OPENBLAS_NUM_THREADS is passed on untouched.
        let lanes = Self.lanesPerWorker(cores: ProcessInfo.processInfo.activeProcessorCount, maxWorkers: policy.maxWorkers)
        var environment = ["FACEREC_DATA_DIR": layout.dataDirectory.path]
        if ProcessInfo.processInfo.environment[BLASThreads.environmentVariable] == nil {
            environment[BLASThreads.environmentVariable] = "1"
        }
        provider = ProcessInstanceProvider(
            command: .init(executable: executable,
                           arguments: recognition.arguments + ["--data-dir", layout.dataDirectory.path,
                                                               "--concurrency", String(workerConcurrency),
                                                               "--lanes", String(lanes)],
                           environment: environment),
            limit: max(policy.maxWorkers, 1), logDirectory: logs)
        // A worker process that is alive but never started taking jobs, or went silent, is
        // replaced (one that exits is reaped by the provider and replaced anyway).
        let health = heartbeats.map { FleetHealthCheck(heartbeats: $0, startupGrace: Self.startupGrace) }
        scaler = AutoScaler(queue: queue, provider: provider, policy: policy, health: health, logger: logger)
        self.interval = interval
        self.metrics = metrics
        self.logger = logger
    }

    /// How long a local worker may take to load its networks before it must heartbeat.
    public static let startupGrace: Duration = .seconds(180)

    /// Analysis lanes per worker when `maxWorkers` workers share `cores` cores.
    public static func lanesPerWorker(cores: Int, maxWorkers: Int) -> Int {
        max(1, cores / max(1, maxWorkers))
    }

    /// Scales until cancelled.
    public func run() async {
        while !Task.isCancelled {
            do {
                try await scaler.reconcile()
                metrics?.setWorkers(try await provider.running().count)
            } catch {
                logger.error("scaling failed", metadata: ["error": "\(error)"])
            }
            do { try await Task.sleep(for: interval) } catch { break }
        }
    }

    /// Asks every worker to finish its jobs and exit, and waits (up to `timeout`) until they have.
    public func shutDown(timeout: Duration = .seconds(60)) async {
        try? await provider.terminateAll()
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, provider.all().contains(where: { $0.state != .stopped }) {
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}
