import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Testing

/// Behaviour specific to ``DirectoryObjectStore``: keys can never reach outside the root,
/// symbolic links inside the root are refused, writes leave no debris, data survives a reopen.
@Suite("DirectoryObjectStore")
struct LocalStoreTests {
    let directory: URL
    let root: URL
    /// A sibling of the root that an escaping key would reach.
    let outside: URL

    init() throws {
        directory = try LocalTestDirectory.make("directory-store")
        root = directory.appendingPathComponent("root")
        outside = directory.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
    }

    static let escapingKeys: [String] = [
        "..", "../x", "a/../../b", "../../outside/x", "/etc/passwd", "/x", "a//b", "a/", ".", "./a", "a/./b",
        "a\\..\\b", "..\\outside\\x", "a\u{0}b", "a\u{0}/../x", "a\nb", "a\u{7F}b", "a\u{85}b",
        "..\u{2215}outside\u{2215}x", "..\u{FF0F}x", "\u{2024}\u{2024}/x", "\u{FF0E}\u{FF0E}/x", "\u{2025}/x",
        "a\u{2044}b", "a\u{FE52}\u{FE52}", "x\u{202E}gpj.exe", "a\u{2028}b", "",
        String(repeating: "a", count: 201), String(repeating: "a/", count: 600) + "a",
    ]

