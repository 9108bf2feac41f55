import CloudPipeline
import CloudPipelineTestSupport
import FaceRecognitionService
import Foundation
import Testing

/// The executables as people run them: `facerec-server` on the embedded default with its
/// auto-scaled `facerec-worker` processes, and workers killed mid-job.
@Suite("End to end (embedded)", .serialized)
struct EndToEndTests {
    static func bin(_ name: String) -> URL { ServiceFixtures.binaries.appendingPathComponent(name) }

    static var recognitionArguments: [String] {
        get throws {
            ["--weights", try ServiceFixtures.weightsFile.path, "--gallery", ServiceFixtures.gallery.path,
             "--mtcnn-weights", ServiceFixtures.mtcnnDirectory.path]
        }
    }

    static func queues(_ directory: URL) throws -> (input: SQLiteMessageQueue, output: SQLiteMessageQueue, deadLetter: SQLiteMessageQueue) {
        let path = directory.appendingPathComponent("queues.sqlite").path
        return (try SQLiteMessageQueue(path: path, name: LocalPipelineLayout.inputQueue),
                try SQLiteMessageQueue(path: path, name: LocalPipelineLayout.outputQueue),
                try SQLiteMessageQueue(path: path, name: LocalPipelineLayout.deadLetterQueue))
    }

