import CloudPipeline
import Foundation
import Hummingbird
import Logging

/// Amazon Rekognition's face API (AWS JSON 1.1) on the service's port, for any AWS SDK:
/// `POST /` with `X-Amz-Target: RekognitionService.<Operation>`, SigV4-signed for the service
/// name `rekognition`. A `POST /` without `X-Amz-Target` is not this API's: it goes on to the
/// router's other routes (the course's multipart upload).
///
/// ```swift
/// let router = Router()
/// rekognition.addRoutes(to: router)   // first: it dispatches on the X-Amz-Target header
/// upload.addRoutes(to: router)        // the multipart POST / and /v1 routes
/// ```
///
/// See docs/REKOGNITION.md for the operations, the fields and the similarity mapping.
public struct RekognitionAPI: Sendable {
    public let operations: RekognitionOperations
    public let verifier: SigV4Verifier
    /// Largest request body (a 5 MB image in base64 is 6.7 MB of JSON).
    public let maxBodyBytes: Int
    let now: @Sendable () -> Date
    let logger: Logger

    public static let targetPrefix = "RekognitionService."
    public static let contentType = "application/x-amz-json-1.1"

    public init(operations: RekognitionOperations, verifier: SigV4Verifier, maxBodyBytes: Int = 8 * 1024 * 1024,
                now: @escaping @Sendable () -> Date = { Date() }, logger: Logger = Logger(label: "facerec.rekognition")) {
        self.operations = operations
        self.verifier = verifier
        self.maxBodyBytes = maxBodyBytes
        self.now = now
        self.logger = logger
    }

    /// Adds the dispatch on `X-Amz-Target` to `router`. Hummingbird applies a router's middleware
    /// to the routes added after it (and to unmatched requests), so call this before mounting
    /// other routes at `/`.
    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.add(middleware: RekognitionDispatch<Context>(api: self))
    }

    /// The router `facerec-server` serves: the upload API's routes with this API in front of
    /// them, every request (Rekognition calls and unmatched ones too) counted in the upload
    /// API's metrics, as ``UploadAPI/makeRouter()`` counts them.
    public func makeRouter(with upload: UploadAPI) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: MetricsMiddleware(metrics: upload.metrics))
        addRoutes(to: router)
        upload.mount(on: router)
        return router
    }

    /// Whether `request` is a Rekognition call.
    static func isRekognitionCall(_ request: Request) -> Bool {
        request.method == .post && request.uri.path == "/" && request.headers[Self.targetField] != nil
    }

    static let targetField = HTTPFields.Element.Name("X-Amz-Target")!
    static let requestIdField = HTTPFields.Element.Name("x-amzn-RequestId")!

    /// Answers one Rekognition call; every failure is answered in Rekognition's error shape.
    public func respond(to request: Request) async -> Response {
        let requestId = UUID().uuidString.lowercased()
        let target = request.headers[Self.targetField] ?? ""
        let operation = target.hasPrefix(Self.targetPrefix) ? String(target.dropFirst(Self.targetPrefix.count)) : ""
        do {
            if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maxBodyBytes {
                throw RekognitionError.imageTooLarge("The request body is \(length) bytes; at most \(maxBodyBytes) are accepted.")
            }
            let body: Data
            do {
                body = Data(buffer: try await request.body.collect(upTo: maxBodyBytes))
            } catch {
                throw RekognitionError.imageTooLarge("The request body exceeds \(maxBodyBytes) bytes.")
            }
            var headers = request.headers.map { AWSHTTPHeader($0.name.rawName, $0.value) }
            // HTTP/1.1's Host header arrives as the request's authority.
            if let authority = request.head.authority, !headers.contains(where: { $0.name.lowercased() == "host" }) {
                headers.append(AWSHTTPHeader("host", authority))
            }
            let caller = try verifier.verify(IncomingSignedRequest(method: request.method.rawValue, path: request.uri.path,
                                                                   query: request.uri.query ?? "", headers: headers, body: body),
                                             now: now())
            guard !operation.isEmpty else { throw RekognitionError.unknownOperation(target) }
            let answer = try await operations.perform(operation, body: body, caller: caller)
            return Self.response(.ok, body: answer, requestId: requestId)
        } catch let error as RekognitionError {
            logger.info("rekognition error", metadata: ["operation": "\(operation)", "type": "\(error.type)", "message": "\(error.message)"])
            return Self.response(error.status, body: error.body, requestId: requestId)
        } catch {
            logger.error("rekognition failure", metadata: ["operation": "\(operation)", "error": "\(error)"])
            let internalError = RekognitionError.internalError("Internal server error (request \(requestId))")
            return Self.response(internalError.status, body: internalError.body, requestId: requestId)
        }
    }

    static func response(_ status: HTTPResponse.Status, body: Data, requestId: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[requestIdField] = requestId
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Sends `POST /` with `X-Amz-Target` to ``RekognitionAPI``; everything else goes on.
struct RekognitionDispatch<Context: RequestContext>: RouterMiddleware {
    let api: RekognitionAPI

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard RekognitionAPI.isRekognitionCall(request) else { return try await next(request, context) }
        return await api.respond(to: request)
    }
}
