import CloudPipeline
import CloudPipelineTestSupport
import FaceRecognitionService
import Foundation
import Testing

/// Hostile names through the real upload API: whatever a client calls its file, the object is
/// stored as `uploads/<uuid>/<safe name>` inside the input bucket and nothing lands elsewhere.
@Suite("Upload API security", .serialized)
struct UploadSecurityTests {
    /// Names with `..`, absolute paths, backslashes, NUL, Unicode look-alikes of `/` and `.`, a
    /// bidirectional override, a percent-encoded traversal, and one far too long.
    static let hostileNames: [String] = [
        "../../etc/passwd.jpg", "/etc/passwd.jpg", "..\\..\\windows\\win.ini.jpg", "a\u{0}b.jpg", "\u{0}",
        "..\u{2215}..\u{2215}outside.jpg", "\u{FF0E}\u{FF0E}\u{FF0F}x.jpg", "\u{2024}\u{2024}", "x\u{202E}gpj.exe",
        "..", ".", "", "%2e%2e%2fx.jpg", "uploads/../../x.jpg", "C:\\Users\\me\\face.png", ".hidden.jpg",
        String(repeating: "a", count: 300) + ".jpg",
    ]

    /// What a stored key must look like.
    static func isSafeKey(_ key: String) -> Bool {
        let segments = key.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard segments.count == 3, segments[0] == UploadNaming.prefix, UploadNaming.isValidID(segments[1]) else { return false }
        let name = segments[2]
        return !name.isEmpty && !name.hasPrefix(".") && name.utf8.count <= UploadNaming.maxNameBytes
            && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0) }
            && (try? ObjectKey(key).rawValue) == key
    }

    static func percentEncoded(_ text: String) -> String {
        let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
        return text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    @Test("hostile names, raw (?filename=) and in forms, are stored as uploads/<uuid>/<safe name>; nothing lands outside the bucket")
    func hostileNamesStayInside() async throws {
        let harness = try await UploadAPITests.Harness(startWorker: false)
        let image = try Data(contentsOf: try ServiceFixtures.images(1)[0])
        var stored: [String: String] = [:]  // key -> the name the client sent
        var accepted = 0
        for name in Self.hostileNames {
            let raw = try await harness.request("POST", "/v1/images?filename=\(Self.percentEncoded(name))", body: image, contentType: "image/jpeg")
            #expect(raw.status == 202, "raw upload named \(name.debugDescription): \(raw.status)")
            let boundary = "sec-\(UUID().uuidString)"
            let form = try await harness.request("POST", "/v1/images", body: UploadClient.multipartBody(image, field: "inputFile", filename: name, boundary: boundary),
                                                 contentType: "multipart/form-data; boundary=\(boundary)")
            // A NUL inside a part's headers may be refused as a malformed form; nothing else may fail.
            #expect(form.status == 202 || (name.contains("\u{0}") && form.status == 400), "form upload named \(name.debugDescription): \(form.status)")
            accepted += [raw, form].filter { $0.status == 202 }.count
            for reply in [raw, form] where reply.status == 202 {
                let json = try #require(try JSONSerialization.jsonObject(with: reply.body) as? [String: String])
                let key = try #require(json["key"])
                #expect(Self.isSafeKey(key), "\(name.debugDescription) was stored as \(key.debugDescription)")
                stored[key] = name
            }
        }
        #expect(stored.count == accepted && accepted >= Self.hostileNames.count + Self.hostileNames.count - 2)
        // Spot checks of the reduction: the last component, '_' for anything else, no leading dots.
        var names: [String: Set<String>] = [:]  // client's name -> stored last components
        for (key, name) in stored { names[name, default: []].insert(String(key.split(separator: "/")[2])) }
        #expect(names["../../etc/passwd.jpg"] == ["passwd.jpg"])
        #expect(names["/etc/passwd.jpg"] == ["passwd.jpg"])
        #expect(names["a\u{0}b.jpg"] == ["a_b.jpg"])
        #expect(names[".."] == ["image"])
        #expect(names[""] == ["image"])
        #expect(names["..\u{2215}..\u{2215}outside.jpg"] == ["_.._outside.jpg"])
        #expect(names[".hidden.jpg"] == ["hidden.jpg"])

        // The store holds exactly these keys, and on disk everything is under the input bucket's
        // uploads directory (the data dir holds nothing else but the queue database and buckets).
        let listed = try await harness.pipeline.inputStore.list(prefix: "").map(\.key)
        #expect(Set(listed) == Set(stored.keys))
        let objects = harness.directory.appendingPathComponent("buckets/input/objects")
        #expect(try FileManager.default.contentsOfDirectory(atPath: objects.path) == ["uploads~d"])
        let top = Set(try FileManager.default.contentsOfDirectory(atPath: harness.directory.path))
        #expect(top.subtracting(["buckets", "queues.sqlite", "queues.sqlite-wal", "queues.sqlite-shm", "logs"]).isEmpty, "\(top)")
        let buckets = Set(try FileManager.default.contentsOfDirectory(atPath: harness.directory.appendingPathComponent("buckets").path))
        #expect(buckets == ["input", "output"])
        #expect(try await harness.pipeline.outputStore.list(prefix: "").isEmpty)
        await harness.stop()
    }

    @Test("result ids that are not upload ids are 404, never a path into the store")
    func resultIDs() async throws {
        let harness = try await UploadAPITests.Harness(startWorker: false)
        for id in ["..", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "x%00y", "%E2%88%95etc", UploadNaming.newID().uppercased()] {
            let reply = try await harness.request("GET", "/v1/results/\(id)")
            #expect(reply.status == 404, "GET /v1/results/\(id): \(reply.status)")
        }
        await harness.stop()
    }
}