    @Test("100 concurrent uploads to POST / are all answered as `facerec identify` answers them; nothing is left queued")
    func embeddedService() async throws {
        let directory = try LocalTestDirectory.make("e2e")
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try ChildProcess(Self.bin("facerec-server"),
                                      ["--port", "0", "--data-dir", directory.path, "--min-workers", "1", "--max-workers", "2",
                                       "--jobs-per-worker", "10", "--scale-in-cooldown", "2", "--result-timeout", "900"]
                                      + Self.recognitionArguments,
                                      stderr: directory.appendingPathComponent("server.log"))
        let line = try #require(await server.waitForLine { $0.contains("listening on") })
        let url = try #require(listeningURL(line))

        let files = try ServiceFixtures.images(100)
        let client = UploadClient(baseURL: url, timeout: 900)
        let results = await client.uploadAll(files, concurrency: 100)
        var answers: [String] = []
        for (file, result) in zip(files, results) {
            switch result {
            case .success(let answer):
                #expect(answer.status == 200, "\(file.lastPathComponent): \(answer.body)")
                answers.append(answer.body)
            case .failure(let error):
                Issue.record("\(file.lastPathComponent): \(error)")
            }
        }
        let expected = try await ServiceFixtures.identify(files)
        #expect(expected.count == 100)
        #expect(ServiceFixtures.lines(answers) == expected)

        let queues = try Self.queues(directory)
        #expect(try await queues.input.depth().total == 0)
        #expect(await eventually { (try? await queues.output.depth().total) == 0 })
        #expect(try await queues.deadLetter.depth().total == 0)
        // The backlog of 100 made the scaler start the second worker.
        let serverLog = try String(contentsOf: directory.appendingPathComponent("server.log"), encoding: .utf8)
        #expect(serverLog.contains("desired 2: launch 1"))

        server.signal(SIGTERM)
        #expect(await server.waitForExit() == 0)
        // Every worker finished its jobs and exited on the server's SIGTERM.
        let logs = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("logs").path)
        #expect(logs.count >= 2)
        for log in logs {
            let text = try String(contentsOf: directory.appendingPathComponent("logs").appendingPathComponent(log), encoding: .utf8)
            #expect(text.contains("worker stopped"), "\(log)")
        }
    }

    @Test("a worker killed with SIGKILL mid-job loses nothing: the job returns after its visibility timeout and is done once more")
    func killedWorker() async throws {
        let directory = try LocalTestDirectory.make("e2e-kill")
        defer { try? FileManager.default.removeItem(at: directory) }
        let backend = PipelineBackend.local(LocalPipelineLayout(dataDirectory: directory))
        _ = try await PipelineSetup(settings: .init(visibilityTimeout: .seconds(3), maxReceiveCount: 5)).run(backend)
        let pipeline = try Pipeline.open(backend)
        // A large photo, so that the worker is surely still on it when it is killed.
        let photo = AWSTestPaths.data("photos/multiface.jpg")
        try await pipeline.inputStore.put(try Data(contentsOf: photo), key: "multiface.jpg")
        try await pipeline.input.send("multiface.jpg")

        let workerArguments = try Self.recognitionArguments + ["--data-dir", directory.path]
        let doomed = try ChildProcess(Self.bin("facerec-worker"), workerArguments + ["--visibility-timeout", "3"], stderr: directory.appendingPathComponent("doomed.log"))
        #expect(await eventually(timeout: .seconds(120)) { (try? await pipeline.input.depth().inFlight) == 1 })
        doomed.signal(SIGKILL)
        _ = await doomed.waitForExit()
        // Killed before it could write anything.
        #expect(try await pipeline.outputStore.head(key: "multiface") == nil)

        // The survivor leases for 30 s (renewed every 10): with the doomed worker's 3 s lease, a
        // loaded machine that delays one renewal by 2 s hands the job to a second slot, a
        // duplicate answer at-least-once delivery allows but this test does not.
        let survivor = try ChildProcess(Self.bin("facerec-worker"), workerArguments + ["--visibility-timeout", "30"], stderr: directory.appendingPathComponent("survivor.log"))
        #expect(await eventually(timeout: .seconds(180)) { (try? await pipeline.input.depth().total) == 0 })
        survivor.signal(SIGTERM)
        #expect(await survivor.waitForExit() == 0)
        let label = String(decoding: try await pipeline.outputStore.get(key: "multiface"), as: UTF8.self)
        let lines = try await drain(pipeline.output)
        #expect(lines == ["multiface:\(label)"])
        let log = try String(contentsOf: directory.appendingPathComponent("survivor.log"), encoding: .utf8)
        #expect(log.contains("receive-count=2"))
    }

    @Test("a corrupt image ends in the dead-letter queue with an error result")
    func corruptImage() async throws {
        let directory = try LocalTestDirectory.make("e2e-corrupt")
        defer { try? FileManager.default.removeItem(at: directory) }
        let backend = PipelineBackend.local(LocalPipelineLayout(dataDirectory: directory))
        _ = try await PipelineSetup(settings: .init(visibilityTimeout: .seconds(10), maxReceiveCount: 2)).run(backend)
        let pipeline = try Pipeline.open(backend)
        var corrupt = try Data(contentsOf: try ServiceFixtures.images(1)[0])
        corrupt.replaceSubrange(200..<corrupt.count, with: Data(repeating: 0, count: 64))
        try await pipeline.inputStore.put(corrupt, key: "corrupt.jpg")
        try await pipeline.input.send("corrupt.jpg")
        let worker = try ChildProcess(Self.bin("facerec-worker"), Self.recognitionArguments + ["--data-dir", directory.path],
                                      stderr: directory.appendingPathComponent("worker.log"))
        let deadLetter = try #require(pipeline.deadLetter)
        #expect(await eventually(timeout: .seconds(120)) { (try? await deadLetter.depth().total) == 1 })
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit() == 0)
        #expect(try await pipeline.input.depth().total == 0)
        let result = String(decoding: try await pipeline.outputStore.get(key: "corrupt"), as: UTF8.self)
        #expect(result.hasPrefix("error: not a decodable image"))
        #expect(try await drain(pipeline.output) == ["corrupt:Error"])
    }

    private func drain(_ queue: any MessageQueue) async throws -> [String] {
        var bodies: [String] = []
        while let message = try await queue.receive(maxMessages: 1, waitTime: .zero, visibilityTimeout: nil).first {
            bodies.append(message.body)
            try await queue.delete(receiptHandle: message.receiptHandle)
        }
        return bodies
    }
}
