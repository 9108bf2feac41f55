import CloudPipeline
import Foundation
import Hummingbird
import Logging

/// Limits and options of the upload API.
public struct UploadAPIConfiguration: Sendable {
    /// Largest request body accepted (413 beyond).
    public var maxBodyBytes: Int
    /// How long `POST /` waits for the result before answering 504 (with where to collect it).
    /// Keep it above the input queue's visibility timeout plus a job's processing time, so a
    /// job whose worker died is redone and answered within the wait (``defaultResultTimeout(visibilityTimeout:)``).
    public var resultTimeout: Duration
    /// When set, upload and recognition routes require `Authorization: Bearer <token>`
    /// (`/healthz` and `/metrics` stay open for probes and scrapers).
    public var bearerToken: String?

    /// Allowance for a job's processing (fetch, recognise, write) on top of a redelivery.
    public static let processingAllowance: Duration = .seconds(60)

    /// The result wait that outlasts one redelivery cycle: `visibilityTimeout + processingAllowance`.
    public static func defaultResultTimeout(visibilityTimeout: Duration) -> Duration {
        visibilityTimeout + processingAllowance
    }

    public init(maxBodyBytes: Int = 10 * 1024 * 1024, resultTimeout: Duration = .seconds(90), bearerToken: String? = nil) {
        self.maxBodyBytes = maxBodyBytes
        self.resultTimeout = resultTimeout
        self.bearerToken = bearerToken.flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// The web tier: the old system's `POST /` contract plus a small JSON API.
///
/// | route | answer |
/// |---|---|
/// | `POST /` (multipart field `inputFile`) | `STEM:NAME` as plain text once the result is in; 504 after the wait, with `Location: /v1/results/<id>` |
/// | `POST /v1/images` (multipart or raw image body) | 202 `{"id", "key", "result"}` |
/// | `GET /v1/results/{id}` | 200 `{"status": "done"/"failed", "name", "line"}`, 202 pending, 404 unknown |
/// | `POST /v1/recognize` (multipart or raw image body) | 200 JSON faces, boxes, names, distances (in process, no queue) |
/// | `GET /v1/jobs/recent[?limit=N]` | 200 JSON `{"jobs": [...]}`: the newest finished jobs (worker results read from the output queue, in-process recognitions), newest first; see ``RecentJobs`` |
/// | `GET /healthz` | 200 `{"status": "ok", ...}`: the process is alive |
/// | `GET /readyz` | 200 `{"status": "ready"}`, or 503 `{"status": "unavailable", "problems": [...]}` when a queue or store cannot be reached with this process's credentials |
/// | `GET /metrics` | Prometheus text |
///
/// Every upload is size-limited (413), must decode as an image (415) and is stored under a key
/// built by ``UploadNaming`` (the client's name never becomes a path). Errors are short plain
/// messages; internal details go to the log only.
public struct UploadAPI: Sendable {
    public let pipeline: Pipeline
    public let engine: FaceRecognitionEngine
    public let waiter: ResultWaiter
    public let metrics: ServiceMetrics
    public let configuration: UploadAPIConfiguration
    let logger: Logger

    public init(pipeline: Pipeline, engine: FaceRecognitionEngine, waiter: ResultWaiter, metrics: ServiceMetrics,
                configuration: UploadAPIConfiguration = .init(), logger: Logger = Logger(label: "facerec.server")) {
        self.pipeline = pipeline
        self.engine = engine
        self.waiter = waiter
        self.metrics = metrics
        self.configuration = configuration
        self.logger = logger
    }

    /// The multipart field of the old upload form.
    public static let legacyField = "inputFile"

    /// A router with only this API's routes, every request (unmatched ones too) counted in
    /// ``metrics``. What `facerec-server` serves; ``application(host:port:onListening:)`` runs it.
    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: MetricsMiddleware(metrics: metrics))
        mount(on: router)
        return router
    }

