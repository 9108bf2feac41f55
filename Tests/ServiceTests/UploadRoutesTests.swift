import CloudPipeline
import CloudPipelineTestSupport
import FaceRecognition
import FaceRecognitionService
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The upload API's routes in process: mounted on a plain `Router` (as an application that
/// embeds the service would) and driven through HummingbirdTesting's router framework, no
/// socket. The local backends and the real engine (synthetic FaceNet weights, the course gallery).
@Suite("Upload routes in process", .serialized)
struct UploadRoutesTests {
    /// A fresh local pipeline and the API over it.
    struct Fixture: Sendable {
        let directory: URL
        let pipeline: Pipeline
        let api: UploadAPI

        init(configuration: UploadAPIConfiguration = .init()) async throws {
            directory = try LocalTestDirectory.make("upload-routes")
            let backend = PipelineBackend.local(LocalPipelineLayout(dataDirectory: directory))
            _ = try await PipelineSetup().run(backend)
            pipeline = try Pipeline.open(backend)
            // Wired as facerec-server wires them: every result read feeds the metrics and the recent jobs.
            let metrics = ServiceMetrics()
            let waiter = ResultWaiter(output: pipeline.output, outputStore: pipeline.outputStore,
                                      storePollInterval: .milliseconds(200), receiveWaitTime: .seconds(1),
                                      onResult: metrics.recordResult)
            api = UploadAPI(pipeline: pipeline, engine: try ServiceFixtures.engine, waiter: waiter, metrics: metrics,
                            configuration: configuration)
        }

        /// An application serving only the API's routes, mounted on a plain router.
        func application() -> some ApplicationProtocol {
            let router = Router()
            api.addRoutes(to: router)
            return Application(router: router)
        }

        /// Runs `body` with an in-process worker and the result waiter taking jobs.
        func withWorker<T>(_ body: () async throws -> T) async throws -> T {
            let worker = RecognitionWorker(input: pipeline.input, output: pipeline.output, inputStore: pipeline.inputStore,
                                           outputStore: pipeline.outputStore, recognizer: try ServiceFixtures.engine,
                                           configuration: .init(concurrency: 2, receiveWaitTime: .seconds(1)))
            let waiter = api.waiter
            let tasks = [Task { await worker.run() }, Task { await waiter.run() }]
            defer { tasks.forEach { $0.cancel() } }
            let result = try await body()
            tasks.forEach { $0.cancel() }
            for task in tasks { await task.value }
            return result
        }

        func remove() { try? FileManager.default.removeItem(at: directory) }
    }

