import Foundation

/// How many workers a backlog calls for.
///
/// `desired = clamp(ceil(backlog / jobsPerWorker), minWorkers, maxWorkers)`, where the backlog
/// is every message not yet deleted (visible, in flight and delayed): in-flight messages count
/// because the workers holding them are busy. Scaling out happens at once; scaling in waits
/// until the desired count has stayed below the running count for ``scaleInCooldown``, so a
/// short lull between bursts does not stop workers that would be needed again a second later
/// (and, on EC2, billed for a new boot).
public struct ScalingPolicy: Sendable, Hashable, CustomStringConvertible {
    public var minWorkers: Int
    public var maxWorkers: Int
    /// Backlog one worker is expected to absorb.
    public var jobsPerWorker: Int
    public var scaleInCooldown: Duration

    /// - Throws: ``ScalingPolicyError`` for negative or inverted bounds or a zero `jobsPerWorker`.
    public init(minWorkers: Int = 0, maxWorkers: Int, jobsPerWorker: Int = 5,
                scaleInCooldown: Duration = .seconds(60)) throws(ScalingPolicyError) {
        guard minWorkers >= 0, maxWorkers >= minWorkers, maxWorkers >= 1 else {
            throw .invalid("workers must satisfy 0 <= min (\(minWorkers)) <= max (\(maxWorkers)) and max >= 1")
        }
        guard jobsPerWorker >= 1 else { throw .invalid("jobsPerWorker must be at least 1 (got \(jobsPerWorker))") }
        guard scaleInCooldown >= .zero else { throw .invalid("scaleInCooldown must not be negative") }
        self.minWorkers = minWorkers
        self.maxWorkers = maxWorkers
        self.jobsPerWorker = jobsPerWorker
        self.scaleInCooldown = scaleInCooldown
    }

    /// Workers wanted for this backlog, before any cooldown.
    public func desiredWorkers(for backlog: QueueDepth) -> Int {
        let needed = (backlog.total + jobsPerWorker - 1) / jobsPerWorker
        return min(max(needed, minWorkers), maxWorkers)
    }

    public var description: String {
        "min \(minWorkers), max \(maxWorkers), \(jobsPerWorker) jobs per worker, scale-in cooldown \(scaleInCooldown)"
    }
}

public enum ScalingPolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalid(String)
    public var description: String {
        switch self {
        case .invalid(let reason): return "invalid scaling policy: \(reason)"
        }
    }
}
