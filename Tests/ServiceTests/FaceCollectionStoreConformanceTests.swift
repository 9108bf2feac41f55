import CloudPipelineTestSupport
import FaceRecognition
@testable import FaceRecognitionService
import Foundation
import Logging
import Testing

/// What every ``FaceCollectionStore`` must do, run against SQLite and PostgreSQL alike: a store
/// written in one phase and read back by a fresh store over the same data in the next.
enum FaceCollectionStoreConformance {
    static func embedding(_ seed: Int) -> [Float] {
        // Awkward values too: signed zero, the smallest subnormal, the largest finite.
        var values = (0..<FaceNet.embeddingSize).map { Float(($0 * 7919 + seed * 104_729) % 2001 - 1000) / 997 }
        values[0] = -0.0
        values[1] = .leastNonzeroMagnitude
        values[2] = .greatestFiniteMagnitude
        return values
    }

    static func face(_ n: Int, external: String?) -> FaceRecordValue {
        FaceRecordValue(faceId: "00000000-0000-0000-0000-00000000000\(n)", imageId: "image-\(n)", externalImageId: external,
                        box: BoundingBox(Width: 0.5, Height: 0.25, Left: 0.125 * Float(n), Top: 0.0625),
                        confidence: 99.5 - Float(n), userId: nil, embedding: embedding(n))
    }

    static let c1 = CollectionRecord(id: "c1", createdAt: Date(timeIntervalSince1970: 1_700_000_000.123456), faceModelVersion: "facenet-vggface2")
    static let c2 = CollectionRecord(id: "c2", createdAt: Date(timeIntervalSince1970: 2000.5), faceModelVersion: "facenet-vggface2")

    /// Writes, checking each step's effect through `loadAll`.
    static func write(_ store: any FaceCollectionStore) async throws {
        #expect(try await store.loadAll().isEmpty)
        try await store.createCollection(c2)
        try await store.createCollection(c1)
        await #expect(throws: FaceCollectionStoreError.alreadyExists("c1")) { try await store.createCollection(c1) }

        let f1 = face(1, external: "first"), f2 = face(2, external: nil), f3 = face(3, external: "third")
        try await store.insertFaces([f2, f1], collection: "c1")
        try await store.insertFaces([f3], collection: "c2")
        var all = try await store.loadAll()
        #expect(all.map(\.collection) == [c1, c2], "collections in id order, created_at exact")
        #expect(all.first?.faces == [f1, f2], "faces in FaceId order, embeddings bit for bit")
        #expect(all.first?.faces.first?.embedding.map(\.bitPattern) == f1.embedding.map(\.bitPattern))

        try await store.createUser(UserRecord(userId: "u", clientRequestToken: "token"), collection: "c1")
        try await store.createUser(UserRecord(userId: "w", clientRequestToken: nil), collection: "c1")
        try await store.setUser("u", faceIds: [f1.faceId], collection: "c1")
        try await store.setUser("w", faceIds: [f2.faceId], collection: "c1")
        all = try await store.loadAll()
        #expect(all.first?.faces.map(\.userId) == ["u", "w"])
        #expect(all.first?.users == [UserRecord(userId: "u", clientRequestToken: "token"), UserRecord(userId: "w", clientRequestToken: nil)])

        // Deleting a user frees its faces; then the face can go.
        try await store.deleteUser("w", collection: "c1")
        all = try await store.loadAll()
        #expect(all.first?.faces.map(\.userId) == ["u", nil])
        #expect(all.first?.users.map(\.userId) == ["u"])
        try await store.deleteFaces([f2.faceId], collection: "c1")

        // Deleting a collection takes its faces and users; the id can then be reused, empty.
        try await store.createUser(UserRecord(userId: "gone", clientRequestToken: nil), collection: "c2")
        try await store.deleteCollection("c2")
        try await store.createCollection(c2)
    }

    /// What a fresh store over the data `write` left must read.
    static func readBack(_ store: any FaceCollectionStore) async throws {
        let all = try await store.loadAll()
        var f1 = face(1, external: "first")
        f1.userId = "u"
        #expect(all.map(\.collection) == [c1, c2])
        #expect(all.first?.faces == [f1])
        #expect(all.first?.users == [UserRecord(userId: "u", clientRequestToken: "token")])
        #expect(all.last?.faces == [] && all.last?.users == [], "a re-created collection starts empty")
    }
}

