import CSQLite
import Dispatch
import Foundation

/// A failure reported by SQLite, with the database file and the statement at fault.
public struct SQLiteError: Error, Sendable, Equatable, CustomStringConvertible {
    /// SQLite's extended result code (e.g. 5 = SQLITE_BUSY).
    public let code: Int32
    /// `sqlite3_errmsg` text.
    public let message: String
    /// What was being done: the SQL text or an operation name.
    public let context: String
    /// The database file.
    public let path: String

    public var description: String {
        "SQLite error \(code) (\(message)) in \(path) while running \(context.debugDescription)"
    }
}

/// `SQLITE_TRANSIENT`: tells SQLite to copy bound text/blobs (the C macro is not importable).
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection, confined to a private serial dispatch queue.
///
/// SQLite calls block (on disk I/O and on the busy timeout while another process holds the
/// write lock), so they must not run on Swift's cooperative thread pool, which has only as
/// many threads as cores. Every use goes through ``run(_:)``, which hops to the connection's
/// own queue; that serialisation is also what makes the `@unchecked Sendable` sound.
final class SQLiteConnection: @unchecked Sendable {
    let path: String
    private let queue: DispatchQueue
    private var db: OpaquePointer?

    /// Opens (creating if needed) `path` in WAL mode with `busyTimeout` for lock waits and
    /// `synchronous=FULL`, so a committed transaction survives power loss, not just a crash.
    init(path: String, busyTimeout: Duration) throws {
        self.path = path
        self.queue = DispatchQueue(label: "CloudPipeline.SQLite(\(path))")
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            throw SQLiteError(code: rc, message: message, context: "open", path: path)
        }
        db = handle
        sqlite3_extended_result_codes(handle, 1)
        let ms = Int32(clamping: busyTimeout.cpMilliseconds)
        sqlite3_busy_timeout(handle, ms)
        do {
            // journal_mode returns a row, so it goes through a statement rather than exec.
            let mode = try queryText("PRAGMA journal_mode=WAL")
            if mode?.lowercased() != "wal" {
                throw SQLiteError(code: SQLITE_ERROR, message: "journal_mode is \(mode ?? "nil"), not wal",
                                  context: "PRAGMA journal_mode=WAL", path: path)
            }
            try execute("PRAGMA synchronous=FULL")
        } catch {
            sqlite3_close_v2(handle)
            db = nil
            throw error
        }
    }

    deinit {
        if let db { sqlite3_close_v2(db) }
    }

    /// Runs `body` on the connection's queue without blocking the caller's thread.
    func run<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body(self) })
            }
        }
    }

    /// Closes the connection; later calls throw. Waits for work already queued.
    func close() {
        queue.sync {
            if let db { sqlite3_close_v2(db) }
            db = nil
        }
    }

    // MARK: Statements (call only from inside `run`, or from `init`).

    private func handle(_ context: String) throws -> OpaquePointer {
        guard let db else {
            throw SQLiteError(code: SQLITE_MISUSE, message: "connection is closed", context: context, path: path)
        }
        return db
    }

    func error(_ code: Int32, _ context: String) -> SQLiteError {
        let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "connection is closed"
        return SQLiteError(code: code, message: message, context: context, path: path)
    }

    /// Runs one or more statements that return no rows.
    func execute(_ sql: String) throws {
        let db = try handle(sql)
        let rc = sqlite3_exec(db, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc, sql) }
    }

    /// Runs `body` inside `BEGIN IMMEDIATE ... COMMIT`, rolling back if it throws.
    ///
    /// IMMEDIATE takes the write lock up front, so two processes doing read-then-update (such
    /// as a receive) serialise instead of both reading the same visible message; the busy
    /// timeout makes the loser wait rather than fail.
    func immediateTransaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }

    /// Rows changed by the last INSERT/UPDATE/DELETE.
    var changes: Int {
        db.map { Int(sqlite3_changes($0)) } ?? 0
    }

    /// Prepares `sql`, binds `arguments` (Int64, Int, String, Data or nil), and calls `row` for
    /// each result row.
    func query(_ sql: String, _ arguments: [SQLiteValue] = [], row: (SQLiteRow) throws -> Void = { _ in }) throws {
        let db = try handle(sql)
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v2(db, sql, -1, &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw error(rc, sql) }
        defer { sqlite3_finalize(statement) }
        for (index, argument) in arguments.enumerated() {
            let position = Int32(index + 1)
            let bindRC: Int32
            switch argument {
            case .null: bindRC = sqlite3_bind_null(statement, position)
            case .integer(let value): bindRC = sqlite3_bind_int64(statement, position, value)
            case .text(let value): bindRC = sqlite3_bind_text(statement, position, value, Int32(value.utf8.count), sqliteTransient)
            }
            guard bindRC == SQLITE_OK else { throw error(bindRC, sql) }
        }
        while true {
            let stepRC = sqlite3_step(statement)
            if stepRC == SQLITE_DONE { return }
            guard stepRC == SQLITE_ROW else { throw error(stepRC, sql) }
            try row(SQLiteRow(statement: statement))
        }
    }

    private func queryText(_ sql: String) throws -> String? {
        var result: String?
        try query(sql) { result = $0.text(0) }
        return result
    }
}

/// A value bound to a statement parameter.
enum SQLiteValue {
    case null
    case integer(Int64)
    case text(String)
}

/// The current row of a statement, valid only inside the `query` callback.
struct SQLiteRow {
    let statement: OpaquePointer

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }

    func text(_ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(statement, column) else { return nil }
        return String(cString: pointer)
    }
}
