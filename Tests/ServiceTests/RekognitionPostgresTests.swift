import CloudPipelineTestSupport
import FaceRecognition
@testable import FaceRecognitionService
import Foundation
import Logging
import Testing

/// Two in-process replicas (each its own connection pool and listener) on one database.
private func withReplicas<T: Sendable>(_ url: PostgresDatabaseURL, reconnectDelay: Duration = .milliseconds(100),
                                       _ body: (FaceCollections, FaceCollections) async throws -> T) async throws -> T {
    let logger = Logger(label: "test.replica")
    return try await PostgresFaceCollectionStore.with(url, logger: logger, reconnectDelay: reconnectDelay) { storeA in
        try await FaceCollections.following(storeA) { a in
            try await PostgresFaceCollectionStore.with(url, logger: logger, reconnectDelay: reconnectDelay) { storeB in
                try await FaceCollections.following(storeB) { b in try await body(a, b) }
            }
        }
    }
}

/// A unit-length embedding, searchable.
private func unitEmbedding(_ seed: Int) -> [Float] {
    let raw = (0..<FaceNet.embeddingSize).map { Float(sin(Double($0 * (seed + 3)) * 0.37)) }
    let norm = sqrt(raw.reduce(0) { $0 + $1 * $1 })
    return raw.map { $0 / norm }
}

private func face(_ n: Int) -> FaceRecordValue {
    FaceRecordValue(faceId: UUID().uuidString.lowercased(), imageId: "image-\(n)", externalImageId: "person-\(n)",
                    box: BoundingBox(Width: 1, Height: 1, Left: 0, Top: 0), confidence: 100, userId: nil, embedding: unitEmbedding(n))
}

/// The liveness bound for a change to reach the other replica: a hang fails, a slow machine does not.
private let arrival = Duration.seconds(60)

