import CloudPipeline
import CloudPipelineTestSupport
import FaceRecognition
import FaceRecognitionService
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// Files and processes the service tests share.
enum ServiceFixtures {
    static let packageRoot = AWSTestPaths.packageRoot
    static let mtcnnDirectory = packageRoot.appendingPathComponent("weights")
    static let gallery = AWSTestPaths.data("data.pt")
    static let faceImages = AWSTestPaths.data("face_images_100")
    /// Whether `python3` can import every one of `modules` (the real clients some tests drive).
    static func pythonCanImport(_ modules: String...) -> Bool {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import " + modules.joined(separator: ", ")]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return false }
        probe.waitUntilExit()
        return probe.terminationStatus == 0
    }

    /// The executables, built next to the test bundle.
    static let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()

    /// FaceNet weights for the tests: the deterministic synthetic set (the real vggface2 weights
    /// cannot be downloaded here), written once per test process and removed when it exits. Everything compared in these
    /// tests uses the same file, so names are consistent even though they are not meaningful.
    /// A failure (a missing fixture) fails the tests that need the file, not the process.
    static var weightsFile: URL { get throws { try writtenWeights.get() } }
    private static let writtenWeights = Result {
        let url = ProcessScratchFiles.url("facerec-service-weights.safetensors")
        let stats = try SafeTensors.read(contentsOf: packageRoot.appendingPathComponent("Tests/Fixtures/facenet/bn_statistics.safetensors"))
        try SafeTensors.write(try SyntheticFaceNetWeights.make(runningStatistics: stats), to: url)
        return url
    }

    /// The recognizer the API tests use in process (identify mode).
    static var engine: FaceRecognitionEngine { get throws { try loadedEngine.get() } }
    private static let loadedEngine = Result {
        let recognizer = FaceRecognizer(detector: try MTCNN(weightsDirectory: mtcnnDirectory),
                                        facenet: try FaceNet(contentsOf: try writtenWeights.get()),
                                        gallery: try Gallery.load(contentsOf: gallery))
        return FaceRecognitionEngine(mode: .identify(recognizer), lanes: 2)
    }

    /// The first `count` images of face_images_100, sorted.
    static func images(_ count: Int = 100) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(atPath: faceImages.path).filter { $0.hasSuffix(".jpg") }.sorted()
            .prefix(count).map { faceImages.appendingPathComponent($0) }
    }

    /// `facerec identify` on `files` with the test weights: stem → name.
    static func identify(_ files: [URL]) async throws -> [String: String] {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("identify-\(UUID().uuidString).txt")
        defer { try? FileManager.default.removeItem(at: output) }
        let status = try await runProcess(binaries.appendingPathComponent("facerec").path,
                                          ["identify", "--threshold", "none", "--weights", weightsFile.path, "--gallery", gallery.path,
                                           "--mtcnn-weights", mtcnnDirectory.path] + files.map(\.path),
                                          environment: ProcessInfo.processInfo.environment, stdout: output)
        guard status == 0 else { throw MotoUnavailable(description: "facerec identify exited with \(status)") }
        return lines(try String(contentsOf: output, encoding: .utf8).split(separator: "\n").map(String.init))
    }

    /// `STEM:NAME` lines → stem: name.
    static func lines(_ lines: [String]) -> [String: String] {
        var out: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            out[String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
        return out
    }
}

/// A running child process whose stdout is read line by line (the server prints its port).
final class ChildProcess: @unchecked Sendable {
    // @unchecked: `lines` is only touched under `lock`.
    let process = Process()
    private let lock = NSLock()
    private var lines: [String] = []
    private var partial = Data()

    init(_ executable: URL, _ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
         stderr: URL? = nil, currentDirectory: URL? = nil) throws {
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        let pipe = Pipe()
        process.standardOutput = pipe
        if let stderr {
            _ = FileManager.default.createFile(atPath: stderr.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: stderr)
        }
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock {
                self.partial.append(data)
                while let newline = self.partial.firstIndex(of: 10) {
                    self.lines.append(String(decoding: self.partial[..<newline], as: UTF8.self))
                    self.partial.removeSubrange(...newline)
                }
            }
        }
        try process.run()
    }

    var output: [String] { lock.withLock { lines } }

    /// Waits until a stdout line matches, for up to `timeout`.
    func waitForLine(timeout: Duration = .seconds(120), _ matches: (String) -> Bool) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = output.first(where: matches) { return line }
            if !process.isRunning { return output.first(where: matches) }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for exit (up to `timeout`); returns the status, or nil if still running.
    func waitForExit(timeout: Duration = .seconds(60)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        return process.isRunning ? nil : process.terminationStatus
    }
}

/// The port in "facerec-server listening on http://127.0.0.1:PORT ...".
func listeningURL(_ line: String) -> URL? {
    guard let start = line.range(of: "http://") else { return nil }
    let rest = line[start.lowerBound...]
    let end = rest.firstIndex(of: " ") ?? rest.endIndex
    return URL(string: String(rest[..<end]))
}

/// An application serving on a loopback port for one test. ``stop()`` shuts it down the way
/// SIGTERM does in production (a graceful shutdown of its service group: stop accepting, let
/// open requests finish, close), so a passing test logs no error; cancelling the task that runs
/// it instead closes the channel under the server, which logs "Waiting on child channel:
/// CancellationError()" and "Server shutdown error: Already closed" at error level.
struct ServedApplication: Sendable {
    let port: Int
    var baseURL: URL { URL(string: "http://127.0.0.1:\(port)")! }
    private let group: ServiceGroup
    private let running: Task<Void, Never>

    /// Starts the application `make` builds (handing it the listener callback), and returns
    /// once it listens.
    static func start<App: ApplicationProtocol>(_ make: (_ onListening: @escaping @Sendable (Int) -> Void) -> App) async throws
        -> ServedApplication {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let group = ServiceGroup(services: [make { continuation.yield($0) }], logger: Logger(label: "facerec.tests.server"))
        let running = Task {
            try? await group.run()
            continuation.finish()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            await running.value
            throw ServerDidNotStart()
        }
        return ServedApplication(port: port, group: group, running: running)
    }

    /// Shuts the server down gracefully and waits until it has.
    func stop() async {
        await group.triggerGracefulShutdown()
        await running.value
    }

    struct ServerDidNotStart: Error, CustomStringConvertible {
        var description: String { "the application stopped before it listened" }
    }
}
