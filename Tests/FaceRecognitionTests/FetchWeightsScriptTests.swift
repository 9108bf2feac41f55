import Foundation
import Testing

/// weights/fetch_facenet_weights.sh fails cleanly (one-line reason, non-zero exit, no partial
/// file) and installs only a file that passes its checks.
@Suite("weights/fetch_facenet_weights.sh", .ownThreads)
struct FetchWeightsScriptTests {
    static let script = TestPaths.packageRoot.appendingPathComponent("weights/fetch_facenet_weights.sh")

    static func run(url: String, dest: URL) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["bash", script.path, dest.path]
        var environment = ProcessInfo.processInfo.environment
        environment["FACENET_WEIGHTS_URL"] = url
        process.environment = environment
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stderr, as: UTF8.self))
    }

    /// The last stderr line, the reason.
    static func reason(_ stderr: String) -> String { String(stderr.split(separator: "\n").last ?? "") }

    @Test("an unreachable URL: exit non-zero, a one-line reason, nothing left in the folder")
    func unreachable() throws {
        let dir = try CLITests.scratch("fetch")
        defer { try? FileManager.default.removeItem(at: dir) }
        let dest = dir.appendingPathComponent("20180402-114759-vggface2.pt")
        let result = try Self.run(url: "http://127.0.0.1:9/20180402-114759-vggface2.pt", dest: dest)
        #expect(result.status != 0)
        #expect(Self.reason(result.stderr).hasPrefix("fetch_facenet_weights.sh: cannot download http://127.0.0.1:9/"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 2, "a progress line and the reason: \(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test("a download of the wrong size or structure is refused and removed; a checkpoint-shaped one is installed")
    func checks() throws {
        let fm = FileManager.default
        let dir = try CLITests.scratch("fetch")
        defer { try? fm.removeItem(at: dir) }
        let served = try CLITests.scratch("served")
        defer { try? fm.removeItem(at: served) }
        let dest = dir.appendingPathComponent("vggface2.pt")

        // Too small: the course data.pt.
        let small = try Self.run(url: GalleryTests.coursePT.absoluteString, dest: dest)
        #expect(small.status != 0)
        #expect(Self.reason(small.stderr).contains("not the ~107 MB checkpoint"), "\(small.stderr)")

        // The right size but not a PyTorch file (sparse, so cheap).
        func sparse(_ name: String, head: [UInt8]) throws -> URL {
            let url = served.appendingPathComponent(name)
            try Data(head).write(to: url)
            let handle = try FileHandle(forWritingTo: url)
            try handle.truncate(atOffset: 107_000_000)
            try handle.close()
            return url
        }
        let junk = try Self.run(url: try sparse("junk.pt", head: Array("GIF89a".utf8)).absoluteString, dest: dest)
        #expect(junk.status != 0)
        #expect(Self.reason(junk.stderr).contains("is not a PyTorch checkpoint"), "\(junk.stderr)")
        #expect(try fm.contentsOfDirectory(atPath: dir.path).isEmpty)

        // A legacy torch.save header and the right size passes and is renamed into place.
        let legacy: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
        let good = try Self.run(url: try sparse("legacy.pt", head: legacy).absoluteString, dest: dest)
        #expect(good.status == 0, "\(good.stderr)")
        #expect(try fm.contentsOfDirectory(atPath: dir.path) == ["vggface2.pt"])
        #expect((try fm.attributesOfItem(atPath: dest.path)[.size] as? Int) == 107_000_000)
    }
}
