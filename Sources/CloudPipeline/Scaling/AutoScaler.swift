import Foundation
import Logging

/// Keeps the number of workers in line with the input queue's backlog: the controller that
/// replaces the old system's home-made EC2 scaler.
///
/// Each ``reconcile()`` reads the backlog and the running workers, asks the ``ScalingPolicy``
/// for the desired count and launches or terminates the difference through the
/// ``InstanceProvider`` (EC2 instances or local worker processes). Every decision is logged
/// with its inputs. Scale-in terminates the newest workers first (the oldest are the warmest).
///
/// With a ``FleetHealthCheck``, each reconcile first terminates the instances whose worker never
/// started or went silent (logged at error with the reason) and no longer counts them, so the
/// same decision launches their replacements: a machine without a working worker is never
/// mistaken for capacity.
public actor AutoScaler {
    public let queue: any MessageQueue
    public let provider: any InstanceProvider
    public let policy: ScalingPolicy
    public let health: FleetHealthCheck?
    private let logger: Logger
    private let now: @Sendable () -> ContinuousClock.Instant
    /// Since when the desired count has been below the running count (scale-in cooldown).
    private var belowSince: ContinuousClock.Instant?

    public init(queue: any MessageQueue, provider: any InstanceProvider, policy: ScalingPolicy,
                health: FleetHealthCheck? = nil, logger: Logger = Logger(label: "facerec.autoscaler"),
                now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.queue = queue
        self.provider = provider
        self.policy = policy
        self.health = health
        self.logger = logger
        self.now = now
    }

    /// One observation and the action taken on it.
    public struct Decision: Sendable, Hashable, CustomStringConvertible {
        public enum Action: Sendable, Hashable {
            case none
            case launch(Int)
            case terminate([String])
            /// Scale-in wanted but the cooldown has not passed.
            case waitForCooldown(remaining: Duration)
        }
        public let backlog: QueueDepth
        /// Healthy workers counted (after ``replaced`` were taken out).
        public let running: Int
        public let desired: Int
        public let action: Action
        /// Instances terminated as unhealthy before deciding, with the reason for each.
        public var replaced: [String: String] = [:]

        public init(backlog: QueueDepth, running: Int, desired: Int, action: Action, replaced: [String: String] = [:]) {
            self.backlog = backlog
            self.running = running
            self.desired = desired
            self.action = action
            self.replaced = replaced
        }

        public var description: String {
            let what: String
            switch action {
            case .none: what = "no change"
            case .launch(let count): what = "launch \(count)"
            case .terminate(let ids): what = "terminate \(ids.joined(separator: ", "))"
            case .waitForCooldown(let remaining):
                what = "scale-in in " + String(format: "%.1f s", Double(remaining.components.seconds) + Double(remaining.components.attoseconds) * 1e-18)
            }
            let replacing = replaced.isEmpty ? "" : ", replaced unhealthy \(replaced.keys.sorted().joined(separator: ", "))"
            return "backlog (\(backlog)), running \(running), desired \(desired): \(what)\(replacing)"
        }
    }

    /// Observes once and acts.
    @discardableResult
    public func reconcile() async throws -> Decision {
        let backlog = try await queue.depth()
        var workers = try await provider.running()
        let replaced = try await terminateUnhealthy(workers)
        workers.removeAll { replaced[$0.id] != nil }
        let desired = policy.desiredWorkers(for: backlog)
        var decision: Decision
        if desired > workers.count {
            belowSince = nil
            let launched = try await provider.launch(count: desired - workers.count)
            decision = Decision(backlog: backlog, running: workers.count, desired: desired, action: .launch(launched.count))
        } else if desired < workers.count {
            let since = belowSince ?? now()
            belowSince = since
            let waited = now() - since
            if waited >= policy.scaleInCooldown {
                let newestFirst = workers.sorted { ($0.launchedAt ?? .distantPast, $0.id) > ($1.launchedAt ?? .distantPast, $1.id) }
                let victims = newestFirst.prefix(workers.count - desired).map(\.id)
                try await provider.terminate(Array(victims))
                belowSince = nil
                decision = Decision(backlog: backlog, running: workers.count, desired: desired, action: .terminate(Array(victims)))
            } else {
                decision = Decision(backlog: backlog, running: workers.count, desired: desired,
                                    action: .waitForCooldown(remaining: policy.scaleInCooldown - waited))
            }
        } else {
            belowSince = nil
            decision = Decision(backlog: backlog, running: workers.count, desired: desired, action: .none)
        }
        decision.replaced = replaced
        let metadata: Logger.Metadata = [
            "visible": "\(backlog.visible)", "in-flight": "\(backlog.inFlight)", "delayed": "\(backlog.delayed)",
            "running": "\(workers.count)", "desired": "\(desired)", "policy": "\(policy)",
        ]
        // Launches and terminations at info; steady state and cooldown countdowns at debug, or
        // a quiet fleet would log every interval.
        switch decision.action {
        case .launch, .terminate: logger.info("scaling decision: \(decision)", metadata: metadata)
        case .none, .waitForCooldown:
            logger.log(level: replaced.isEmpty ? .debug : .info, "scaling decision: \(decision)", metadata: metadata)
        }
        return decision
    }

    /// Terminates the instances the health check finds unhealthy; returns id → reason. An
    /// instance whose heartbeat cannot be read this time is left alone (a flaky store must not
    /// empty the fleet).
    private func terminateUnhealthy(_ workers: [WorkerInstance]) async throws -> [String: String] {
        guard let health else { return [:] }
        var unhealthy: [String: String] = [:]
        for worker in workers {
            do {
                if let problem = try await health.problem(with: worker) { unhealthy[worker.id] = problem }
            } catch {
                logger.warning("cannot read a worker's heartbeat; leaving it alone", metadata: ["worker": "\(worker.id)", "error": "\(error)"])
            }
        }
        guard !unhealthy.isEmpty else { return [:] }
        for (id, problem) in unhealthy.sorted(by: { $0.key < $1.key }) {
            logger.error("replacing unhealthy worker \(id): \(problem)", metadata: ["worker": "\(id)"])
        }
        try await provider.terminate(unhealthy.keys.sorted())
        return unhealthy
    }

    /// Reconciles every `interval` until cancelled. Errors are logged and the loop goes on (a
    /// flaky API must not stop the fleet from scaling later).
    public func run(every interval: Duration) async {
        while !Task.isCancelled {
            do {
                try await reconcile()
            } catch {
                logger.error("scaling failed", metadata: ["error": "\(error)"])
            }
            do { try await Task.sleep(for: interval) } catch { break }
        }
    }
}
