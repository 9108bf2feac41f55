import Foundation
import Logging
import NIOCore
import PostgresNIO

/// ``FaceCollectionStore`` in PostgreSQL, shared by several server replicas.
///
/// Tables (created on first use): `facerec_collections(id, created_at, face_model_version)`,
/// `facerec_faces(collection, face_id, image_id, external_image_id, box_*, confidence, user_id,
/// embedding)` with the embedding as little-endian float32 `bytea` (as in the SQLite store) and
/// the face's user in `user_id` (a face belongs to at most one user, as in Rekognition), and
/// `facerec_users(collection, user_id, token)`. Every write is one transaction that also sends
/// `NOTIFY facerec_collections` with what changed (a JSON payload: collection, kind, FaceIds), so the
/// announcement is delivered if and only if the change committed.
public final class PostgresFaceCollectionStore: SharedFaceCollectionStore {
    /// The LISTEN/NOTIFY channel.
    public static let channel = "facerec_collections"

    private let client: PostgresClient
    private let listenerConfiguration: PostgresConnection.Configuration
    private let logger: Logger
    private let reconnectDelay: Duration

    /// A store over `client` (whose `run()` the caller runs); `listener` configures the
    /// dedicated connection that LISTENs for other replicas' changes.
    public init(client: PostgresClient, listener: PostgresConnection.Configuration, logger: Logger,
                reconnectDelay: Duration = .seconds(1)) {
        self.client = client
        self.listenerConfiguration = listener
        self.logger = logger
        self.reconnectDelay = reconnectDelay
    }

    /// Runs `body` with a store on the database `url` names (its tables created if missing) and
    /// the store's connection pool running; closes the pool after.
    public static func with<T: Sendable>(_ url: PostgresDatabaseURL, logger: Logger, reconnectDelay: Duration = .seconds(1),
                                         _ body: (PostgresFaceCollectionStore) async throws -> T) async throws -> T {
        var configuration = url.clientConfiguration()
        var listener = try url.connectionConfiguration()
        // Named in pg_stat_activity, so an operator sees which connections are the replicas'.
        configuration.options.additionalStartupParameters = [("application_name", "facerec-server")]
        listener.options.additionalStartupParameters = [("application_name", listenerApplicationName)]
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let store = PostgresFaceCollectionStore(client: client, listener: listener, logger: logger, reconnectDelay: reconnectDelay)
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            group.addTask { await client.run() }
            do {
                try await store.prepareSchema()
                let result = try await body(store)
                group.cancelAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }

    /// The `application_name` of the connection that LISTENs.
    public static let listenerApplicationName = "facerec-server-listener"

    /// Creates the tables if they are missing (replicas starting together take turns), on a
    /// connection of its own: an unreachable database or a refused login fails here, at once.
    public func prepareSchema() async throws {
        var configuration = listenerConfiguration
        configuration.options.additionalStartupParameters = [("application_name", "facerec-server")]
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        } catch {
            throw FaceCollectionStoreError.storage("cannot connect to PostgreSQL: \(Self.describe(error))")
        }
        do {
            try await connection.withTransaction(logger: logger) { connection in try await self.createTables(connection) }
            try? await connection.close()
        } catch let error as PostgresTransactionError {
            try? await connection.close()
            throw FaceCollectionStoreError.storage(Self.describe(error.closureError ?? error.commitError ?? error.beginError ?? error))
        } catch {
            try? await connection.close()
            throw FaceCollectionStoreError.storage(Self.describe(error))
        }
    }

