import CloudPipeline
import CloudPipelineTestSupport
import FaceRecognition
import FaceRecognitionService
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// The upload API over a real socket, on the local backends, with an in-process worker running
/// the real engine (synthetic FaceNet weights, the course gallery).
@Suite("Upload API", .serialized)
struct UploadAPITests {
    /// A server + worker on a fresh local pipeline.
    final class Harness: @unchecked Sendable {
        let directory: URL
        let pipeline: Pipeline
        let baseURL: URL
        private let server: ServedApplication
        private let tasks: [Task<Void, Never>]

        init(configuration: UploadAPIConfiguration = .init(), startWorker: Bool = true, pipeline: Pipeline? = nil) async throws {
            directory = try LocalTestDirectory.make("upload-api")
            if let pipeline {
                self.pipeline = pipeline
            } else {
                let backend = PipelineBackend.local(LocalPipelineLayout(dataDirectory: directory))
                _ = try await PipelineSetup().run(backend)
                self.pipeline = try Pipeline.open(backend)
            }
            let pipeline = self.pipeline
            let engine = try ServiceFixtures.engine
            let waiter = ResultWaiter(output: pipeline.output, outputStore: pipeline.outputStore, storePollInterval: .milliseconds(200), receiveWaitTime: .seconds(1))
            let api = UploadAPI(pipeline: pipeline, engine: engine, waiter: waiter, metrics: ServiceMetrics(), configuration: configuration)
            server = try await ServedApplication.start { api.application(host: "127.0.0.1", port: 0, onListening: $0) }
            baseURL = server.baseURL
            var tasks: [Task<Void, Never>] = [Task { await waiter.run() }]
            if startWorker {
                let worker = RecognitionWorker(input: pipeline.input, output: pipeline.output, inputStore: pipeline.inputStore,
                                               outputStore: pipeline.outputStore, recognizer: engine,
                                               configuration: .init(concurrency: 2, receiveWaitTime: .seconds(1)))
                tasks.append(Task { await worker.run() })
            }
            self.tasks = tasks
        }

        func stop() async {
            await server.stop()
            tasks.forEach { $0.cancel() }
            for task in tasks { await task.value }
            try? FileManager.default.removeItem(at: directory)
        }

        func request(_ method: String, _ path: String, body: Data? = nil, contentType: String? = nil,
                     headers: [String: String] = [:]) async throws -> (status: Int, body: Data, headers: [AnyHashable: Any]) {
            var request = URLRequest(url: URL(string: path, relativeTo: baseURL)!)
            request.httpMethod = method
            request.httpBody = body
            if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
            for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
            let (data, response) = try await URLSession.shared.data(for: request)
            let http = response as? HTTPURLResponse
            return (http?.statusCode ?? 0, data, http?.allHeaderFields ?? [:])
        }

        func upload(_ data: Data, filename: String, field: String = "inputFile", path: String = "/",
                    headers: [String: String] = [:]) async throws -> (status: Int, text: String) {
            let boundary = "test-\(UUID().uuidString)"
            let body = UploadClient.multipartBody(data, field: field, filename: filename, boundary: boundary)
            let (status, reply, _) = try await request("POST", path, body: body, contentType: "multipart/form-data; boundary=\(boundary)",
                                                       headers: headers)
            return (status, String(decoding: reply, as: UTF8.self))
        }
    }

    static func expectedLabel(_ file: URL) async throws -> String {
        try await ServiceFixtures.engine.analyze(try Data(contentsOf: file)).label
    }

    @Test("POST / answers STEM:NAME once the worker is done; results are durable and queues end empty")
    func legacyContract() async throws {
        let harness = try await Harness()
        let files = try ServiceFixtures.images(4)
        for file in files {
            let reply = try await harness.upload(try Data(contentsOf: file), filename: file.lastPathComponent)
            let stem = file.deletingPathExtension().lastPathComponent
            #expect(reply.status == 200)
            #expect(reply.text == "\(stem):\(try await Self.expectedLabel(file))")
        }
        #expect(try await harness.pipeline.outputStore.list(prefix: "uploads/").count == 4)
        #expect(try await harness.pipeline.input.depth().total == 0)
        #expect(await eventually { (try? await harness.pipeline.output.depth().total) == 0 })
        await harness.stop()
    }

