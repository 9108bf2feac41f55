import Foundation

/// Starts and stops worker machines for the auto-scaler: EC2 instances on AWS, worker processes
/// locally. Implementations tag what they launch so that `running()` only ever reports, and
/// `terminate` only ever touches, this pipeline's workers.
public protocol InstanceProvider: Sendable {
    /// Workers that are pending or running (not stopping or gone).
    func running() async throws -> [WorkerInstance]

    /// Starts `count` (≥ 1) new workers and returns them (usually still `.pending`).
    func launch(count: Int) async throws -> [WorkerInstance]

    /// Stops the workers with these ids. Ids that are already gone are ignored; an id that this
    /// provider did not launch throws ``InstanceProviderError/unknownInstance(_:)``.
    func terminate(_ ids: [String]) async throws
}

/// One worker machine or process.
public struct WorkerInstance: Sendable, Hashable, CustomStringConvertible {
    /// Lifecycle state, reduced to what the auto-scaler needs.
    public enum State: String, Sendable, Hashable, Codable {
        case pending, running, stopping, stopped
    }

    /// Instance id (`i-...` on EC2, `local-...` for local worker processes).
    public let id: String
    public let state: State
    /// When it was launched, if known.
    public let launchedAt: Date?

    public init(id: String, state: State, launchedAt: Date?) {
        self.id = id
        self.state = state
        self.launchedAt = launchedAt
    }

    public var description: String { "\(id) (\(state.rawValue))" }
}

/// Conditions an ``InstanceProvider`` caller is expected to handle.
public enum InstanceProviderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `launch(count:)` was given a count below 1 or above the provider's limit.
    case invalidCount(Int, limit: Int)
    /// The id does not belong to a worker this provider launched.
    case unknownInstance(String)
    /// The backend failed; `operation` is e.g. `"launch"`, `detail` the underlying cause.
    case backend(operation: String, detail: String)

    public var description: String {
        switch self {
        case .invalidCount(let count, let limit):
            return "cannot launch \(count) workers (must be 1...\(limit))"
        case .unknownInstance(let id):
            return "instance \(id.debugDescription) was not launched by this provider"
        case .backend(let operation, let detail):
            return "instance provider \(operation) failed: \(detail)"
        }
    }
}