    private func createTables(_ connection: PostgresConnection) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock(7343001)", logger: self.logger)
        try await connection.query("""
            CREATE TABLE IF NOT EXISTS facerec_collections (
                id text PRIMARY KEY, created_at double precision NOT NULL, face_model_version text NOT NULL)
            """, logger: self.logger)
        try await connection.query("""
            CREATE TABLE IF NOT EXISTS facerec_faces (
                collection text NOT NULL REFERENCES facerec_collections(id) ON DELETE CASCADE,
                face_id text NOT NULL, image_id text NOT NULL, external_image_id text,
                box_left real NOT NULL, box_top real NOT NULL, box_width real NOT NULL, box_height real NOT NULL,
                confidence real NOT NULL, user_id text, embedding bytea NOT NULL,
                PRIMARY KEY (collection, face_id))
            """, logger: self.logger)
        try await connection.query("""
            CREATE TABLE IF NOT EXISTS facerec_users (
                collection text NOT NULL REFERENCES facerec_collections(id) ON DELETE CASCADE,
                user_id text NOT NULL, token text, PRIMARY KEY (collection, user_id))
            """, logger: self.logger)
    }

    // MARK: Reads

    public func loadAll() async throws -> [CollectionContents] {
        try await storageErrors {
            var out: [CollectionContents] = []
            var index: [String: Int] = [:]
            for collection in try await self.collections(where: nil) {
                index[collection.id] = out.count
                out.append(CollectionContents(collection: collection, faces: [], users: []))
            }
            for (collection, face) in try await self.faces(collection: nil, faceIds: nil) {
                if let i = index[collection] { out[i].faces.append(face) }
            }
            for (collection, user) in try await self.users(collection: nil) {
                if let i = index[collection] { out[i].users.append(user) }
            }
            return out
        }
    }

    public func loadCollection(_ id: String) async throws -> CollectionContents? {
        try await storageErrors {
            guard let record = try await self.collections(where: id).first else { return nil }
            return CollectionContents(collection: record,
                                      faces: try await self.faces(collection: id, faceIds: nil).map(\.1),
                                      users: try await self.users(collection: id).map(\.1))
        }
    }

    public func loadFaces(_ faceIds: [String], collection: String) async throws -> [FaceRecordValue] {
        try await storageErrors { try await self.faces(collection: collection, faceIds: faceIds).map(\.1) }
    }

    public func loadUsers(collection: String) async throws -> [UserRecord] {
        try await storageErrors { try await self.users(collection: collection).map(\.1) }
    }

    private func collections(where id: String?) async throws -> [CollectionRecord] {
        var rows: PostgresQuery = "SELECT id, created_at, face_model_version FROM facerec_collections ORDER BY id"
        if let id { rows = "SELECT id, created_at, face_model_version FROM facerec_collections WHERE id = \(id)" }
        var out: [CollectionRecord] = []
        for try await (id, created, version) in try await client.query(rows, logger: logger).decode((String, Double, String).self) {
            out.append(CollectionRecord(id: id, createdAt: Date(timeIntervalSince1970: created), faceModelVersion: version))
        }
        return out
    }

    private func faces(collection: String?, faceIds: [String]?) async throws -> [(String, FaceRecordValue)] {
        var sql = """
            SELECT collection, face_id, image_id, external_image_id, box_left, box_top, box_width, box_height,
                   confidence, user_id, embedding FROM facerec_faces
            """
        var binds = PostgresBindings()
        if let collection {
            sql += " WHERE collection = $1"
            binds.append(collection)
            if let faceIds {
                sql += " AND face_id = ANY($2)"
                binds.append(faceIds)
            }
        }
        sql += " ORDER BY collection, face_id"
        var out: [(String, FaceRecordValue)] = []
        let rows = try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
        for try await (collection, faceId, imageId, external, left, top, width, height, confidence, userId, embedding) in rows.decode(
            (String, String, String, String?, Float, Float, Float, Float, Float, String?, ByteBuffer).self) {
            out.append((collection, FaceRecordValue(
                faceId: faceId, imageId: imageId, externalImageId: external,
                box: BoundingBox(Width: width, Height: height, Left: left, Top: top),
                confidence: confidence, userId: userId, embedding: Self.floats(embedding))))
        }
        return out
    }

    private func users(collection: String?) async throws -> [(String, UserRecord)] {
        var query: PostgresQuery = "SELECT collection, user_id, token FROM facerec_users ORDER BY collection, user_id"
        if let collection { query = "SELECT collection, user_id, token FROM facerec_users WHERE collection = \(collection) ORDER BY user_id" }
        var out: [(String, UserRecord)] = []
        for try await (collection, userId, token) in try await client.query(query, logger: logger).decode((String, String, String?).self) {
            out.append((collection, UserRecord(userId: userId, clientRequestToken: token)))
        }
        return out
    }

    // MARK: Writes (each one transaction with its NOTIFY)

    public func createCollection(_ collection: CollectionRecord) async throws {
        try await transaction { connection in
            let rows = try await connection.query("""
                INSERT INTO facerec_collections (id, created_at, face_model_version)
                VALUES (\(collection.id), \(collection.createdAt.timeIntervalSince1970), \(collection.faceModelVersion))
                ON CONFLICT (id) DO NOTHING RETURNING id
                """, logger: self.logger)
            var inserted = false
            for try await _ in rows { inserted = true }
            guard inserted else { throw FaceCollectionStoreError.alreadyExists(collection.id) }
            try await self.notify(.init(collection: collection.id, kind: .collection), on: connection)
        }
    }

    public func deleteCollection(_ id: String) async throws {
        try await transaction { connection in
            // The faces and users go with it (ON DELETE CASCADE).
            try await connection.query("DELETE FROM facerec_collections WHERE id = \(id)", logger: self.logger)
            try await self.notify(.init(collection: id, kind: .collection), on: connection)
        }
    }

    public func insertFaces(_ faces: [FaceRecordValue], collection: String) async throws {
        guard !faces.isEmpty else { return }
        try await transaction { connection in
            // A multi-row INSERT per 1,000 faces (11 parameters a row, under PostgreSQL's 65,535).
            var start = 0
            while start < faces.count {
                let chunk = faces[start..<min(start + 1000, faces.count)]
                var sql = """
                    INSERT INTO facerec_faces (collection, face_id, image_id, external_image_id, box_left, box_top,
                                               box_width, box_height, confidence, user_id, embedding) VALUES
                    """
                var binds = PostgresBindings(capacity: chunk.count * 11)
                for (i, face) in chunk.enumerated() {
                    let base = i * 11
                    sql += (i == 0 ? " (" : ", (") + (1...11).map { "$\(base + $0)" }.joined(separator: ", ") + ")"
                    binds.append(collection)
                    binds.append(face.faceId)
                    binds.append(face.imageId)
                    binds.append(face.externalImageId)
                    binds.append(face.box.Left)
                    binds.append(face.box.Top)
                    binds.append(face.box.Width)
                    binds.append(face.box.Height)
                    binds.append(face.confidence)
                    binds.append(face.userId)
                    binds.append(Self.bytes(face.embedding))
                }
                try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: self.logger)
                start += chunk.count
            }
            try await self.notify(.init(collection: collection, kind: .faces, faceIds: faces.map(\.faceId)), on: connection)
        }
    }

    public func deleteFaces(_ faceIds: [String], collection: String) async throws {
        guard !faceIds.isEmpty else { return }
        try await transaction { connection in
            try await connection.query("DELETE FROM facerec_faces WHERE collection = \(collection) AND face_id = ANY(\(faceIds))",
                                       logger: self.logger)
            try await self.notify(.init(collection: collection, kind: .faces, faceIds: faceIds), on: connection)
        }
    }

    public func createUser(_ user: UserRecord, collection: String) async throws {
        try await transaction { connection in
            try await connection.query("""
                INSERT INTO facerec_users (collection, user_id, token) VALUES (\(collection), \(user.userId), \(user.clientRequestToken))
                """, logger: self.logger)
            try await self.notify(.init(collection: collection, kind: .users, faceIds: []), on: connection)
        }
    }

    public func deleteUser(_ userId: String, collection: String) async throws {
        try await transaction { connection in
            var freed: [String] = []
            let rows = try await connection.query("""
                UPDATE facerec_faces SET user_id = NULL WHERE collection = \(collection) AND user_id = \(userId) RETURNING face_id
                """, logger: self.logger)
            for try await faceId in rows.decode(String.self) { freed.append(faceId) }
            try await connection.query("DELETE FROM facerec_users WHERE collection = \(collection) AND user_id = \(userId)",
                                       logger: self.logger)
            try await self.notify(.init(collection: collection, kind: .users, faceIds: freed), on: connection)
        }
    }

    public func setUser(_ userId: String?, faceIds: [String], collection: String) async throws {
        guard !faceIds.isEmpty else { return }
        try await transaction { connection in
            try await connection.query("""
                UPDATE facerec_faces SET user_id = \(userId) WHERE collection = \(collection) AND face_id = ANY(\(faceIds))
                """, logger: self.logger)
            try await self.notify(.init(collection: collection, kind: .faces, faceIds: faceIds), on: connection)
        }
    }

    // MARK: LISTEN

    public func followChanges(into sink: AsyncStream<FaceCollectionChange>.Continuation) async {
        var attempt = 0
        while !Task.isCancelled {
            attempt += 1
            do {
                let connection = try await PostgresConnection.connect(configuration: listenerConfiguration, id: attempt, logger: logger)
                do {
                    // A cancelled follower closes its connection, which ends the notification sequence.
                    try await withTaskCancellationHandler {
                        try await connection.listen(on: Self.channel) { notifications in
                            // LISTEN is in place: anything committed from now on is announced, so reading
                            // everything now misses nothing.
                            sink.yield(.resync)
                            for try await notification in notifications {
                                sink.yield(FaceCollectionChangeMessage.change(fromPayload: notification.payload) ?? .resync)
                            }
                        }
                    } onCancel: {
                        let closing: EventLoopFuture<Void> = connection.close()
                        _ = closing
                    }
                } catch {
                    if !Task.isCancelled {
                        logger.warning("lost the PostgreSQL notification connection; reconnecting, then reloading every collection",
                                       metadata: ["error": "\(String(reflecting: error))"])
                    }
                }
                try? await connection.close()
            } catch {
                if !Task.isCancelled {
                    logger.warning("cannot connect to PostgreSQL for notifications; retrying", metadata: ["error": "\(String(reflecting: error))"])
                }
            }
            try? await Task.sleep(for: reconnectDelay)
        }
        sink.finish()
    }

    // MARK: Helpers

    private func notify(_ message: FaceCollectionChangeMessage, on connection: PostgresConnection) async throws {
        // pg_notify inside the writing transaction: delivered at COMMIT, dropped on ROLLBACK.
        for payload in message.payloads() {
            try await connection.query("SELECT pg_notify(\(Self.channel), \(payload))", logger: logger)
        }
    }

    /// Runs `body` in a transaction, passing the store's own errors through and turning the
    /// driver's into ``FaceCollectionStoreError/storage(_:)``.
    private func transaction(_ body: @Sendable (PostgresConnection) async throws -> Void) async throws {
        do {
            try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            if let own = error.closureError as? FaceCollectionStoreError { throw own }
            throw FaceCollectionStoreError.storage(Self.describe(error.closureError ?? error.commitError ?? error.beginError ?? error))
        }
    }

    private func storageErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as FaceCollectionStoreError {
            throw error
        } catch {
            throw FaceCollectionStoreError.storage(Self.describe(error))
        }
    }

    /// The server's message where there is one (PSQLError's description hides it on purpose).
    static func describe(_ error: any Error) -> String {
        if let psql = error as? PSQLError, let message = psql.serverInfo?[.message] {
            return "PostgreSQL: \(message)"
        }
        return String(reflecting: error)
    }

    static func bytes(_ embedding: [Float]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(embedding.count * 4)
        for value in embedding { buffer.writeInteger(value.bitPattern, endianness: .little) }
        return buffer
    }

    static func floats(_ buffer: ByteBuffer) -> [Float] {
        var buffer = buffer
        var out: [Float] = []
        out.reserveCapacity(buffer.readableBytes / 4)
        while let bits = buffer.readInteger(endianness: .little, as: UInt32.self) { out.append(Float(bitPattern: bits)) }
        return out
    }
}