    /// Mounts this API's routes on a server's own router, next to its routes, so an
    /// application embeds the service instead of running `facerec-server`:
    ///
    /// ```swift
    /// let router = Router()                      // any RequestContext
    /// router.get("/hello") { _, _ in "hi" }      // the application's own routes
    /// api.addRoutes(to: router)                  // + /healthz, /readyz, /metrics, /, /v1/...
    /// let app = Application(router: router)
    /// try await withThrowingTaskGroup(of: Void.self) { group in
    ///     group.addTask { await api.waiter.run() } // delivers results to `POST /` (needed)
    ///     try await app.runService()
    /// }
    /// ```
    ///
    /// `router` may be a `Router` or a group of one (`router.group()`); the paths are the
    /// table's, so mount at the root (a prefixed group would break the `/v1/results/<id>` links
    /// the API answers with). The API's middleware (request metrics, the bearer token) applies
    /// to its own routes only, never to the application's. Running ``ResultWaiter/run()`` and a
    /// worker (in process, or `facerec-worker` on the same pipeline) is the caller's job.
    public func addRoutes<Context: RequestContext>(to router: some RouterMethods<Context>) {
        mount(on: router.group().add(middleware: MetricsMiddleware<Context>(metrics: metrics)))
    }

    func mount<Context: RequestContext>(on router: some RouterMethods<Context>) {
        router.get("/healthz") { _, _ in try self.health() }
        router.get("/readyz") { _, _ in try await self.readiness() }
        router.get("/metrics") { _, _ in await self.metricsText() }
        let protected = router.group().add(middleware: BearerTokenMiddleware<Context>(token: configuration.bearerToken))
        protected.post("/") { request, _ in try await self.legacyUpload(request) }
        protected.post("/v1/images") { request, _ in try await self.submit(request) }
        protected.get("/v1/results/:id") { _, context in try await self.result(id: context.parameters.get("id") ?? "") }
        protected.post("/v1/recognize") { request, _ in try await self.recognize(request) }
        protected.get("/v1/jobs/recent") { request, _ in try self.recentJobs(request) }
    }

    /// The HTTP server for this API on `host:port` (0: any free port); `onListening` gets the
    /// bound port once the server accepts connections.
    public func application(host: String, port: Int, onListening: @escaping @Sendable (Int) -> Void = { _ in })
        -> some ApplicationProtocol {
        Application(router: makeRouter(),
                    configuration: .init(address: .hostname(host, port: port), serverName: "facerec-server"),
                    onServerRunning: { channel in onListening(channel.localAddress?.port ?? port) },
                    logger: logger)
    }

    // MARK: Routes

    func legacyUpload(_ request: Request) async throws -> Response {
        let upload = try await receiveImage(request, multipartOnly: true)
        let job = try await enqueue(upload)
        guard let result = await waiter.wait(inputKey: job.key, resultKey: job.resultKey, stem: job.stem,
                                             timeout: configuration.resultTimeout) else {
            metrics.recordJob(outcome: "timeout")
            // The job stays queued and its result will be kept: say where to collect it.
            let location = "/v1/results/\(job.id)"
            var response = Self.text("\(job.stem): no result within \(configuration.resultTimeout); the job \(job.id) is still queued: GET \(location)\n",
                                     status: .gatewayTimeout)
            response.headers[.location] = location
            return response
        }
        metrics.recordJob(outcome: result.succeeded ? "ok" : "error")
        return Self.text(result.line, status: result.succeeded ? .ok : .unprocessableContent)
    }

    func submit(_ request: Request) async throws -> Response {
        let upload = try await receiveImage(request, multipartOnly: false)
        let job = try await enqueue(upload, waiting: false)
        struct Accepted: Encodable { let id: String; let key: String; let result: String }
        return try Self.json(Accepted(id: job.id, key: job.key, result: "/v1/results/\(job.id)"), status: .accepted)
    }