@Suite("Rekognition collections on PostgreSQL", .enabled(if: PostgresTestServer.available, Comment(rawValue: PostgresTestServer.unavailableReason)))
struct RekognitionPostgresTests {
    @Test("the notifications announce each committed write, in order, after a resync")
    func notifications() async throws {
        let url = try PostgresDatabaseURL(try await PostgresTestServer.shared().makeDatabase("notify"))
        try await PostgresFaceCollectionStore.with(url, logger: Logger(label: "test")) { store in
            let (changes, sink) = AsyncStream.makeStream(of: FaceCollectionChange.self)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await store.followChanges(into: sink) }
                var iterator = changes.makeAsyncIterator()
                #expect(await iterator.next() == .resync, "the first thing a listener hears is: read everything")
                let f = face(1)
                try await store.createCollection(CollectionRecord(id: "n", createdAt: Date(), faceModelVersion: "v"))
                try await store.insertFaces([f], collection: "n")
                try await store.createUser(UserRecord(userId: "u", clientRequestToken: nil), collection: "n")
                try await store.setUser("u", faceIds: [f.faceId], collection: "n")
                try await store.deleteUser("u", collection: "n")
                // A failed write announces nothing: its NOTIFY rolls back with it.
                await #expect(throws: FaceCollectionStoreError.self) {
                    try await store.insertFaces([f], collection: "n")
                }
                try await store.deleteFaces([f.faceId], collection: "n")
                // Too many ids for one payload (PostgreSQL takes 8,000 bytes): announced in slices.
                let many = (0..<300).map { _ in face(2) }
                try await store.insertFaces(many, collection: "n")
                try await store.deleteCollection("n")
                var heard: [FaceCollectionChange] = []
                for _ in 0..<9 { heard.append(try #require(await iterator.next())) }
                #expect(Array(heard.prefix(6)) == [
                    .collection("n"), .faces(collection: "n", faceIds: [f.faceId]), .users(collection: "n", faceIds: []),
                    .faces(collection: "n", faceIds: [f.faceId]), .users(collection: "n", faceIds: [f.faceId]),
                    .faces(collection: "n", faceIds: [f.faceId]),
                ])
                var sliced: [String] = []
                for change in heard[6..<8] {
                    guard case .faces("n", let ids?) = change else { Issue.record("expected a slice of FaceIds, heard \(change)"); continue }
                    sliced += ids
                }
                #expect(sliced == many.map(\.faceId), "two slices carry the 300 ids, in order")
                #expect(heard[8] == .collection("n"))
                group.cancelAll()
            }
        }
    }

    @Test("two replicas: what one writes, the other's memory and searches show; a deletion through either reaches both")
    func replication() async throws {
        let url = try PostgresDatabaseURL(try await PostgresTestServer.shared().makeDatabase("replicas"))
        try await withReplicas(url) { a, b in
            let searcher = CollectionSearcher(lanes: 1)
            try await a.create(CollectionRecord(id: "shared", createdAt: Date(timeIntervalSince1970: 5), faceModelVersion: "v"))
            #expect(await eventually(timeout: arrival) { (try? await b.describe("shared")) != nil })
            let faces = (1...5).map(face)
            try await a.insert(faces, collection: "shared")
            #expect(await eventually(timeout: arrival) { (try? await b.describe("shared").faceCount) == 5 })
            let hits = try await searcher.nearest(faces[2].embedding, in: b.snapshot("shared"), limit: 1, maxDistance: 0.5)
            #expect(hits.first?.face == faces[2], "B's matrix has A's faces")

            try await b.createUser(UserRecord(userId: "u", clientRequestToken: nil), collection: "shared")
            try await b.setUser("u", faceIds: [faces[0].faceId], collection: "shared")
            #expect(await eventually(timeout: arrival) { (try? await a.face(faces[0].faceId, collection: "shared"))?.userId == "u" })
            #expect(try await a.user("u", collection: "shared") != nil)

            let deletion = try await b.delete(faceIds: [faces[2].faceId], collection: "shared")
            #expect(deletion.deleted == [faces[2].faceId])
            #expect(await eventually(timeout: arrival) { (try? await a.describe("shared").faceCount) == 4 })
            let after = try await searcher.nearest(faces[2].embedding, in: a.snapshot("shared"), limit: 5, maxDistance: 2)
            #expect(!after.contains { $0.face.faceId == faces[2].faceId }, "A's matrix lost the face B deleted")

            try await a.deleteUser("u", collection: "shared")
            #expect(await eventually(timeout: arrival) { (try? await b.users(collection: "shared", after: nil, limit: 10).users.isEmpty) == true })
            #expect(try await b.face(faces[0].faceId, collection: "shared")?.userId == nil)
            try await b.delete("shared")
            #expect(await eventually(timeout: arrival) { (try? await a.describe("shared")) == nil })
        }
    }

    @Test("a replica whose notification connection is cut reconnects and reloads: a change it could not hear arrives")
    func reconnectReloads() async throws {
        let server = try await PostgresTestServer.shared()
        let database = try await server.makeDatabase("reconnect")
        let url = try PostgresDatabaseURL(database)
        try await withReplicas(url) { a, b in
            try await a.create(CollectionRecord(id: "r", createdAt: Date(), faceModelVersion: "v"))
            #expect(await eventually(timeout: arrival) { (try? await b.describe("r")) != nil })
            // A row written behind the store's back, with no NOTIFY: only a full reload can show it.
            let hidden = face(9)
            let hex = PostgresFaceCollectionStore.bytes(hidden.embedding).readableBytesView.map { String(format: "%02x", $0) }.joined()
            try await server.psql("""
                INSERT INTO facerec_faces (collection, face_id, image_id, external_image_id, box_left, box_top, box_width,
                    box_height, confidence, user_id, embedding)
                VALUES ('r', '\(hidden.faceId)', 'image-9', 'person-9', 0, 0, 1, 1, 100, NULL, '\\x\(hex)')
                """, database: PostgresTestServer.databaseName(database))
            // Cut both replicas' listeners, as a network failure or a server restart would.
            let cut = try await server.psql("""
                SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                WHERE application_name = '\(PostgresFaceCollectionStore.listenerApplicationName)' AND datname = '\(PostgresTestServer.databaseName(database))'
                """)
            #expect(cut == "2")
            for replica in [a, b] {
                #expect(await eventually(timeout: arrival) { (try? await replica.face(hidden.faceId, collection: "r")) == hidden })
            }
            // Listening again: an ordinary change still arrives.
            let later = face(10)
            try await a.insert([later], collection: "r")
            #expect(await eventually(timeout: arrival) { (try? await b.face(later.faceId, collection: "r")) == later })
        }
    }

    @Test("two facerec-server processes on one PostgreSQL: indexed through A, found through B within 1 s; deleted through B, gone from A; a restart of both keeps everything",
          .enabled(if: replicasClientAvailable, "boto3 is not installed (pip install boto3)"))
    func twoServers() async throws {
        let database = try await PostgresTestServer.shared().makeDatabase("servers")
        let directoryA = try LocalTestDirectory.make("replica-a"), directoryB = try LocalTestDirectory.make("replica-b")
        defer {
            try? FileManager.default.removeItem(at: directoryA)
            try? FileManager.default.removeItem(at: directoryB)
        }
        let arguments = ["--collections-database", database]
        func withBoth<T>(_ body: (RekognitionServer, RekognitionServer) async throws -> T) async throws -> T {
            try await RekognitionServer.with(dataDirectory: directoryA, extraArguments: arguments) { a in
                try await RekognitionServer.with(dataDirectory: directoryB, extraArguments: arguments) { b in try await body(a, b) }
            }
        }
        let first = try await withBoth { try await replicasStep("propagate", $0, $1) }
        first.expectAll(["indexed through A, SearchFaces through B within 1 s", "SearchFacesByImage through B finds it",
                         "DeleteFaces through B", "the face deleted through B leaves A's ListFaces",
                         "the face deleted through B leaves A's SearchFacesByImage",
                         "a user created through B is associated through A", "B sees the association"])
        print("rekognition replicas figures: \(first.figures)")
        let faceId = try #require(first.figures["face_id"]?.description)
        let second = try await withBoth { try await replicasStep("restarted", $0, $1, environment: ["EXPECTED_FACE_ID": faceId]) }
        second.expectAll(["A keeps the face and its user after the restart", "A keeps the user",
                          "B keeps the face and its user after the restart", "B keeps the user",
                          "B finds the kept face by image after the restart"])
    }
}

private let replicasClientAvailable = ServiceFixtures.pythonCanImport("boto3")

/// Runs a step of `Tests/Fixtures/rekognition/replicas.py` against replicas A and B.
private func replicasStep(_ step: String, _ a: RekognitionServer, _ b: RekognitionServer,
                          environment: [String: String] = [:]) async throws -> RekognitionReport {
    let output = a.dataDirectory.appendingPathComponent("replicas-\(step)-\(UUID().uuidString.prefix(8)).json")
    let script = ServiceFixtures.packageRoot.appendingPathComponent("Tests/Fixtures/rekognition/replicas.py").path
    let status = try await runProcess("/usr/bin/env", ["python3", script, step, a.url.absoluteString, b.url.absoluteString,
                                                       ServiceFixtures.faceImages.path],
                                      environment: a.clientEnvironment.merging(environment) { $1 }, stdout: output)
    let data = try Data(contentsOf: output)
    try #require(status == 0, "replicas.py \(step) exited with \(status): \(String(decoding: data, as: UTF8.self))")
    return try JSONDecoder().decode(RekognitionReport.self, from: data)
}