    @Test("limits: 413 beyond the size limit, 415 for non-images, 400 for malformed forms; nothing is stored")
    func limits() async throws {
        let harness = try await Harness(configuration: .init(maxBodyBytes: 64 * 1024, resultTimeout: .seconds(30)), startWorker: false)
        let big = Data(repeating: 0xAB, count: 100 * 1024)
        #expect(try await harness.upload(big, filename: "big.jpg").status == 413)
        #expect(try await harness.upload(Data("GIF89a not a jpeg".utf8), filename: "x.jpg").status == 415)
        let truncatedJPEG = try Data(contentsOf: ServiceFixtures.images(1)[0]).prefix(600)
        #expect(try await harness.upload(truncatedJPEG, filename: "cut.jpg").status == 415)
        #expect(try await harness.upload(Data("x".utf8), filename: "a.jpg", field: "other").status == 400)
        let plain = try await harness.request("POST", "/", body: Data("hello".utf8), contentType: "text/plain")
        #expect(plain.status == 400)
        let garbage = try await harness.request("POST", "/", body: Data("--nope".utf8), contentType: "multipart/form-data; boundary=XyZ")
        #expect(garbage.status == 400)
        // Error bodies are short messages, never stack traces or paths.
        let reply = try await harness.upload(Data("not an image".utf8), filename: "x.jpg")
        #expect(!reply.text.contains("/work/") && !reply.text.contains("Swift/") && reply.text.count < 400)
        #expect(try await harness.pipeline.inputStore.list(prefix: "").isEmpty)
        #expect(try await harness.pipeline.input.depth().total == 0)
        await harness.stop()
    }

    @Test("no result within the wait: 504 naming the job and its result URL (Location), where the answer is collected once a worker is done")
    func gatewayTimeout() async throws {
        let harness = try await Harness(configuration: .init(resultTimeout: .milliseconds(500)), startWorker: false)
        let file = try ServiceFixtures.images(1)[0]
        let boundary = "test-\(UUID().uuidString)"
        let reply = try await harness.request("POST", "/", body: UploadClient.multipartBody(try Data(contentsOf: file), field: "inputFile",
                                                                                           filename: file.lastPathComponent, boundary: boundary),
                                              contentType: "multipart/form-data; boundary=\(boundary)")
        #expect(reply.status == 504)
        #expect(try await harness.pipeline.input.depth().visible == 1)
        let location = try #require(reply.headers["Location"] as? String)
        let id = try #require(location.split(separator: "/").last.map(String.init))
        #expect(location == "/v1/results/\(id)" && UploadNaming.isValidID(id))
        #expect(String(decoding: reply.body, as: UTF8.self).contains("the job \(id) is still queued: GET \(location)"))
        #expect(try await harness.request("GET", location).status == 202)

        // A worker comes along later: the result is at the 504's Location.
        let worker = RecognitionWorker(input: harness.pipeline.input, output: harness.pipeline.output,
                                       inputStore: harness.pipeline.inputStore, outputStore: harness.pipeline.outputStore,
                                       recognizer: try ServiceFixtures.engine, configuration: .init(receiveWaitTime: .seconds(1)))
        let message = try #require(try await harness.pipeline.input.receive(maxMessages: 1, waitTime: .zero, visibilityTimeout: nil).first)
        guard case .completed = await worker.process(message) else { Issue.record("the job did not complete"); return }
        let collected = try await harness.request("GET", location)
        #expect(collected.status == 200)
        let result = try #require(try JSONSerialization.jsonObject(with: collected.body) as? [String: String])
        #expect(result["line"] == "\(file.deletingPathExtension().lastPathComponent):\(try await Self.expectedLabel(file))")
        await harness.stop()
    }

    @Test("/readyz: 200 when the queues and stores answer; 503 naming each one the credentials cannot reach (moto, refused key)")
    func readiness() async throws {
        let local = try await Harness(startWorker: false)
        let ready = try await local.request("GET", "/readyz")
        #expect(ready.status == 200)
        #expect(String(decoding: ready.body, as: UTF8.self) == #"{"status":"ready"}"#)
        await local.stop()

        let moto = try await MotoEnvironment.shared()
        let suffix = MotoEnvironment.uniqueName("readyz")
        var environment = try await moto.pipelineEnvironment(suffix: suffix)
        let good = try await Harness(startWorker: false, pipeline: try Pipeline.open(.aws(try CloudConfiguration(environment: environment)), environment: environment))
        #expect(try await good.request("GET", "/readyz").status == 200)
        await good.stop()

        environment["AWS_SECRET_ACCESS_KEY"] = "wrong-secret-must-not-leak"
        let refused = try await Harness(startWorker: false, pipeline: try Pipeline.open(.aws(try CloudConfiguration(environment: environment)), environment: environment))
        let reply = try await refused.request("GET", "/readyz")
        #expect(reply.status == 503)
        let body = try #require(try JSONSerialization.jsonObject(with: reply.body) as? [String: Any])
        #expect(body["status"] as? String == "unavailable")
        let problems = try #require(body["problems"] as? [String])
        #expect(problems.count == 4, "\(problems)")
        #expect(problems.allSatisfy { $0.contains("HTTP 403") } && !reply.body.isEmpty)
        #expect(!String(decoding: reply.body, as: UTF8.self).contains("wrong-secret-must-not-leak"))
        #expect(try await refused.request("GET", "/healthz").status == 200)  // alive, not ready
        await refused.stop()
    }

