import CloudPipeline
import Foundation
import Testing

/// The behaviour every ``ObjectStore`` backend promises, run against each entry of
/// `StoreBackends.all`. Keys used here are valid ``ObjectKey``s, so every backend must accept
/// them.
@Suite("ObjectStore conformance")
struct StoreConformanceTests {
    @Test("binary data round-trips through put, get and head", arguments: StoreBackends.all)
    func binaryRoundTrip(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            var bytes = Data((0...255).map { UInt8($0) })
            var generator = SplitMix64(seed: 42)
            bytes.append(contentsOf: (0..<100_000).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
            try await store.put(bytes, key: "uploads/photo 1.jpg", contentType: "image/jpeg")
            #expect(try await store.get(key: "uploads/photo 1.jpg") == bytes)
            let head = try #require(try await store.head(key: "uploads/photo 1.jpg"))
            #expect(head.key == "uploads/photo 1.jpg")
            #expect(head.size == Int64(bytes.count))
            #expect(head.contentType == "image/jpeg")
            #expect(head.eTag?.isEmpty == false)
            #expect(abs(head.lastModified.timeIntervalSinceNow) < 3600)
        }
    }

    @Test("an empty object is an object", arguments: StoreBackends.all)
    func emptyObject(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await store.put(Data(), key: "empty", contentType: nil)
            #expect(try await store.get(key: "empty") == Data())
            #expect(try await store.head(key: "empty")?.size == 0)
            #expect(try await store.list(prefix: "").map(\.key) == ["empty"])
        }
    }

    @Test("missing objects: get throws notFound, head is nil, delete succeeds", arguments: StoreBackends.all)
    func missing(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            await #expect(throws: ObjectStoreError.notFound("results/none.json")) {
                _ = try await store.get(key: "results/none.json")
            }
            #expect(try await store.head(key: "results/none.json") == nil)
            try await store.delete(key: "results/none.json")
            #expect(try await store.list(prefix: "").isEmpty)
        }
    }

    @Test("delete removes an object and is idempotent", arguments: StoreBackends.all)
    func delete(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await store.put(Data("x".utf8), key: "a/b/c.txt", contentType: "text/plain")
            try await store.put(Data("y".utf8), key: "a/b/d.txt", contentType: "text/plain")
            try await store.delete(key: "a/b/c.txt")
            try await store.delete(key: "a/b/c.txt")
            await #expect(throws: ObjectStoreError.notFound("a/b/c.txt")) { _ = try await store.get(key: "a/b/c.txt") }
            #expect(try await store.head(key: "a/b/c.txt") == nil)
            #expect(try await store.list(prefix: "a/").map(\.key) == ["a/b/d.txt"])
        }
    }

    @Test("put overwrites bytes, size, content type and eTag", arguments: StoreBackends.all)
    func overwrite(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await store.put(Data("first version".utf8), key: "k.json", contentType: "application/json")
            let before = try #require(try await store.head(key: "k.json"))
            try await store.put(Data("second".utf8), key: "k.json", contentType: "text/plain")
            #expect(try await store.get(key: "k.json") == Data("second".utf8))
            let after = try #require(try await store.head(key: "k.json"))
            #expect(after.size == 6)
            #expect(after.contentType == "text/plain")
            #expect(after.eTag != before.eTag)
            #expect(try await store.list(prefix: "").count == 1)
        }
    }

    @Test("list returns exactly the keys under a prefix, sorted by UTF-8 bytes", arguments: StoreBackends.all)
    func listPrefix(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            // "a" and "a/b" coexist on S3; "Z" < "a" < "é" in UTF-8 byte order.
            let keys = ["p/a", "p/Z", "p/é.jpg", "p/a/b", "p/a-1", "p/a/c/d", "pq", "q/p/a", "p0"]
            for key in keys { try await store.put(Data(key.utf8), key: key, contentType: nil) }
            let all = try await store.list(prefix: "")
            #expect(all.map(\.key) == keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            #expect(try await store.list(prefix: "p/").map(\.key) == ["p/Z", "p/a", "p/a-1", "p/a/b", "p/a/c/d", "p/é.jpg"])
            #expect(try await store.list(prefix: "p/a").map(\.key) == ["p/a", "p/a-1", "p/a/b", "p/a/c/d"])
            #expect(try await store.list(prefix: "p/a/").map(\.key) == ["p/a/b", "p/a/c/d"])
            #expect(try await store.list(prefix: "p").count == 8)
            #expect(try await store.list(prefix: "nothing").isEmpty)
            let entry = try #require(all.first { $0.key == "p/a/c/d" })
            #expect(entry.size == Int64("p/a/c/d".utf8.count))
            #expect(try await store.get(key: "p/a") == Data("p/a".utf8))
        }
    }

    @Test("list returns every key past S3's 1000-key page", arguments: StoreBackends.all)
    func listBeyondOnePage(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let count = 1_050
            let keys = (0..<count).map { String(format: "many/%05d.bin", $0) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for chunk in stride(from: 0, to: count, by: count / 8 + 1) {
                    let slice = keys[chunk..<min(chunk + count / 8 + 1, count)]
                    group.addTask {
                        for key in slice { try await store.put(Data(key.utf8), key: key, contentType: nil) }
                    }
                }
                try await group.waitForAll()
            }
            try await store.put(Data(), key: "other/x", contentType: nil)
            let listed = try await store.list(prefix: "many/")
            #expect(listed.count == count)
            #expect(listed.map(\.key) == keys)
        }
    }

    // MARK: Helpers

    private func withStore(_ backend: StoreBackend, _ body: (any ObjectStore) async throws -> Void) async throws {
        let fixture = try await backend.make()
        do {
            try await body(fixture.store)
        } catch {
            await fixture.cleanup()
            throw error
        }
        await fixture.cleanup()
    }
}

/// A small deterministic generator for test bytes.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
