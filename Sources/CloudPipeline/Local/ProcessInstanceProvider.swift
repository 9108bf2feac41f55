import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An ``InstanceProvider`` whose "instances" are worker processes on this machine: the local
/// stand-in for EC2, so the auto-scaler can be run and tested without an account.
///
/// Each launch starts `command` once per worker with `FACEREC_WORKER_ID=<id>` added to its
/// environment; ids are `local-<8 hex digits>`, chosen before the launch so that the worker can
/// be told its own id (``processIdentifier(of:)`` gives the pid). Exited workers are reaped
/// whenever the provider is queried. Only processes this provider started are reported or
/// terminated. `terminate` sends SIGTERM (the worker should finish its jobs in hand and
/// exit); the worker counts as `.stopping` until it exits and is no longer reported by
/// ``running()``. Processes still running when the provider is discarded are not killed;
/// call ``terminateAll()`` for that.
public final class ProcessInstanceProvider: InstanceProvider, @unchecked Sendable {
    // @unchecked: the mutable table is only touched under `lock`.

    /// The program a worker runs.
    public struct Command: Sendable, Hashable {
        public var executable: URL
        public var arguments: [String]
        /// Extra environment on top of this process's own.
        public var environment: [String: String]

        public init(executable: URL, arguments: [String] = [], environment: [String: String] = [:]) {
            self.executable = executable
            self.arguments = arguments
            self.environment = environment
        }
    }

    /// The environment variable that tells a worker its id.
    public static let workerIDVariable = "FACEREC_WORKER_ID"

    public let command: Command
    /// Most workers one `launch` may start.
    public let limit: Int
    /// When set, each worker's stdout and stderr go to `<logDirectory>/<id>.log`.
    public let logDirectory: URL?

    private struct Entry {
        let pid: pid_t
        let launchedAt: Date
        var stopping: Bool
        var exited: Bool
    }

    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    private let clock: @Sendable () -> Date

    /// - Parameters:
    ///   - command: the worker command each launch runs.
    ///   - limit: the most workers running at once.
    ///   - logDirectory: where each worker's output goes (`<id>.log`); nil leaves it on this
    ///     process's standard output and error.
    ///   - clock: the wall clock that stamps each worker's launch time (injectable for tests,
    ///     which judge start-up grace on a clock of their own).
    public init(command: Command, limit: Int = 16, logDirectory: URL? = nil,
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.command = command
        self.limit = limit
        self.logDirectory = logDirectory
        self.clock = clock
    }

    public func running() async throws -> [WorkerInstance] {
        lock.withLock {
            reapLocked()
            return entries.filter { !$0.value.stopping && !$0.value.exited }
                .map { WorkerInstance(id: $0.key, state: .running, launchedAt: $0.value.launchedAt) }
                .sorted { $0.id < $1.id }
        }
    }

    public func launch(count: Int) async throws -> [WorkerInstance] {
        guard (1...limit).contains(count) else { throw InstanceProviderError.invalidCount(count, limit: limit) }
        var launched: [WorkerInstance] = []
        for _ in 0..<count {
            launched.append(try launchOne())
        }
        return launched
    }

    public func terminate(_ ids: [String]) async throws {
        try lock.withLock {
            reapLocked()
            if let stranger = ids.first(where: { entries[$0] == nil }) {
                throw InstanceProviderError.unknownInstance(stranger)
            }
            for id in ids {
                guard var entry = entries[id], !entry.stopping else { continue }
                entry.stopping = true
                entries[id] = entry
                // Under the lock and only while not yet reaped, so the pid cannot have been
                // reused by an unrelated process.
                if !entry.exited { kill(entry.pid, SIGTERM) }
            }
        }
    }

    /// Sends SIGTERM to every worker this provider started that is still running.
    public func terminateAll() async throws {
        let ids = lock.withLock { Array(entries.keys) }
        try await terminate(ids)
    }

    /// Every worker ever launched with its current state, including stopped ones (for tests
    /// and status pages).
    public func all() -> [WorkerInstance] {
        lock.withLock {
            reapLocked()
            return entries.map { id, entry in
                let state: WorkerInstance.State = entry.exited ? .stopped : (entry.stopping ? .stopping : .running)
                return WorkerInstance(id: id, state: state, launchedAt: entry.launchedAt)
            }.sorted { $0.id < $1.id }
        }
    }

    /// The process id of worker `id`, if this provider launched it.
    public func processIdentifier(of id: String) -> Int32? {
        lock.withLock { entries[id].map { Int32($0.pid) } }
    }

    /// Collects the exit status of finished workers (so they do not linger as zombies) and
    /// marks them exited. Called under `lock`.
    private func reapLocked() {
        for (id, entry) in entries where !entry.exited {
            var status: Int32 = 0
            let result = waitpid(entry.pid, &status, WNOHANG)
            if result == entry.pid || (result < 0 && errno == ECHILD) {
                entries[id]?.exited = true
            }
        }
    }

    /// Starts one worker with `posix_spawn`, resetting the signal mask and the usual signals'
    /// handlers: the calling thread (a Dispatch or cooperative-pool thread) blocks most
    /// signals, and a child that inherited that mask would never see our SIGTERM.
    private func launchOne() throws -> WorkerInstance {
        let id = "local-" + UUID().uuidString.prefix(8).lowercased()
        var environment = ProcessInfo.processInfo.environment
        environment.merge(command.environment) { _, new in new }
        environment[Self.workerIDVariable] = id
        var logPath: String?
        if let logDirectory {
            do {
                try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
            } catch {
                throw InstanceProviderError.backend(operation: "launch", detail: "cannot create \(logDirectory.path): \(error)")
            }
            logPath = logDirectory.appendingPathComponent("\(id).log").path
        }
        let pid = try Self.spawn(path: command.executable.path, arguments: [command.executable.path] + command.arguments,
                                 environment: environment.map { "\($0.key)=\($0.value)" }, logPath: logPath)
        let launchedAt = clock()
        lock.withLock { entries[id] = Entry(pid: pid, launchedAt: launchedAt, stopping: false, exited: false) }
        return WorkerInstance(id: id, state: .running, launchedAt: launchedAt)
    }

    private static func spawn(path: String, arguments: [String], environment: [String], logPath: String?) throws -> pid_t {
        #if canImport(Darwin)
        var attributes: posix_spawnattr_t? = nil
        var actions: posix_spawn_file_actions_t? = nil
        #else
        var attributes = posix_spawnattr_t()
        var actions = posix_spawn_file_actions_t()
        #endif
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }

        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2, SIGCHLD] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        if let logPath {
            posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard rc == 0 else {
            throw InstanceProviderError.backend(
                operation: "launch", detail: "cannot start \(path): \(String(cString: strerror(rc))) (errno \(rc))")
        }
        return pid
    }
}