    @Test("keys that could escape the root are rejected by every operation", arguments: escapingKeys)
    func escapeAttempts(key: String) async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try DirectoryObjectStore(root: root)
        func isInvalidKey(_ body: () async throws -> Void) async -> Bool {
            do { try await body(); return false } catch let ObjectStoreError.invalidKey(rejected, _) { return rejected == key } catch { return false }
        }
        #expect(await isInvalidKey { try await store.put(Data("evil".utf8), key: key, contentType: nil) })
        #expect(await isInvalidKey { _ = try await store.get(key: key) })
        #expect(await isInvalidKey { _ = try await store.head(key: key) })
        #expect(await isInvalidKey { try await store.delete(key: key) })
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)
        #expect(try await store.list(prefix: "").isEmpty)
    }

    @Test("percent-encoded dots stay literal")
    func percentEncodingIsLiteral() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try DirectoryObjectStore(root: root)
        try await store.put(Data("literal".utf8), key: "%2e%2e/%2E%2E/x", contentType: nil)
        #expect(try await store.get(key: "%2e%2e/%2E%2E/x") == Data("literal".utf8))
        #expect(try await store.list(prefix: "").map(\.key) == ["%2e%2e/%2E%2E/x"])
        let onDisk = root.appendingPathComponent("objects/%2e%2e~d/%2E%2E~d/x~o")
        #expect(FileManager.default.fileExists(atPath: onDisk.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)
    }

    @Test("a symbolic link planted inside the root is refused, not followed")
    func symlinksInsideRoot() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try DirectoryObjectStore(root: root)
        let objects = root.appendingPathComponent("objects")
        // A directory link: "evil/x" would be written into `outside`.
        try FileManager.default.createSymbolicLink(atPath: objects.appendingPathComponent("evil~d").path,
                                                   withDestinationPath: outside.path)
        // An object link: "secret" would read a file outside the root.
        let secret = outside.appendingPathComponent("secret.txt")
        try Data("top secret".utf8).write(to: secret)
        try FileManager.default.createSymbolicLink(atPath: objects.appendingPathComponent("secret~o").path,
                                                   withDestinationPath: secret.path)

        await #expect(throws: ObjectStoreError.self) { try await store.put(Data("x".utf8), key: "evil/x", contentType: nil) }
        await #expect(throws: ObjectStoreError.self) { _ = try await store.get(key: "evil/x") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path) == ["secret.txt"])
        await #expect(throws: ObjectStoreError.self) { _ = try await store.get(key: "secret") }
        await #expect(throws: ObjectStoreError.self) { _ = try await store.head(key: "secret") }
        #expect(try await store.list(prefix: "").isEmpty)
        // Overwriting replaces the link itself; the outside file is untouched.
        try await store.put(Data("mine".utf8), key: "secret", contentType: nil)
        #expect(try await store.get(key: "secret") == Data("mine".utf8))
        #expect(try Data(contentsOf: secret) == Data("top secret".utf8))
    }

    @Test("keys are NFC-normalised: composed and decomposed spellings name one object")
    func unicodeNormalisation() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try DirectoryObjectStore(root: root)
        let decomposed = "caf\u{65}\u{301}/r\u{E9}sum\u{65}\u{301}.txt"
        let composed = "caf\u{E9}/r\u{E9}sum\u{E9}.txt"
        #expect(Array(decomposed.utf8) != Array(composed.utf8))
        try await store.put(Data("one".utf8), key: decomposed, contentType: "text/plain")
        #expect(try await store.get(key: composed) == Data("one".utf8))
        #expect(try await store.list(prefix: "caf\u{65}\u{301}/").map { Array($0.key.utf8) } == [Array(composed.utf8)])
    }

    @Test("data and metadata survive reopening the store; no temporary files remain")
    func reopen() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let payload = Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        do {
            let store = try DirectoryObjectStore(root: root)
            try await store.put(payload, key: "results/job-1.json", contentType: "application/json")
            try await store.put(payload + payload, key: "results/job-1.json", contentType: "application/json")
        }
        let reopened = try DirectoryObjectStore(root: root)
        #expect(try await reopened.get(key: "results/job-1.json") == payload + payload)
        let head = try #require(try await reopened.head(key: "results/job-1.json"))
        #expect(head.contentType == "application/json")
        #expect(head.size == 10_000)
        let files = try FileManager.default.subpathsOfDirectory(atPath: root.path)
        #expect(!files.contains { $0.hasSuffix("~t") })
        #expect(Set(files) == ["objects", "objects/results~d", "objects/results~d/job-1.json~o", "objects/results~d/job-1.json~m"])
    }

    @Test("a sidecar that does not match the data is ignored, the data still served")
    func staleSidecar() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try DirectoryObjectStore(root: root)
        try await store.put(Data("short".utf8), key: "k", contentType: "text/plain")
        // Simulate a crash between the data rename and the sidecar rename of a later put.
        try Data("a longer replacement".utf8).write(to: root.appendingPathComponent("objects/k~o"))
        let head = try #require(try await store.head(key: "k"))
        #expect(head.size == 20)
        #expect(head.eTag == nil)
        #expect(head.contentType == nil)
        #expect(try await store.get(key: "k") == Data("a longer replacement".utf8))
    }

    @Test("eTag is the first 32 hex digits of the SHA-256 of the bytes")
    func eTagIsContentHash() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try DirectoryObjectStore(root: root)
        try await store.put(Data("abc".utf8), key: "a", contentType: nil)
        try await store.put(Data("abc".utf8), key: "b", contentType: nil)
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        #expect(try await store.head(key: "a")?.eTag == "ba7816bf8f01cfea414140de5dae2223")
        #expect(try await store.head(key: "b")?.eTag == "ba7816bf8f01cfea414140de5dae2223")
    }

    @Test("delete removes the directories it leaves empty, and only those")
    func deleteCleansEmptyDirectories() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try DirectoryObjectStore(root: root)
        let objects = root.appendingPathComponent("objects").path
        try await store.put(Data("1".utf8), key: "a/b/c/d", contentType: nil)
        try await store.put(Data("2".utf8), key: "a/x", contentType: nil)
        try await store.delete(key: "a/b/c/d")
        #expect(Set(try FileManager.default.subpathsOfDirectory(atPath: objects)) == ["a~d", "a~d/x~o", "a~d/x~m"])
        try await store.delete(key: "a/x")
        #expect(try FileManager.default.subpathsOfDirectory(atPath: objects).isEmpty)
    }

    @Test("puts and deletes racing in shared directories all succeed and lose nothing")
    func concurrentPutsAndDeletes() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try DirectoryObjectStore(root: root)
        // Every task works under the same deep prefix, so deletes keep removing directories
        // that other tasks' puts are about to use.
        let kept = try await withThrowingTaskGroup(of: [String].self) { group in
            for worker in 0..<4 {
                group.addTask {
                    var kept: [String] = []
                    for round in 0..<60 {
                        let key = "shared/deep/dir/w\(worker)-\(round)"
                        let payload = Data(key.utf8)
                        try await store.put(payload, key: key, contentType: nil)
                        #expect(try await store.get(key: key) == payload)
                        if round % 10 == 9 { kept.append(key) } else { try await store.delete(key: key) }
                    }
                    return kept
                }
            }
            var all: [String] = []
            for try await keys in group { all += keys }
            return all
        }
        #expect(try await store.list(prefix: "").map(\.key) == kept.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        for key in kept { #expect(try await store.get(key: key) == Data(key.utf8)) }
    }

    @Test("sweeping removes only old temporary files left by crashed puts")
    func sweepTemporaryFiles() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try DirectoryObjectStore(root: root)
        try await store.put(Data("kept".utf8), key: "d/k", contentType: nil)
        let folder = root.appendingPathComponent("objects/d~d")
        let old = folder.appendingPathComponent("0123456789abcdef0123456789abcdef~t")
        let fresh = folder.appendingPathComponent("fedcba9876543210fedcba9876543210~t")
        try Data("partial".utf8).write(to: old)
        try Data("in progress".utf8).write(to: fresh)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -7200)], ofItemAtPath: old.path)
        #expect(try await store.list(prefix: "").map(\.key) == ["d/k"])
        #expect(try await store.sweepTemporaryFiles(olderThan: .seconds(3600)) == 1)
        #expect(!FileManager.default.fileExists(atPath: old.path))
        #expect(FileManager.default.fileExists(atPath: fresh.path))
        #expect(try await store.get(key: "d/k") == Data("kept".utf8))
    }
}