    static func text(_ response: TestResponse) -> String { String(buffer: response.body) }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
    }

    static func multipart(_ data: Data, field: String = UploadAPI.legacyField, filename: String)
        -> (headers: HTTPFields, body: ByteBuffer) {
        let boundary = "test-\(UUID().uuidString)"
        var headers = HTTPFields()
        headers[.contentType] = "multipart/form-data; boundary=\(boundary)"
        return (headers, ByteBuffer(data: UploadClient.multipartBody(data, field: field, filename: filename, boundary: boundary)))
    }

    static func authorization(_ value: String) -> HTTPFields {
        var headers = HTTPFields()
        headers[.authorization] = value
        return headers
    }

    static func contentType(_ value: String) -> HTTPFields {
        var headers = HTTPFields()
        headers[.contentType] = value
        return headers
    }

    @Test("/healthz says ok with the backend and mode; /readyz is ready on a local pipeline; /metrics counts the routes")
    func probes() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        try await fixture.application().test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                #expect(Self.text(response) == #"{"backend":"local","identifies":true,"status":"ok"}"#)
            }
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(Self.text(response) == #"{"status":"ready"}"#)
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                #expect(Self.text(response).contains("/healthz"))
            }
            try await client.execute(uri: "/no/such/route", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test("POST /v1/images answers 202 with the job; GET /v1/results/{id} is pending (202), then done (200) once a worker is in")
    func submitAndCollect() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let file = try ServiceFixtures.images(1)[0]
        let image = try Data(contentsOf: file)
        let stem = file.deletingPathExtension().lastPathComponent
        let expected = try await ServiceFixtures.engine.analyze(image).label
        try await fixture.application().test(.router) { client in
            // Raw body, the name in the query.
            let accepted = try await client.execute(uri: "/v1/images?filename=\(file.lastPathComponent)", method: .post,
                                                    headers: Self.contentType("image/jpeg"), body: ByteBuffer(data: image))
            #expect(accepted.status == .accepted)
            let job = try Self.json(accepted)
            let id = try #require(job["id"] as? String)
            #expect(UploadNaming.isValidID(id))
            #expect(job["result"] as? String == "/v1/results/\(id)")
            #expect((job["key"] as? String)?.hasSuffix("/\(file.lastPathComponent)") == true)
            #expect(try await fixture.pipeline.input.depth().visible == 1)

            // No worker yet: pending.
            try await client.execute(uri: "/v1/results/\(id)", method: .get) { response in
                #expect(response.status == .accepted)
                let status = try Self.json(response)
                #expect(status["status"] as? String == "pending")
            }
            // Unknown and malformed ids: 404.
            #expect(try await client.execute(uri: "/v1/results/\(UploadNaming.newID())", method: .get).status == .notFound)
            #expect(try await client.execute(uri: "/v1/results/..%2Fetc", method: .get).status == .notFound)

            let done = try await fixture.withWorker {
                var last: TestResponse?
                _ = try await eventually(timeout: .seconds(120)) {
                    last = try await client.execute(uri: "/v1/results/\(id)", method: .get)
                    return last?.status == .ok
                }
                return try #require(last)
            }
            #expect(done.status == .ok)
            let status = try Self.json(done)
            #expect(status["status"] as? String == "done")
            #expect(status["name"] as? String == expected)
            #expect(status["line"] as? String == "\(stem):\(expected)")
        }
    }

    @Test("GET /v1/jobs/recent lists worker results and recognitions newest first, as /metrics counts them; it needs the token")
    func recentJobs() async throws {
        let fixture = try await Fixture(configuration: .init(bearerToken: "s3cret-token"))
        defer { fixture.remove() }
        let files = try ServiceFixtures.images(2)
        let (queued, recognized) = (try Data(contentsOf: files[0]), try Data(contentsOf: files[1]))
        let (queuedLabel, recognizedAnalysis) = (try await ServiceFixtures.engine.analyze(queued).label,
                                                 try await ServiceFixtures.engine.analyze(recognized))
        let authorized = Self.authorization("Bearer s3cret-token")
        var imageHeaders = authorized
        imageHeaders[.contentType] = "image/jpeg"
        try await fixture.application().test(.router) { [imageHeaders] client in
            @Sendable func listing(_ query: String = "") async throws -> [[String: Any]] {
                let response = try await client.execute(uri: "/v1/jobs/recent\(query)", method: .get, headers: authorized)
                #expect(response.status == .ok)
                return try #require(try Self.json(response)["jobs"] as? [[String: Any]])
            }
            #expect(try await client.execute(uri: "/v1/jobs/recent", method: .get).status == .unauthorized)
            #expect(try await listing().isEmpty)

            // Two queued jobs: an upload, and an object that is not an image (as a bucket event would bring).
            let accepted = try await client.execute(uri: "/v1/images?filename=\(files[0].lastPathComponent)", method: .post,
                                                    headers: imageHeaders, body: ByteBuffer(data: queued))
            #expect(accepted.status == .accepted)
            let uploadKey = try #require(try Self.json(accepted)["key"] as? String)
            try await fixture.pipeline.inputStore.put(Data("not an image".utf8), key: "broken.jpg")
            try await fixture.pipeline.input.send("broken.jpg")
            let queue = try await fixture.withWorker {
                var jobs: [[String: Any]] = []
                _ = try await eventually(timeout: .seconds(120)) {
                    jobs = try await listing()
                    return jobs.count == 2
                }
                return jobs
            }
            let byKey = Dictionary(uniqueKeysWithValues: queue.map { ($0["key"] as? String ?? "", $0) })
            let upload = try #require(byKey[uploadKey])
            #expect(upload["source"] as? String == "queue")
            #expect(upload["outcome"] as? String == "ok")
            #expect(upload["result"] as? String == "\(files[0].deletingPathExtension().lastPathComponent):\(queuedLabel)")
            let broken = try #require(byKey["broken.jpg"])
            #expect(broken["outcome"] as? String == "error")
            #expect(broken["result"] as? String == "broken:\(RecognitionWorker.errorLabel)")
            #expect((broken["error"] as? String)?.isEmpty == false)

            // Two in-process recognitions: a photo, then a text.
            #expect(try await client.execute(uri: "/v1/recognize", method: .post, headers: authorized,
                                             body: ByteBuffer(data: recognized)).status == .ok)
            #expect(try await client.execute(uri: "/v1/recognize", method: .post, headers: authorized,
                                             body: ByteBuffer(string: "not a photo")).status == .unsupportedMediaType)
            let all = try await listing()
            #expect(all.map { $0["source"] as? String } == ["recognize", "recognize", "queue", "queue"])
            #expect(all[0]["outcome"] as? String == "error")
            #expect(all[1]["outcome"] as? String == "ok")
            #expect(all[1]["result"] as? String == recognizedAnalysis.label)
            #expect(all[1]["faces"] as? Int == recognizedAnalysis.faces.count)
            #expect(all[1]["key"] == nil)
            #expect((all[1]["finishedAt"] as? String).flatMap { try? Date($0, strategy: .iso8601) } != nil)
            #expect(try await listing("?limit=1").map { $0["outcome"] as? String } == ["error"])
            for bad in ["0", "51", "two"] {
                #expect(try await client.execute(uri: "/v1/jobs/recent?limit=\(bad)", method: .get, headers: authorized).status == .badRequest)
            }

            // The counters on /metrics describe the same four jobs.
            let metrics = Self.text(try await client.execute(uri: "/metrics", method: .get))
            for line in [#"facerec_results_total{outcome="ok"} 1"#, #"facerec_results_total{outcome="error"} 1"#,
                         #"facerec_recognitions_total{outcome="ok"} 1"#, #"facerec_recognitions_total{outcome="error"} 1"#] {
                #expect(metrics.contains(line), "\(line) not in /metrics")
            }
        }
    }

    @Test("POST / (the old form) answers STEM:NAME once the in-process worker is done")
    func legacyUpload() async throws {
        let fixture = try await Fixture(configuration: .init(resultTimeout: .seconds(120)))
        defer { fixture.remove() }
        let file = try ServiceFixtures.images(2)[1]
        let image = try Data(contentsOf: file)
        let expected = try await ServiceFixtures.engine.analyze(image).label
        let form = Self.multipart(image, filename: file.lastPathComponent)
        let response = try await fixture.withWorker {
            try await fixture.application().test(.router) { client in
                try await client.execute(uri: "/", method: .post, headers: form.headers, body: form.body)
            }
        }
        #expect(response.status == .ok)
        #expect(Self.text(response) == "\(file.deletingPathExtension().lastPathComponent):\(expected)")
        #expect(response.headers[.contentType] == "text/plain; charset=utf-8")
    }

    @Test("limits: 413 beyond the size limit, 415 for non-images, 400 for malformed requests; nothing is stored")
    func limits() async throws {
        let fixture = try await Fixture(configuration: .init(maxBodyBytes: 64 * 1024))
        defer { fixture.remove() }
        let jpeg = try Data(contentsOf: ServiceFixtures.images(1)[0])
        try await fixture.application().test(.router) { client in
            let big = Self.multipart(Data(repeating: 0xAB, count: 100 * 1024), filename: "big.jpg")
            try await client.execute(uri: "/", method: .post, headers: big.headers, body: big.body) { response in
                #expect(response.status == .contentTooLarge)
            }
            try await client.execute(uri: "/v1/images", method: .post, headers: Self.contentType("image/jpeg"),
                                     body: ByteBuffer(repeating: 0xAB, count: 100 * 1024)) { response in
                #expect(response.status == .contentTooLarge)
            }
            let gif = Self.multipart(Data("GIF89a not a jpeg".utf8), filename: "x.jpg")
            try await client.execute(uri: "/", method: .post, headers: gif.headers, body: gif.body) { response in
                #expect(response.status == .unsupportedMediaType)
                // Short messages, never paths or stack traces.
                #expect(!Self.text(response).contains("/work/") && Self.text(response).count < 400)
            }
            try await client.execute(uri: "/v1/images", method: .post, headers: Self.contentType("image/jpeg"),
                                     body: ByteBuffer(data: jpeg.prefix(600))) { response in
                #expect(response.status == .unsupportedMediaType)
            }
            try await client.execute(uri: "/v1/recognize", method: .post, headers: Self.contentType("image/png"),
                                     body: ByteBuffer(string: "not a png")) { response in
                #expect(response.status == .unsupportedMediaType)
            }
            let wrongField = Self.multipart(jpeg, field: "other", filename: "a.jpg")
            try await client.execute(uri: "/", method: .post, headers: wrongField.headers, body: wrongField.body) { response in
                #expect(response.status == .badRequest)
                #expect(Self.text(response).contains("inputFile"))
            }
            try await client.execute(uri: "/", method: .post, headers: Self.contentType("text/plain"),
                                     body: ByteBuffer(string: "hello")) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/", method: .post, headers: Self.contentType("multipart/form-data; boundary=XyZ"),
                                     body: ByteBuffer(string: "--nope")) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/v1/images", method: .post, headers: Self.contentType("image/jpeg")) { response in
                #expect(response.status == .badRequest)
            }
        }
        #expect(try await fixture.pipeline.inputStore.list(prefix: "").isEmpty)
        #expect(try await fixture.pipeline.input.depth().total == 0)
    }

    @Test("bearer token: 401 with WWW-Authenticate without it or with a wrong one; the probes stay open")
    func bearerToken() async throws {
        let fixture = try await Fixture(configuration: .init(bearerToken: "s3cret-token"))
        defer { fixture.remove() }
        let unknown = "/v1/results/\(UploadNaming.newID())"
        try await fixture.application().test(.router) { client in
            try await client.execute(uri: unknown, method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
            }
            for wrong in ["Bearer s3cret-toke", "Bearer s3cret-token2", "Basic czNjcmV0LXRva2Vu", "s3cret-token"] {
                let response = try await client.execute(uri: unknown, method: .get, headers: Self.authorization(wrong))
                #expect(response.status == .unauthorized, "\(wrong)")
            }
            try await client.execute(uri: "/v1/images", method: .post, headers: Self.contentType("image/jpeg"),
                                     body: ByteBuffer(string: "x")) { response in
                #expect(response.status == .unauthorized)
            }
            // The right token reaches the route (unknown id: 404).
            #expect(try await client.execute(uri: unknown, method: .get, headers: Self.authorization("Bearer s3cret-token")).status == .notFound)
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .ok)
        }
        #expect(try await fixture.pipeline.inputStore.list(prefix: "").isEmpty)
    }

    /// An application's own request context, to show the routes mount on any context type.
    struct AppContext: RequestContext {
        var coreContext: CoreRequestContextStorage
        init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
    }

    /// The application's own middleware: tags every response it sees.
    struct AppTag: RouterMiddleware {
        typealias Context = AppContext
        func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
            var response = try await next(request, context)
            response.headers[.init("X-App")!] = "embedding"
            return response
        }
    }

    @Test("embedding: the routes mount on an application's own router next to its routes; the API's token guards its routes only")
    func embedding() async throws {
        let fixture = try await Fixture(configuration: .init(bearerToken: "s3cret-token"))
        defer { fixture.remove() }
        let router = Router(context: AppContext.self)
        router.add(middleware: AppTag())
        router.get("/hello") { _, _ in "hello from the app" }
        fixture.api.addRoutes(to: router)
        router.get("/app/status") { _, _ in "app ok" }
        let app = Application(router: router)

        let image = try Data(contentsOf: ServiceFixtures.images(1)[0])
        let expected = try await ServiceFixtures.engine.analyze(image).label
        try await app.test(.router) { client in
            for path in ["/hello", "/app/status"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .ok, "\(path)")
                    #expect(response.headers[.init("X-App")!] == "embedding")
                }
            }
            #expect(Self.text(try await client.execute(uri: "/hello", method: .get)) == "hello from the app")
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.init("X-App")!] == "embedding")
            }
            #expect(try await client.execute(uri: "/v1/recognize", method: .post, headers: Self.contentType("image/jpeg"),
                                             body: ByteBuffer(data: image)).status == .unauthorized)
            var headers = Self.contentType("image/jpeg")
            headers[.authorization] = "Bearer s3cret-token"
            try await client.execute(uri: "/v1/recognize", method: .post, headers: headers, body: ByteBuffer(data: image)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                let analysis = try Self.json(response)
                #expect(analysis["label"] as? String == expected)
            }
            // The API's metrics see its routes, not the application's.
            let metrics = Self.text(try await client.execute(uri: "/metrics", method: .get))
            #expect(metrics.contains("/v1/recognize"))
            #expect(!metrics.contains("/hello"))
        }
    }
}