@Suite("Face collection store conformance")
struct FaceCollectionStoreConformanceTests {
    @Test("SQLite: each change as loadAll reads it, and a reopened file reads the same")
    func sqlite() async throws {
        let directory = try LocalTestDirectory.make("store-conformance")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await FaceCollectionStoreConformance.write(SQLiteFaceCollectionStore(dataDirectory: directory))
        try await FaceCollectionStoreConformance.readBack(SQLiteFaceCollectionStore(dataDirectory: directory))
    }

    @Test("PostgreSQL: each change as loadAll reads it, and a new connection pool reads the same",
          .enabled(if: PostgresTestServer.available, Comment(rawValue: PostgresTestServer.unavailableReason)))
    func postgres() async throws {
        let url = try PostgresDatabaseURL(try await PostgresTestServer.shared().makeDatabase("conformance"))
        try await PostgresFaceCollectionStore.with(url, logger: Logger(label: "test")) { try await FaceCollectionStoreConformance.write($0) }
        try await PostgresFaceCollectionStore.with(url, logger: Logger(label: "test")) { try await FaceCollectionStoreConformance.readBack($0) }
    }
}

@Suite("Collections database settings")
struct CollectionsDatabaseSettingsTests {
    @Test("--collections-database, else $FACEREC_COLLECTIONS_DATABASE, else SQLite under --data-dir")
    func resolve() throws {
        let directory = URL(fileURLWithPath: "/data")
        #expect(try CollectionsDatabase.resolve(option: nil, environment: [:], dataDirectory: directory) == .sqlite(dataDirectory: directory))
        let fromEnvironment = try CollectionsDatabase.resolve(option: nil, environment: ["FACEREC_COLLECTIONS_DATABASE": "postgres://a@h/db"],
                                                              dataDirectory: directory)
        #expect(fromEnvironment == .postgres(try PostgresDatabaseURL("postgres://a@h/db")))
        let fromOption = try CollectionsDatabase.resolve(option: "postgresql://b@h2/db2", environment: ["FACEREC_COLLECTIONS_DATABASE": "postgres://a@h/db"],
                                                         dataDirectory: directory)
        #expect(fromOption == .postgres(try PostgresDatabaseURL("postgresql://b@h2/db2")))
    }

    @Test("URLs: TCP with port, password and sslmode; a Unix socket directory; malformed ones named")
    func urls() throws {
        let tcp = try PostgresDatabaseURL("postgres://face%20rec:p%40ss@db.internal:6543/collections?sslmode=require")
        #expect(tcp.endpoint == .tcp(host: "db.internal", port: 6543))
        #expect(tcp.username == "face rec" && tcp.password == "p@ss" && tcp.database == "collections" && tcp.tls == .require)
        #expect(!tcp.description.contains("p@ss") && tcp.description.contains("***"), "the password stays out of logs")
        let plain = try PostgresDatabaseURL("postgres://db/facerec")
        #expect(plain.endpoint == .tcp(host: "db", port: 5432) && plain.username == "postgres" && plain.tls == .prefer)
        let socket = try PostgresDatabaseURL("postgres://facerec@/facerec?host=/var/run/postgresql&port=5433")
        #expect(socket.endpoint == .unixSocket(path: "/var/run/postgresql/.s.PGSQL.5433") && socket.tls == .disable)
        for bad in ["mysql://a@h/db", "postgres:///db", "postgres://h:70000/db", "postgres://h/db?sslmode=maybe", "not a url"] {
            #expect(throws: PostgresDatabaseURL.Invalid.self, "\(bad)") { try PostgresDatabaseURL(bad) }
        }
    }

    @Test("an unreachable database fails at start with a storage error, not a hang")
    func unreachable() async throws {
        let url = try PostgresDatabaseURL("postgres://postgres@/db?host=/nonexistent-\(UUID().uuidString.prefix(8))")
        await #expect(throws: FaceCollectionStoreError.self) {
            try await RekognitionSetup.withCollections(.postgres(url), logger: Logger(label: "test")) { _ in () }
        }
    }
}
