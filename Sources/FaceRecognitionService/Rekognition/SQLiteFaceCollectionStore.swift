import CSQLite
import Foundation

/// ``FaceCollectionStore`` in one SQLite file (`<data-dir>/collections.sqlite`, WAL mode).
///
/// Tables: `collections(id, created_at, face_model_version)`,
/// `faces(collection, face_id, image_id, external_image_id, box_*, confidence, user_id, embedding)`
/// with the embedding as a little-endian float32 blob, and `users(collection, user_id, token)`.
/// A face's user is its `user_id` column (a face belongs to at most one user, as in Rekognition).
/// Calls run one at a time on a private queue, never on Swift's cooperative threads.
public final class SQLiteFaceCollectionStore: FaceCollectionStore, @unchecked Sendable {
    // @unchecked: `db` is only used on `queue`.
    private let db: OpaquePointer
    private let queue = DispatchQueue(label: "facerec.collections.sqlite")
    public let path: String

    public static let fileName = "collections.sqlite"

    public init(path: String) throws {
        self.path = path
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let handle { sqlite3_close(handle) }
            throw FaceCollectionStoreError.storage("cannot open \(path): \(message)")
        }
        db = handle
        sqlite3_busy_timeout(db, 5000)
        try execute("""
            PRAGMA journal_mode=WAL;
            PRAGMA foreign_keys=ON;
            CREATE TABLE IF NOT EXISTS collections (
                id TEXT PRIMARY KEY, created_at REAL NOT NULL, face_model_version TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS faces (
                collection TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
                face_id TEXT NOT NULL, image_id TEXT NOT NULL, external_image_id TEXT,
                box_left REAL NOT NULL, box_top REAL NOT NULL, box_width REAL NOT NULL, box_height REAL NOT NULL,
                confidence REAL NOT NULL, user_id TEXT, embedding BLOB NOT NULL,
                PRIMARY KEY (collection, face_id));
            CREATE TABLE IF NOT EXISTS users (
                collection TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
                user_id TEXT NOT NULL, token TEXT, PRIMARY KEY (collection, user_id));
            """)
    }

    /// The store under a data directory (created if needed).
    public convenience init(dataDirectory: URL) throws {
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        try self.init(path: dataDirectory.appendingPathComponent(Self.fileName).path)
    }

    deinit { sqlite3_close(db) }

    // MARK: FaceCollectionStore

    public func loadAll() async throws -> [CollectionContents] {
        try await run { store in
            var out: [CollectionContents] = []
            var index: [String: Int] = [:]
            try store.query("SELECT id, created_at, face_model_version FROM collections ORDER BY id") { row in
                let record = CollectionRecord(id: row.text(0) ?? "", createdAt: Date(timeIntervalSince1970: row.double(1)),
                                              faceModelVersion: row.text(2) ?? "")
                index[record.id] = out.count
                out.append(CollectionContents(collection: record, faces: [], users: []))
            }
            try store.query("""
                SELECT collection, face_id, image_id, external_image_id, box_left, box_top, box_width, box_height,
                       confidence, user_id, embedding FROM faces ORDER BY collection, face_id
                """) { row in
                guard let i = index[row.text(0) ?? ""] else { return }
                out[i].faces.append(FaceRecordValue(
                    faceId: row.text(1) ?? "", imageId: row.text(2) ?? "", externalImageId: row.text(3),
                    box: BoundingBox(Width: Float(row.double(6)), Height: Float(row.double(7)),
                                     Left: Float(row.double(4)), Top: Float(row.double(5))),
                    confidence: Float(row.double(8)), userId: row.text(9), embedding: row.floats(10)))
            }
            try store.query("SELECT collection, user_id, token FROM users ORDER BY collection, user_id") { row in
                guard let i = index[row.text(0) ?? ""] else { return }
                out[i].users.append(UserRecord(userId: row.text(1) ?? "", clientRequestToken: row.text(2)))
            }
            return out
        }
    }

    public func createCollection(_ collection: CollectionRecord) async throws {
        try await run { store in
            try store.transaction {
                var exists = false
                try store.query("SELECT 1 FROM collections WHERE id = ?", [.text(collection.id)]) { _ in exists = true }
                if exists { throw FaceCollectionStoreError.alreadyExists(collection.id) }
                try store.query("INSERT INTO collections (id, created_at, face_model_version) VALUES (?, ?, ?)",
                                [.text(collection.id), .double(collection.createdAt.timeIntervalSince1970),
                                 .text(collection.faceModelVersion)])
            }
        }
    }

    public func deleteCollection(_ id: String) async throws {
        try await run { store in
            try store.transaction {
                try store.query("DELETE FROM faces WHERE collection = ?", [.text(id)])
                try store.query("DELETE FROM users WHERE collection = ?", [.text(id)])
                try store.query("DELETE FROM collections WHERE id = ?", [.text(id)])
            }
        }
    }

    public func insertFaces(_ faces: [FaceRecordValue], collection: String) async throws {
        try await run { store in
            try store.transaction {
                for face in faces {
                    try store.query("""
                        INSERT INTO faces (collection, face_id, image_id, external_image_id, box_left, box_top, box_width,
                                           box_height, confidence, user_id, embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, [.text(collection), .text(face.faceId), .text(face.imageId), .optionalText(face.externalImageId),
                              .double(Double(face.box.Left)), .double(Double(face.box.Top)), .double(Double(face.box.Width)),
                              .double(Double(face.box.Height)), .double(Double(face.confidence)), .optionalText(face.userId),
                              .floats(face.embedding)])
                }
            }
        }
    }

    public func deleteFaces(_ faceIds: [String], collection: String) async throws {
        try await run { store in
            try store.transaction {
                for id in faceIds {
                    try store.query("DELETE FROM faces WHERE collection = ? AND face_id = ?", [.text(collection), .text(id)])
                }
            }
        }
    }

    public func createUser(_ user: UserRecord, collection: String) async throws {
        try await run { store in
            try store.query("INSERT INTO users (collection, user_id, token) VALUES (?, ?, ?)",
                            [.text(collection), .text(user.userId), .optionalText(user.clientRequestToken)])
        }
    }

    public func deleteUser(_ userId: String, collection: String) async throws {
        try await run { store in
            try store.transaction {
                try store.query("UPDATE faces SET user_id = NULL WHERE collection = ? AND user_id = ?", [.text(collection), .text(userId)])
                try store.query("DELETE FROM users WHERE collection = ? AND user_id = ?", [.text(collection), .text(userId)])
            }
        }
    }

    public func setUser(_ userId: String?, faceIds: [String], collection: String) async throws {
        try await run { store in
            try store.transaction {
                for id in faceIds {
                    try store.query("UPDATE faces SET user_id = ? WHERE collection = ? AND face_id = ?",
                                    [.optionalText(userId), .text(collection), .text(id)])
                }
            }
        }
    }

    // MARK: SQLite

    private func run<T: Sendable>(_ body: @escaping @Sendable (SQLiteFaceCollectionStore) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body(self) }) }
        }
    }

    enum Value {
        case text(String)
        case double(Double)
        case floats([Float])
        case null

        static func optionalText(_ value: String?) -> Value { value.map { .text($0) } ?? .null }
    }

    struct Row {
        let statement: OpaquePointer
        func text(_ column: Int32) -> String? {
            sqlite3_column_text(statement, column).map { String(cString: $0) }
        }
        func double(_ column: Int32) -> Double { sqlite3_column_double(statement, column) }
        func floats(_ column: Int32) -> [Float] {
            let bytes = Int(sqlite3_column_bytes(statement, column))
            guard bytes > 0, let pointer = sqlite3_column_blob(statement, column) else { return [] }
            let count = bytes / MemoryLayout<Float>.size
            var out = [Float](repeating: 0, count: count)
            out.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: pointer, count: count * 4)) }
            return out.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
        }
    }

    private func failure(_ context: String) -> FaceCollectionStoreError {
        .storage("\(context): \(String(cString: sqlite3_errmsg(db))) (\(path))")
    }

    private func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(db, sql, nil, nil, &message) == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(message)
            throw FaceCollectionStoreError.storage("\(text) (\(path))")
        }
    }

    private func transaction(_ body: () throws -> Void) throws {
        try execute("BEGIN IMMEDIATE")
        do {
            try body()
            try execute("COMMIT")
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    private func query(_ sql: String, _ arguments: [Value] = [], row: (Row) throws -> Void = { _ in }) throws {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else { throw failure("prepare") }
        defer { sqlite3_finalize(statement) }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (i, argument) in arguments.enumerated() {
            let position = Int32(i + 1)
            let rc: Int32
            switch argument {
            case .text(let text): rc = sqlite3_bind_text(statement, position, text, -1, transient)
            case .double(let value): rc = sqlite3_bind_double(statement, position, value)
            case .null: rc = sqlite3_bind_null(statement, position)
            case .floats(let values):
                let little = values.map { $0.bitPattern.littleEndian }
                rc = little.withUnsafeBytes { sqlite3_bind_blob(statement, position, $0.baseAddress, Int32($0.count), transient) }
            }
            guard rc == SQLITE_OK else { throw failure("bind") }
        }
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw failure("step") }
            try row(Row(statement: statement))
        }
    }
}
