import Foundation

/// A durable ``MessageQueue`` in one SQLite file: the embedded default that needs no AWS
/// account. Several queues (a work queue and its dead-letter queue, a result queue, ...) can
/// live in one file, and several processes can share that file.
///
/// Semantics (SQS's, with these decisions where SQS leaves room):
/// - **Ordering**: visible messages are delivered oldest-sent first.
/// - **Receipt handles**: each receive issues a fresh handle and invalidates the previous one.
///   `delete` with a superseded handle is a silent no-op (the message stays for its current
///   holder; SQS says such a delete "might not" delete). `changeVisibility` with a superseded
///   or deleted handle throws ``MessageQueueError/messageNotInFlight(_:)`` so a worker renewing
///   its lease learns that it has lost it. A handle stays valid after its timeout expires until
///   the message is received again.
/// - **Dead-letter queue**: when the queue has a ``DeadLetterPolicy`` and a receive would raise a
///   message's receive count above `maxReceiveCount`, the message moves (same row, same id,
///   receive count kept, in the receive's transaction) to the dead-letter queue, which is
///   another queue in the same file; open it with its own `SQLiteMessageQueue`.
/// - **Retention**: none; messages stay until deleted (never lose data).
/// - **Concurrency**: every state change is one `BEGIN IMMEDIATE` transaction, so two
///   processes can never receive the same message concurrently. WAL mode lets readers proceed
///   while one writer works; the busy timeout makes writers wait for each other.
/// - **Long polling**: a receive with a wait returns at once when a message is sent by this
///   process (to any instance on the same file and queue), and otherwise re-checks every
///   ``Options/pollInterval`` (messages sent by other processes, or leases that expire).
///   Cancelling the calling task ends the wait early with an empty result; a receive whose
///   task is cancelled leases nothing more (it checks before every look at the table).
/// - **Blocking**: SQLite runs on a private dispatch queue per instance, never on the
///   cooperative pool; only `init` (open and schema set-up) runs on the caller's thread.
/// - **Configuration** (default visibility timeout, dead-letter policy) is stored in the file
///   with the queue, so every process agrees; see ``init(path:name:configuration:options:now:)``.
public final class SQLiteMessageQueue: MessageQueue {
    /// Where a message goes after too many receives.
    public struct DeadLetterPolicy: Sendable, Hashable {
        /// The dead-letter queue's name (in the same file).
        public var queueName: String
        /// Receives allowed before the message moves (SQS: 1...1000).
        public var maxReceiveCount: Int

        public init(queueName: String, maxReceiveCount: Int) {
            self.queueName = queueName
            self.maxReceiveCount = maxReceiveCount
        }
    }

    /// Per-queue settings, persisted in the database.
    public struct Configuration: Sendable, Hashable {
        /// How long a received message stays hidden unless the receive overrides it.
        public var visibilityTimeout: Duration
        /// Dead-letter policy, or `nil` to redeliver forever.
        public var deadLetter: DeadLetterPolicy?

        public init(visibilityTimeout: Duration = .seconds(30), deadLetter: DeadLetterPolicy? = nil) {
            self.visibilityTimeout = visibilityTimeout
            self.deadLetter = deadLetter
        }
    }

    /// Per-instance settings (not persisted).
    public struct Options: Sendable, Hashable {
        /// How often a long poll re-checks the database for messages from other processes.
        public var pollInterval: Duration
        /// How long a statement waits for another connection's write lock before failing.
        public var busyTimeout: Duration

        public init(pollInterval: Duration = .milliseconds(100), busyTimeout: Duration = .seconds(10)) {
            self.pollInterval = pollInterval
            self.busyTimeout = busyTimeout
        }
    }

    /// The queue's name within the file.
    public let name: String
    /// The database file.
    public let path: String
    private let options: Options
    private let connection: SQLiteConnection
    private let signal: SendSignal
    private let now: @Sendable () -> Date