    func result(id: String) async throws -> Response {
        guard UploadNaming.isValidID(id) else { throw HTTPError(.notFound, message: "no such upload") }
        let prefix = "\(UploadNaming.prefix)/\(id)/"
        struct Status: Encodable { let id: String; let status: String; let name: String?; let line: String?; let error: String? }
        let results = try await storage("list results") { try await pipeline.outputStore.list(prefix: prefix) }
        if let first = results.first {
            let data = try await storage("read result") { try await pipeline.outputStore.get(key: first.key) }
            let text = String(decoding: data, as: UTF8.self)
            let stem = JobObject(bucket: nil, key: first.key).stem
            if text.hasPrefix("error: ") {
                return try Self.json(Status(id: id, status: "failed", name: nil, line: "\(stem):\(RecognitionWorker.errorLabel)",
                                            error: String(text.dropFirst("error: ".count))), status: .ok)
            }
            return try Self.json(Status(id: id, status: "done", name: text, line: "\(stem):\(text)", error: nil), status: .ok)
        }
        let inputs = try await storage("list uploads") { try await pipeline.inputStore.list(prefix: prefix) }
        guard !inputs.isEmpty else { throw HTTPError(.notFound, message: "no such upload") }
        return try Self.json(Status(id: id, status: "pending", name: nil, line: nil, error: nil), status: .accepted)
    }

    func recognize(_ request: Request) async throws -> Response {
        let upload = try await receiveImage(request, multipartOnly: false, validate: false)
        do {
            let analysis = try await engine.analyze(upload.data)
            metrics.recordRecognition(analysis)
            return try Self.json(analysis, status: .ok)
        } catch let error as UnprocessableImage {
            metrics.recordRecognitionFailure(reason: error.reason)
            throw HTTPError(.unsupportedMediaType, message: error.reason)
        }
    }

    /// The newest finished jobs (`?limit=`, 1 to ``RecentJobs/capacity``, default all kept).
    func recentJobs(_ request: Request) throws -> Response {
        let limit: Int
        if let text = request.uri.queryParameters["limit"] {
            guard let value = Int(text), (1...metrics.recentJobs.capacity).contains(value) else {
                throw HTTPError(.badRequest, message: "limit must be a whole number from 1 to \(metrics.recentJobs.capacity)")
            }
            limit = value
        } else {
            limit = metrics.recentJobs.capacity
        }
        struct Listing: Encodable { let jobs: [RecentJobs.Entry] }
        return try Self.json(Listing(jobs: metrics.recentJobs.newest(limit)), status: .ok)
    }

    func health() throws -> Response {
        struct Health: Encodable { let status: String; let backend: String; let identifies: Bool }
        let backend: String
        switch pipeline.backend {
        case .local: backend = "local"
        case .aws: backend = "aws"
        }
        return try Self.json(Health(status: "ok", backend: backend, identifies: engine.identifies), status: .ok)
    }

    func readiness() async throws -> Response {
        struct Readiness: Encodable { let status: String; let problems: [String]? }
        let problems = await pipeline.readinessProblems()
        guard problems.isEmpty else {
            logger.warning("not ready", metadata: ["problems": "\(problems)"])
            return try Self.json(Readiness(status: "unavailable", problems: problems), status: .serviceUnavailable)
        }
        return try Self.json(Readiness(status: "ready", problems: nil), status: .ok)
    }

