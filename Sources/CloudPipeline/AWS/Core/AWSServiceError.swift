import Foundation

/// An error response from an AWS service (or moto): the service said no.
public struct AWSServiceError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `s3`, `sqs`, `ec2`.
    public let service: String
    /// The API operation, e.g. `PutObject`.
    public let operation: String
    public let statusCode: Int
    /// The AWS error code (`NoSuchKey`, `AWS.SimpleQueueService.NonExistentQueue`,
    /// `AuthFailure`, ...). For bodiless responses (HEAD) the HTTP reason (`NotFound`).
    public let code: String
    public let message: String?
    public let requestId: String?

    public init(service: String, operation: String, statusCode: Int, code: String, message: String?, requestId: String?) {
        self.service = service
        self.operation = operation
        self.statusCode = statusCode
        self.code = code
        self.message = message
        self.requestId = requestId
    }

    public var description: String {
        var text = "\(service) \(operation) failed: HTTP \(statusCode) \(code)"
        if let message, !message.isEmpty { text += ": \(message)" }
        if let requestId { text += " (request id \(requestId))" }
        return text
    }

    /// Whether SDK standard-mode retries treat this as transient: throttling codes, the
    /// transient codes, HTTP 429 and every 5xx.
    public var isRetryable: Bool {
        statusCode >= 500 || statusCode == 429 || Self.throttlingCodes.contains(code) || Self.transientCodes.contains(code)
    }

    /// Throttling error codes of the SDKs' standard retry mode.
    public static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
        "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
        "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException",
    ]
    /// Transient error codes of the SDKs' standard retry mode.
    public static let transientCodes: Set<String> = [
        "RequestTimeout", "RequestTimeoutException", "InternalError", "ServiceUnavailable",
    ]

    /// Builds the error from a non-2xx response, reading whichever error format the body has:
    /// S3's `<Error>`, the query protocol's `<ErrorResponse>`/`<Response><Errors>`, or AWS
    /// JSON's `__type`/`message` (moto answers SQS JSON requests in XML, so both are tried).
    static func from(response: AWSHTTPResponse, service: String, operation: String) -> AWSServiceError {
        var code: String?
        var message: String?
        var requestId = response.header("x-amz-request-id") ?? response.header("x-amzn-requestid")
        let body = response.body
        if let first = body.first(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) {
            if first == UInt8(ascii: "<"), let xml = try? AWSXMLElement.parse(body) {
                let error = xml.first("Error") ?? xml
                code = error.string("Code") ?? xml.first("Code")?.text
                message = error.string("Message") ?? xml.first("Message")?.text
                requestId = xml.first("RequestId")?.text ?? xml.first("RequestID")?.text ?? requestId
            } else if first == UInt8(ascii: "{"),
                      let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any] {
                if let type = (json["__type"] as? String) ?? (json["code"] as? String) {
                    // "com.amazonaws.sqs#QueueDoesNotExist" → "QueueDoesNotExist"
                    code = type.split(separator: "#").last.map(String.init)
                }
                message = (json["message"] as? String) ?? (json["Message"] as? String)
            }
        }
        if code == nil, let header = response.header("x-amzn-query-error") {
            code = header.split(separator: ";").first.map(String.init)
        }
        return AWSServiceError(service: service, operation: operation, statusCode: response.statusCode,
                               code: code ?? Self.reason(response.statusCode), message: message, requestId: requestId)
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 400: return "BadRequest"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "NotFound"
        case 409: return "Conflict"
        case 412: return "PreconditionFailed"
        case 416: return "InvalidRange"
        case 429: return "TooManyRequests"
        case 500: return "InternalError"
        case 503: return "ServiceUnavailable"
        default: return "HTTP\(status)"
        }
    }
}

/// A failure of the client itself rather than a service answer.
public enum AWSClientError: Error, Sendable, CustomStringConvertible {
    /// No HTTP response after `attempts` tries (connection refused, reset, timeout).
    case transport(service: String, operation: String, attempts: Int, detail: String)
    /// The service answered 2xx but the body was not what the operation returns.
    case invalidResponse(service: String, operation: String, detail: String)
    /// A caller-supplied value cannot be sent (`field` names it).
    case invalidArgument(operation: String, field: String, reason: String)
    /// Credentials could not be obtained.
    case credentials(AWSCredentialsError)

    public var description: String {
        switch self {
        case .transport(let service, let operation, let attempts, let detail):
            return "\(service) \(operation) failed after \(attempts) attempt(s): \(detail)"
        case .invalidResponse(let service, let operation, let detail):
            return "\(service) \(operation) returned an unexpected response: \(detail)"
        case .invalidArgument(let operation, let field, let reason):
            return "\(operation): invalid \(field): \(reason)"
        case .credentials(let error):
            return error.description
        }
    }
}
