import CloudPipeline
import CloudPipelineTestSupport
import FaceRecognitionService
import Foundation
import Testing

/// What the service's executables print when they cannot start: one line beginning with their
/// own name (as `facerec`'s begin with `facerec: `), and a status that tells systemd whether
/// restarting can help.
@Suite("Service executables: start-up messages")
struct ExecutableMessagesTests {
    struct Run {
        let status: Int32
        let stderr: String
    }

    /// Runs `name` in an empty folder with an empty home, no `FACEREC_*` or cloud variables.
    static func run(_ name: String, _ arguments: [String], dataDirectory: Bool = true) async throws -> (Run, URL) {
        let directory = try LocalTestDirectory.make("startup-\(name)")
        var environment = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("FACEREC_") && !$0.key.hasPrefix("AWS_") && $0.key != "XDG_DATA_HOME"
                && !PipelineBackend.cloudVariables.contains($0.key)
        }
        environment["HOME"] = directory.path
        let log = directory.appendingPathComponent("stderr.log")
        let child = try ChildProcess(ServiceFixtures.binaries.appendingPathComponent(name),
                                     arguments + (dataDirectory ? ["--data-dir", directory.appendingPathComponent("data").path] : []),
                                     environment: environment, stderr: log, currentDirectory: directory)
        let status = await child.waitForExit(timeout: .seconds(120))
        if child.process.isRunning { child.signal(SIGKILL) }
        return (Run(status: status ?? -1, stderr: try String(contentsOf: log, encoding: .utf8)), directory)
    }

    @Test("no MTCNN weights anywhere: facerec-server names every folder it searched, as facerec does, and exits 78")
    func mtcnnWeightsMissing() async throws {
        let (run, directory) = try await Self.run("facerec-server", ["--port", "0"])
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(run.status == StartupChecks.configurationExitCode, "\(run.stderr)")
        let line = run.stderr.split(separator: "\n").first { $0.contains("MTCNN weights not found") }.map(String.init) ?? ""
        #expect(line.hasPrefix("facerec-server: MTCNN weights not found"), "\(run.stderr)")
        let home = directory.resolvingSymlinksInPath().path
        #expect(line.contains(home + "/weights") || line.contains(directory.path + "/weights"), "\(line)")
        #expect(line.contains("/.local/share/facerec/weights"), "\(line)")
        #expect(!run.stderr.contains("Error: "), "ArgumentParser's prefix: \(run.stderr)")
    }

    @Test("FaceNet weights that do not exist: facerec-server names the file and exits 78")
    func faceNetWeightsMissing() async throws {
        let missing = "/nonexistent/facenet.pt"
        let (run, directory) = try await Self.run("facerec-server", [
            "--port", "0", "--weights", missing, "--gallery", ServiceFixtures.gallery.path,
            "--mtcnn-weights", ServiceFixtures.mtcnnDirectory.path,
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(run.status == StartupChecks.configurationExitCode, "\(run.stderr)")
        #expect(run.stderr.contains("facerec-server: FaceNet weights not found at \(missing)"), "\(run.stderr)")
    }

    @Test("a usage error: the executable's name, the usage line, exit 64", arguments: ["facerec-server", "facerec-worker", "facerec-autoscaler", "facerec-send"])
    func usageError(_ name: String) async throws {
        // facerec-send's one required argument given, so that the unknown flag is the only mistake.
        let required = name == "facerec-send" ? ["photos"] : []
        let (run, directory) = try await Self.run(name, required + ["--no-such-flag"], dataDirectory: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(run.status == 64, "\(run.stderr)")
        #expect(run.stderr.hasPrefix("\(name): Unknown option '--no-such-flag'"), "\(run.stderr)")
        #expect(run.stderr.contains("Usage: \(name)"), "\(run.stderr)")
    }
}
