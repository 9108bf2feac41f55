import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Testing

/// ``ProcessInstanceProvider`` against real child processes (`/bin/sh`).
@Suite("ProcessInstanceProvider")
struct LocalProcessProviderTests {
    static let shell = URL(fileURLWithPath: "/bin/sh")

    @Test("launch starts workers that know their id; terminate stops only the ones named")
    func launchAndTerminate() async throws {
        let directory = try LocalTestDirectory.make("process-provider")
        defer { try? FileManager.default.removeItem(at: directory) }
        // Each worker writes its id to a file named after it, then idles until signalled.
        let command = ProcessInstanceProvider.Command(
            executable: Self.shell,
            arguments: ["-c", #"echo "$FACEREC_WORKER_ID $EXTRA" > "$OUT/$FACEREC_WORKER_ID"; exec sleep 600"#],
            environment: ["OUT": directory.path, "EXTRA": "extra-value"])
        let provider = ProcessInstanceProvider(command: command, limit: 4)
        let launched = try await provider.launch(count: 3)
        #expect(launched.count == 3)
        #expect(Set(launched.map(\.id)).count == 3)
        #expect(try await provider.running().map(\.id) == launched.map(\.id).sorted())
        for worker in launched {
            let file = directory.appendingPathComponent(worker.id)
            #expect(try await eventually { FileManager.default.fileExists(atPath: file.path) && (try? String(contentsOf: file, encoding: .utf8))?.isEmpty == false })
            #expect(try String(contentsOf: file, encoding: .utf8) == "\(worker.id) extra-value\n")
        }

        let victim = launched[1]
        let pid = try #require(provider.processIdentifier(of: victim.id))
        try await provider.terminate([victim.id])
        #expect(try await provider.running().map(\.id) == [launched[0].id, launched[2].id].sorted())
        #expect(try await eventually { provider.all().first { $0.id == victim.id }?.state == .stopped })
        // Reaped: the pid no longer names a process (not even a zombie).
        #expect(kill(pid, 0) != 0)
        // Terminating again is fine; an id it never launched is not.
        try await provider.terminate([victim.id])
        await #expect(throws: InstanceProviderError.unknownInstance("i-0123456789")) {
            try await provider.terminate([launched[0].id, "i-0123456789"])
        }
        // The failed call touched nothing.
        #expect(try await provider.running().count == 2)

        try await provider.terminateAll()
        #expect(try await provider.running().isEmpty)
        #expect(try await eventually { provider.all().allSatisfy { $0.state == .stopped } })
    }

    @Test("workers that exit on their own drop out of running()")
    func exitedWorkers() async throws {
        let provider = ProcessInstanceProvider(command: .init(executable: Self.shell, arguments: ["-c", "exit 0"]))
        let launched = try await provider.launch(count: 2)
        #expect(launched.count == 2)
        #expect(try await eventually { try await provider.running().isEmpty })
    }

    @Test("bad counts and unstartable commands are typed errors")
    func errors() async throws {
        let provider = ProcessInstanceProvider(command: .init(executable: Self.shell, arguments: ["-c", "exit 0"]), limit: 3)
        await #expect(throws: InstanceProviderError.invalidCount(0, limit: 3)) { _ = try await provider.launch(count: 0) }
        await #expect(throws: InstanceProviderError.invalidCount(4, limit: 3)) { _ = try await provider.launch(count: 4) }
        let missing = ProcessInstanceProvider(command: .init(executable: URL(fileURLWithPath: "/nonexistent/worker")))
        do {
            _ = try await missing.launch(count: 1)
            Issue.record("launching a missing executable succeeded")
        } catch let InstanceProviderError.backend(operation, detail) {
            #expect(operation == "launch")
            #expect(detail.contains("/nonexistent/worker"))
        }
        #expect(try await missing.running().isEmpty)
    }

    @Test("worker output goes to <logDirectory>/<id>.log")
    func logs() async throws {
        let directory = try LocalTestDirectory.make("process-logs")
        defer { try? FileManager.default.removeItem(at: directory) }
        let provider = ProcessInstanceProvider(
            command: .init(executable: Self.shell, arguments: ["-c", #"echo "out $FACEREC_WORKER_ID"; echo err >&2"#]),
            logDirectory: directory)
        let worker = try #require(try await provider.launch(count: 1).first)
        let log = directory.appendingPathComponent("\(worker.id).log")
        #expect(try await eventually { provider.all().first?.state == .stopped })
        let text = try String(contentsOf: log, encoding: .utf8)
        #expect(text.contains("out \(worker.id)\n"))
        #expect(text.contains("err\n"))
    }
}
