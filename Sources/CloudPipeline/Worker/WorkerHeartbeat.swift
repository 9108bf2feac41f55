import Foundation

/// What a worker says about itself, every ``HeartbeatSettings/interval``: the auto-scaler's
/// evidence that an instance is really working (a machine can be `running` with no worker on it:
/// a bad path in its user data, weights that fail to load, a crash loop).
///
/// Stored as JSON in the output store under ``HeartbeatStore/key(for:)``; the worker's role can
/// already write there and the scaler's can read, so heartbeats need no other AWS service.
public struct WorkerHeartbeat: Codable, Sendable, Hashable {
    /// Where the worker is in its life.
    public enum State: String, Codable, Sendable, Hashable {
        /// Networks loaded, taking jobs.
        case ready
        /// Told to stop: no new jobs, finishing the ones in hand.
        case draining
        /// Exited cleanly; the machine no longer runs a worker.
        case stopped
    }

    /// The instance id (`i-…` on EC2, `local-…` for local processes).
    public var worker: String
    public var state: State
    /// When the worker process started taking jobs.
    public var startedAt: Date
    /// When this heartbeat was written (the worker's clock).
    public var at: Date
    /// Jobs completed so far.
    public var completed: Int
    /// Jobs that failed permanently so far.
    public var failed: Int

    public init(worker: String, state: State, startedAt: Date, at: Date, completed: Int, failed: Int) {
        self.worker = worker
        self.state = state
        self.startedAt = startedAt
        self.at = at
        self.completed = completed
        self.failed = failed
    }
}

/// Reads and writes ``WorkerHeartbeat``s in an object store (the pipeline's output store).
///
/// Keys live under ``prefix``, which result keys never take: results are written under the
/// input key's stem, and uploads through the API are stored under `uploads/`. An uploader that
/// writes straight into the input bucket must not use the `_facerec/` prefix.
public struct HeartbeatStore: Sendable {
    /// The reserved prefix of heartbeat objects.
    public static let prefix = "_facerec/heartbeats/"

    public let store: any ObjectStore

    public init(store: any ObjectStore) {
        self.store = store
    }

    /// The object key of `worker`'s heartbeat.
    public static func key(for worker: String) -> String { prefix + worker }

    public func publish(_ heartbeat: WorkerHeartbeat) async throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        try await store.put(try encoder.encode(heartbeat), key: Self.key(for: heartbeat.worker), contentType: "application/json")
    }

    /// The latest heartbeat of `worker`, or nil if it has never written one.
    /// - Throws: the store's error, or `DecodingError` for an object that is not a heartbeat.
    public func latest(of worker: String) async throws -> WorkerHeartbeat? {
        let data: Data
        do {
            data = try await store.get(key: Self.key(for: worker))
        } catch ObjectStoreError.notFound {
            return nil
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(WorkerHeartbeat.self, from: data)
    }
}

/// How a ``RecognitionWorker`` publishes its heartbeats.
public struct HeartbeatSettings: Sendable {
    public var store: HeartbeatStore
    /// The worker's instance id (EC2 instance id, or the local provider's `FACEREC_WORKER_ID`).
    public var worker: String
    public var interval: Duration
    /// The wall clock written into heartbeats (injectable for tests).
    public var clock: @Sendable () -> Date

    /// Default interval between heartbeats.
    public static let defaultInterval: Duration = .seconds(20)

    public init(store: HeartbeatStore, worker: String, interval: Duration = defaultInterval,
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.worker = worker
        self.interval = interval
        self.clock = clock
    }
}

/// The auto-scaler's health rule: which running instances are not really working.
///
/// An instance is unhealthy when it has run longer than ``startupGrace`` without ever writing a
/// heartbeat (the worker never started), when its last heartbeat is older than
/// ``heartbeatTimeout`` (the worker hung or died), or when its worker said it stopped while the
/// machine still runs (nothing will take jobs there). Draining workers are healthy while their
/// heartbeats are fresh: they are finishing jobs.
public struct FleetHealthCheck: Sendable {
    public var heartbeats: HeartbeatStore
    public var startupGrace: Duration
    public var heartbeatTimeout: Duration
    /// The wall clock launch times and heartbeats are compared with (injectable for tests).
    public var clock: @Sendable () -> Date

    public init(heartbeats: HeartbeatStore, startupGrace: Duration = .seconds(600),
                heartbeatTimeout: Duration = HeartbeatSettings.defaultInterval * 4,
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.heartbeats = heartbeats
        self.startupGrace = startupGrace
        self.heartbeatTimeout = heartbeatTimeout
        self.clock = clock
    }

    /// Why `instance` is unhealthy, or nil when it is healthy (or too young to tell).
    /// - Throws: the heartbeat store's error (the caller then leaves the instance alone).
    public func problem(with instance: WorkerInstance) async throws -> String? {
        let now = clock()
        guard let heartbeat = try await heartbeats.latest(of: instance.id) else {
            guard let launched = instance.launchedAt else { return nil }
            let age = now.timeIntervalSince(launched)
            return age > startupGrace.seconds
                ? "no heartbeat \(Int(age)) s after launch (startup grace \(Int(startupGrace.seconds)) s): the worker never started"
                : nil
        }
        if heartbeat.state == .stopped {
            return "its worker stopped at \(heartbeat.at) but the instance still runs"
        }
        let silence = now.timeIntervalSince(heartbeat.at)
        if silence > heartbeatTimeout.seconds {
            return "last heartbeat \(Int(silence)) s ago (timeout \(Int(heartbeatTimeout.seconds)) s): the worker hung or died"
        }
        return nil
    }
}