    func metricsText() async -> Response {
        await metrics.refresh(pipeline: pipeline, waiting: waiter.waitingCount)
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: metrics.text())))
    }

    // MARK: Upload handling

    struct Upload { let filename: String?; let data: Data }

    struct Job { let id: String; let key: String; let resultKey: String; let stem: String }

    /// Reads the body (bounded), takes the image out of a multipart form or the raw body, and
    /// checks that it decodes.
    func receiveImage(_ request: Request, multipartOnly: Bool, validate: Bool = true) async throws -> Upload {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > configuration.maxBodyBytes {
            throw HTTPError(.contentTooLarge, message: "the body exceeds \(configuration.maxBodyBytes) bytes")
        }
        // Beyond the limit NIO's collect throws NIOTooManyBytesError, which Hummingbird answers with 413.
        let buffer = try await request.body.collect(upTo: configuration.maxBodyBytes)
        let body = Data(buffer: buffer)
        let contentType = request.headers[.contentType]
        let upload: Upload
        if contentType?.lowercased().hasPrefix("multipart/") == true {
            let form: MultipartFormData
            do {
                form = try MultipartFormData(body: body, boundary: MultipartFormData.boundary(fromContentType: contentType))
            } catch {
                throw HTTPError(.badRequest, message: error.description)
            }
            let part = form.part(named: Self.legacyField) ?? (multipartOnly ? nil : form.parts.first { $0.filename != nil })
            guard let part else { throw HTTPError(.badRequest, message: "the form has no \(Self.legacyField) file field") }
            upload = Upload(filename: part.filename, data: part.body)
        } else if multipartOnly {
            throw HTTPError(.badRequest, message: "expected multipart/form-data with a \(Self.legacyField) field")
        } else {
            upload = Upload(filename: request.uri.queryParameters["filename"].map(String.init), data: body)
        }
        guard !upload.data.isEmpty else { throw HTTPError(.badRequest, message: "the image is empty") }
        if validate {
            do {
                _ = try await engine.validateImage(upload.data)
            } catch let error as UnprocessableImage {
                throw HTTPError(.unsupportedMediaType, message: error.reason)
            }
        }
        return upload
    }

    /// Stores the image and queues its job (unless the bucket notifies the queue itself).
    func enqueue(_ upload: Upload, waiting: Bool = true) async throws -> Job {
        let id = UploadNaming.newID()
        let key = try UploadNaming.key(id: id, filename: upload.filename)
        let object = JobObject(bucket: nil, key: key)
        if waiting { await waiter.expect(inputKey: key) }
        do {
            try await pipeline.inputStore.put(upload.data, key: key, contentType: Self.imageContentType(upload.data))
            if !pipeline.bucketNotifiesQueue {
                _ = try await pipeline.input.send(key, attributes: [:])
            }
        } catch {
            if waiting { await waiter.forget(inputKey: key) }
            logger.error("could not queue an upload", metadata: ["key": "\(key)", "error": "\(error)"])
            throw HTTPError(.serviceUnavailable, message: "the upload could not be stored; try again")
        }
        logger.debug("upload queued", metadata: ["key": "\(key)", "bytes": "\(upload.data.count)"])
        return Job(id: id, key: key, resultKey: object.resultKey, stem: object.stem)
    }

    private func storage<T>(_ what: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            logger.error("storage failed: \(what)", metadata: ["error": "\(error)"])
            throw HTTPError(.serviceUnavailable, message: "storage is unavailable; try again")
        }
    }

    static func imageContentType(_ data: Data) -> String {
        data.starts(with: [0x89, 0x50, 0x4E, 0x47]) ? "image/png" : "image/jpeg"
    }

    static func text(_ text: String, status: HTTPResponse.Status) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }
}

/// Records every request's route, status and latency.
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServiceMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let route = context.endpointPath ?? "unmatched"
        do {
            let response = try await next(request, context)
            metrics.recordRequest(route: route, status: response.status.code, duration: ContinuousClock.now - start)
            return response
        } catch let error as any HTTPResponseError {
            metrics.recordRequest(route: route, status: error.status.code, duration: ContinuousClock.now - start)
            throw error
        } catch {
            metrics.recordRequest(route: route, status: 500, duration: ContinuousClock.now - start)
            throw error
        }
    }
}

/// Requires `Authorization: Bearer <token>` when a token is configured.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token else { return try await next(request, context) }
        let presented = request.headers[.authorization].flatMap { value -> String? in
            let prefix = "Bearer "
            return value.hasPrefix(prefix) ? String(value.dropFirst(prefix.count)) : nil
        }
        guard let presented, Self.constantTimeEquals(Array(presented.utf8), Array(token.utf8)) else {
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = "Bearer"
            throw HTTPError(.unauthorized, headers: headers, message: "a valid bearer token is required")
        }
        return try await next(request, context)
    }

    /// Compares without an early exit, so timing does not reveal the matching prefix length.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}
