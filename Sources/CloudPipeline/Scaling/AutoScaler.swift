import Foundation
import Logging

/// Keeps the number of workers in line with the input queue's backlog: the controller that
/// replaces the old system's home-made EC2 scaler.
///
/// Each ``reconcile()`` reads the backlog and the running workers, asks the ``ScalingPolicy``
/// for the desired count and launches or terminates the difference through the
/// ``InstanceProvider`` (EC2 instances or local worker processes). Every decision is logged
/// with its inputs. Scale-in terminates the newest workers first (the oldest are the warmest).
public actor AutoScaler {
    public let queue: any MessageQueue
    public let provider: any InstanceProvider
    public let policy: ScalingPolicy
    private let logger: Logger
    private let now: @Sendable () -> ContinuousClock.Instant
    /// Since when the desired count has been below the running count (scale-in cooldown).
    private var belowSince: ContinuousClock.Instant?

    public init(queue: any MessageQueue, provider: any InstanceProvider, policy: ScalingPolicy,
                logger: Logger = Logger(label: "facerec.autoscaler"),
                now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.queue = queue
        self.provider = provider
        self.policy = policy
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
        public let running: Int
        public let desired: Int
        public let action: Action
        public var description: String {
            let what: String
            switch action {
            case .none: what = "no change"
            case .launch(let count): what = "launch \(count)"
            case .terminate(let ids): what = "terminate \(ids.joined(separator: ", "))"
            case .waitForCooldown(let remaining):
                what = "scale-in in " + String(format: "%.1f s", Double(remaining.components.seconds) + Double(remaining.components.attoseconds) * 1e-18)
            }
            return "backlog (\(backlog)), running \(running), desired \(desired): \(what)"
        }
    }

    /// Observes once and acts.
    @discardableResult
    public func reconcile() async throws -> Decision {
        let backlog = try await queue.depth()
        let workers = try await provider.running()
        let desired = policy.desiredWorkers(for: backlog)
        let decision: Decision
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
        let metadata: Logger.Metadata = [
            "visible": "\(backlog.visible)", "in-flight": "\(backlog.inFlight)", "delayed": "\(backlog.delayed)",
            "running": "\(workers.count)", "desired": "\(desired)", "policy": "\(policy)",
        ]
        // Launches and terminations at info; steady state and cooldown countdowns at debug, or
        // a quiet fleet would log every interval.
        switch decision.action {
        case .launch, .terminate: logger.info("scaling decision: \(decision)", metadata: metadata)
        case .none, .waitForCooldown: logger.debug("scaling decision: \(decision)", metadata: metadata)
        }
        return decision
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