    /// Opens queue `name` in the SQLite file at `path`, creating the file and the queue if
    /// needed.
    ///
    /// - Parameters:
    ///   - path: the SQLite file (created if missing).
    ///   - name: the queue's name within the file.
    ///   - configuration: stored as the queue's configuration when given (the last process to
    ///     open with a configuration wins); when `nil`, the stored one is used, or the defaults
    ///     for a new queue. Workers should pass `nil` so they cannot reset the owner's policy.
    ///     A dead-letter queue named in the policy is created if missing.
    ///   - options: how this process uses the file (see ``Options``).
    ///   - now: the wall clock used for visibility deadlines (injectable for tests). Every
    ///     process sharing the file must use the same clock: deadlines are stored as times.
    /// - Throws: ``MessageQueueError/invalidArgument(field:reason:)`` for a bad name or
    ///   configuration, ``SQLiteError`` if the file cannot be opened or migrated.
    public init(path: String, name: String, configuration: Configuration? = nil,
                options: Options = Options(), now: @escaping @Sendable () -> Date = { Date() }) throws {
        try Self.validateQueueName(name, field: "name")
        if let configuration { try Self.validate(configuration, queueName: name) }
        self.name = name
        self.path = path
        self.options = options
        self.now = now
        // Key the in-process signal on the resolved path so "./q.db" and "/abs/q.db" share it.
        let resolved = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        self.signal = SendSignals.signal(path: resolved, queue: name)
        self.connection = try SQLiteConnection(path: path, busyTimeout: options.busyTimeout)
        let connection = self.connection
        try connection.immediateTransaction {
            try connection.execute(Self.schema)
            try Self.ensureQueue(name, configuration: configuration, in: connection)
            let stored = try Self.loadConfiguration(name, in: connection)
            if let dlq = stored.deadLetter {
                try Self.ensureQueue(dlq.queueName, configuration: nil, in: connection)
            }
        }
    }

    /// Closes the database connection. Later calls throw; in-flight messages stay in flight
    /// and come back when their timeout expires.
    public func close() {
        connection.close()
    }

    // MARK: MessageQueue

    public func send(_ body: String, attributes: [String: String]) async throws -> String {
        try MessageQueueLimits.validate(body: body, attributes: attributes)
        let id = UUID().uuidString.lowercased()
        let attributesJSON = try Self.encode(attributes)
        let sentAt = Self.milliseconds(now())
        let name = self.name
        try await connection.run { db in
            try db.query("""
                INSERT INTO messages (id, queue, body, attributes, sent_at_ms, visible_at_ms, receive_count)
                VALUES (?, ?, ?, ?, ?, ?, 0)
                """, [.text(id), .text(name), .text(body), .text(attributesJSON), .integer(sentAt), .integer(sentAt)])
        }
        signal.notify()
        return id
    }