    @Test("a bearer token, when configured, guards the upload routes but not /healthz")
    func bearerToken() async throws {
        let harness = try await Harness(configuration: .init(bearerToken: "s3cret-token"))
        let file = try ServiceFixtures.images(1)[0]
        let data = try Data(contentsOf: file)
        #expect(try await harness.upload(data, filename: "a.jpg").status == 401)
        #expect(try await harness.upload(data, filename: "a.jpg", headers: ["Authorization": "Bearer wrong"]).status == 401)
        #expect(try await harness.upload(data, filename: "a.jpg", headers: ["Authorization": "Basic czNjcmV0LXRva2Vu"]).status == 401)
        #expect(try await harness.request("POST", "/v1/recognize", body: data, contentType: "image/jpeg").status == 401)
        #expect(try await harness.upload(data, filename: "a.jpg", headers: ["Authorization": "Bearer s3cret-token"]).status == 200)
        #expect(try await harness.request("GET", "/healthz").status == 200)
        await harness.stop()
    }

    @Test("POST /v1/images → 202 with an id; GET /v1/results/{id} pending, then done; unknown ids 404")
    func asyncAPI() async throws {
        let harness = try await Harness()
        let file = try ServiceFixtures.images(2)[1]
        let reply = try await harness.request("POST", "/v1/images?filename=\(file.lastPathComponent)", body: try Data(contentsOf: file),
                                              contentType: "image/jpeg")
        #expect(reply.status == 202)
        let accepted = try #require(try JSONSerialization.jsonObject(with: reply.body) as? [String: String])
        let id = try #require(accepted["id"])
        #expect(accepted["result"] == "/v1/results/\(id)")
        #expect(accepted["key"] == "uploads/\(id)/\(file.lastPathComponent)")
        var result: [String: Any] = [:]
        let done = await eventually {
            guard let (status, body, _) = try? await harness.request("GET", "/v1/results/\(id)") else { return false }
            result = (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:]
            return status == 200
        }
        #expect(done)
        #expect(result["status"] as? String == "done")
        let label = try await Self.expectedLabel(file)
        #expect(result["name"] as? String == label)
        #expect(result["line"] as? String == "\(file.deletingPathExtension().lastPathComponent):\(label)")
        #expect(try await harness.request("GET", "/v1/results/\(UploadNaming.newID())").status == 404)
        #expect(try await harness.request("GET", "/v1/results/..%2F..%2Fetc").status == 404)
        await harness.stop()
    }

    @Test("POST /v1/recognize answers in process with boxes, names and distances")
    func recognize() async throws {
        let harness = try await Harness(startWorker: false)
        let file = try ServiceFixtures.images(1)[0]
        let data = try Data(contentsOf: file)
        let reply = try await harness.request("POST", "/v1/recognize", body: data, contentType: "image/jpeg")
        #expect(reply.status == 200)
        let analysis = try JSONDecoder().decode(ImageAnalysis.self, from: reply.body)
        #expect(analysis == (try await ServiceFixtures.engine.analyze(data)))
        #expect(analysis.identified)
        #expect(analysis.faces.count == 1)
        #expect(analysis.faces[0].box.count == 4)
        #expect(analysis.faces[0].distance != nil)
        #expect(try await harness.request("POST", "/v1/recognize", body: Data("nope".utf8), contentType: "image/jpeg").status == 415)
        #expect(try await harness.pipeline.input.depth().total == 0)
        await harness.stop()
    }

    @Test("/healthz and /metrics (requests by route and status, queue depths)")
    func observability() async throws {
        let harness = try await Harness(startWorker: false)
        let health = try await harness.request("GET", "/healthz")
        #expect(health.status == 200)
        #expect(String(decoding: health.body, as: UTF8.self) == #"{"backend":"local","identifies":true,"status":"ok"}"#)
        _ = try await harness.upload(Data("junk".utf8), filename: "j.jpg")
        let metrics = String(decoding: try await harness.request("GET", "/metrics").body, as: UTF8.self)
        #expect(metrics.contains(#"facerec_http_requests_total{route="/",status="415"} 1"#))
        #expect(metrics.contains(#"facerec_http_requests_total{route="/healthz",status="200"} 1"#))
        #expect(metrics.contains(#"facerec_queue_messages{queue="input",state="visible"} 0"#))
        #expect(metrics.contains("facerec_http_request_duration_seconds_bucket"))
        await harness.stop()
    }
}