    public func receive(maxMessages: Int, waitTime: Duration, visibilityTimeout: Duration?) async throws -> [ReceivedMessage] {
        try MessageQueueLimits.validateReceive(maxMessages: maxMessages, waitTime: waitTime, visibilityTimeout: visibilityTimeout)

        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: waitTime)
        while true {
            // Checked before every look, not after: a cancelled receive leases nothing, since a
            // message it took would stay hidden from every consumer for its visibility timeout
            // while the caller that cancelled has gone.
            if Task.isCancelled { return [] }
            let generation = signal.currentGeneration
            let messages = try await receiveOnce(maxMessages: maxMessages, visibilityTimeout: visibilityTimeout)
            if !messages.isEmpty { return messages }
            let remaining = clock.now.duration(to: deadline)
            if remaining <= .zero { return [] }
            await signal.wait(after: generation, timeout: min(remaining, options.pollInterval))
        }
    }

    public func delete(receiptHandle: String) async throws {
        let handle = try ReceiptHandle(parsing: receiptHandle)
        let name = self.name
        // Zero rows changed means the message is gone or was received again since this handle
        // was issued: both are a silent success (see the type's documentation).
        try await connection.run { db in
            try db.query("DELETE FROM messages WHERE seq = ? AND queue = ? AND receipt_token = ?",
                         [.integer(handle.sequence), .text(name), .text(handle.token)])
        }
    }

    public func changeVisibility(receiptHandle: String, timeout: Duration) async throws {
        let handle = try ReceiptHandle(parsing: receiptHandle)
        try MessageQueueLimits.validate(visibilityTimeout: timeout, field: "timeout")
        let visibleAt = Self.milliseconds(now()) + timeout.cpMilliseconds
        let name = self.name
        let changed = try await connection.run { db -> Int in
            try db.query("UPDATE messages SET visible_at_ms = ? WHERE seq = ? AND queue = ? AND receipt_token = ?",
                         [.integer(visibleAt), .integer(handle.sequence), .text(name), .text(handle.token)])
            return db.changes
        }
        if changed == 0 { throw MessageQueueError.messageNotInFlight(receiptHandle) }
        if timeout == .zero { signal.notify() }
    }

    public func defaultVisibilityTimeout() async throws -> Duration {
        try await configuration().visibilityTimeout
    }

    public func depth() async throws -> QueueDepth {
        let nowMS = Self.milliseconds(now())
        let name = self.name
        return try await connection.run { db in
            var depth = QueueDepth(visible: 0, inFlight: 0, delayed: 0)
            try db.query("""
                SELECT COALESCE(SUM(visible_at_ms <= ?1), 0),
                       COALESCE(SUM(visible_at_ms > ?1 AND receive_count > 0), 0),
                       COALESCE(SUM(visible_at_ms > ?1 AND receive_count = 0), 0)
                FROM messages WHERE queue = ?2
                """, [.integer(nowMS), .text(name)]) { row in
                depth = QueueDepth(visible: Int(row.int64(0)), inFlight: Int(row.int64(1)), delayed: Int(row.int64(2)))
            }
            return depth
        }
    }

    /// The queue's stored configuration (it may have been changed by another process).
    public func configuration() async throws -> Configuration {
        let name = self.name
        return try await connection.run { db in try Self.loadConfiguration(name, in: db) }
    }

    // MARK: Receiving

    /// One non-waiting receive: a single IMMEDIATE transaction that picks visible messages,
    /// moves those over the receive limit to the dead-letter queue, and leases the rest.
    private func receiveOnce(maxMessages: Int, visibilityTimeout: Duration?) async throws -> [ReceivedMessage] {
        let nowMS = Self.milliseconds(now())
        let name = self.name
        return try await connection.run { db in
            // Cheap read first: an idle poller must not take the write lock every interval.
            var any = false
            try db.query("SELECT 1 FROM messages WHERE queue = ? AND visible_at_ms <= ? LIMIT 1",
                         [.text(name), .integer(nowMS)]) { _ in any = true }
            guard any else { return [] }
            return try db.immediateTransaction {
                let configuration = try Self.loadConfiguration(name, in: db)
                let leaseMS = (visibilityTimeout ?? configuration.visibilityTimeout).cpMilliseconds
                var received: [ReceivedMessage] = []
                while received.count < maxMessages {
                    var candidates: [(seq: Int64, id: String, body: String, attributes: String, count: Int)] = []
                    try db.query("""
                        SELECT seq, id, body, attributes, receive_count FROM messages
                        WHERE queue = ? AND visible_at_ms <= ? ORDER BY seq LIMIT ?
                        """, [.text(name), .integer(nowMS), .integer(Int64(maxMessages - received.count))]) { row in
                        candidates.append((row.int64(0), row.text(1) ?? "", row.text(2) ?? "", row.text(3) ?? "{}",
                                           Int(row.int64(4))))
                    }
                    if candidates.isEmpty { break }
                    for candidate in candidates {
                        if let dlq = configuration.deadLetter, candidate.count >= dlq.maxReceiveCount {
                            try db.query("""
                                UPDATE messages SET queue = ?, visible_at_ms = ?, receipt_token = NULL WHERE seq = ?
                                """, [.text(dlq.queueName), .integer(nowMS), .integer(candidate.seq)])
                            continue
                        }
                        let token = ReceiptHandle.newToken()
                        try db.query("""
                            UPDATE messages SET receive_count = receive_count + 1, receipt_token = ?, visible_at_ms = ?
                            WHERE seq = ?
                            """, [.text(token), .integer(nowMS + leaseMS), .integer(candidate.seq)])
                        let attributes = try Self.decode(candidate.attributes, messageID: candidate.id, path: db.path)
                        received.append(ReceivedMessage(
                            id: candidate.id, body: candidate.body,
                            receiptHandle: ReceiptHandle(sequence: candidate.seq, token: token).rawValue,
                            receiveCount: candidate.count + 1, attributes: attributes))
                    }
                }
                return received
            }
        }
    }

    // MARK: Schema and configuration

    private static let schema = """
        CREATE TABLE IF NOT EXISTS queues (
            name TEXT PRIMARY KEY,
            visibility_timeout_ms INTEGER NOT NULL,
            dead_letter_queue TEXT,
            max_receive_count INTEGER
        );
        CREATE TABLE IF NOT EXISTS messages (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            queue TEXT NOT NULL,
            body TEXT NOT NULL,
            attributes TEXT NOT NULL,
            sent_at_ms INTEGER NOT NULL,
            visible_at_ms INTEGER NOT NULL,
            receive_count INTEGER NOT NULL DEFAULT 0,
            receipt_token TEXT
        );
        CREATE INDEX IF NOT EXISTS messages_by_visibility ON messages (queue, visible_at_ms, seq);
        """

    private static func ensureQueue(_ name: String, configuration: Configuration?, in db: SQLiteConnection) throws {
        let defaults = configuration ?? Configuration()
        let arguments: [SQLiteValue] = [
            .text(name), .integer(defaults.visibilityTimeout.cpMilliseconds),
            defaults.deadLetter.map { .text($0.queueName) } ?? .null,
            defaults.deadLetter.map { .integer(Int64($0.maxReceiveCount)) } ?? .null,
        ]
        if configuration != nil {
            try db.query("""
                INSERT INTO queues (name, visibility_timeout_ms, dead_letter_queue, max_receive_count)
                VALUES (?, ?, ?, ?)
                ON CONFLICT(name) DO UPDATE SET visibility_timeout_ms = excluded.visibility_timeout_ms,
                    dead_letter_queue = excluded.dead_letter_queue, max_receive_count = excluded.max_receive_count
                """, arguments)
        } else {
            try db.query("""
                INSERT OR IGNORE INTO queues (name, visibility_timeout_ms, dead_letter_queue, max_receive_count)
                VALUES (?, ?, ?, ?)
                """, arguments)
        }
    }

    private static func loadConfiguration(_ name: String, in db: SQLiteConnection) throws -> Configuration {
        var configuration: Configuration?
        try db.query("SELECT visibility_timeout_ms, dead_letter_queue, max_receive_count FROM queues WHERE name = ?",
                     [.text(name)]) { row in
            var deadLetter: DeadLetterPolicy?
            if let dlq = row.text(1), !row.isNull(2) {
                deadLetter = DeadLetterPolicy(queueName: dlq, maxReceiveCount: Int(row.int64(2)))
            }
            configuration = Configuration(visibilityTimeout: .milliseconds(row.int64(0)), deadLetter: deadLetter)
        }
        guard let configuration else { throw MessageQueueError.queueNotFound(name) }
        return configuration
    }

    // MARK: Validation (SQS's rules, so local tests catch what AWS would reject)

    private static func validateQueueName(_ name: String, field: String) throws {
        let allowed = name.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == 0x2D || byte == 0x5F
        }
        guard (1...80).contains(name.utf8.count), allowed else {
            throw MessageQueueError.invalidArgument(
                field: field, reason: "\(name.debugDescription) must be 1-80 characters of A-Z a-z 0-9 - _")
        }
    }

    private static func validate(_ configuration: Configuration, queueName: String) throws {
        try MessageQueueLimits.validate(visibilityTimeout: configuration.visibilityTimeout, field: "configuration.visibilityTimeout")
        if let dlq = configuration.deadLetter {
            try validateQueueName(dlq.queueName, field: "configuration.deadLetter.queueName")
            guard dlq.queueName != queueName else {
                throw MessageQueueError.invalidArgument(
                    field: "configuration.deadLetter.queueName", reason: "a queue cannot be its own dead-letter queue")
            }
            guard (1...1000).contains(dlq.maxReceiveCount) else {
                throw MessageQueueError.invalidArgument(
                    field: "configuration.deadLetter.maxReceiveCount", reason: "\(dlq.maxReceiveCount) is not in 1...1000")
            }
        }
    }

    // MARK: Encoding

    private static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    }

    private static func encode(_ attributes: [String: String]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = try encoder.encode(attributes)
        return String(decoding: data, as: UTF8.self)
    }

    private static func decode(_ json: String, messageID: String, path: String) throws -> [String: String] {
        do {
            return try JSONDecoder().decode([String: String].self, from: Data(json.utf8))
        } catch {
            throw MessageQueueError.backend(
                operation: "receive", detail: "attributes of message \(messageID) in \(path) are not a JSON object of strings: \(error)")
        }
    }
}

/// A receipt handle: `sq1.<row sequence>.<32 hex digits of a per-receive random token>`.
struct ReceiptHandle {
    let sequence: Int64
    let token: String

    init(sequence: Int64, token: String) {
        self.sequence = sequence
        self.token = token
    }

    init(parsing text: String) throws {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "sq1", let sequence = Int64(parts[1]), sequence > 0,
              parts[2].utf8.count == 32,
              parts[2].utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw MessageQueueError.invalidReceiptHandle(text)
        }
        self.sequence = sequence
        self.token = String(parts[2])
    }

    var rawValue: String { "sq1.\(sequence).\(token)" }

    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return hex(high) + hex(low)
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
