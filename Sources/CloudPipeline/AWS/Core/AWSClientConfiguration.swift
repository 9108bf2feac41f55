import Foundation
import Logging

/// What every client needs: region, credentials, optional endpoint override, retries,
/// timeout, HTTP transport and logger.
public struct AWSClientConfiguration: Sendable {
    public var region: String
    /// Overrides the service's AWS endpoint (moto, LocalStack, a VPC endpoint). `nil`: the
    /// public regional endpoint.
    public var endpoint: URL?
    public var credentials: any AWSCredentialsProvider
    public var retry: AWSRetryStrategy
    /// Per-attempt timeout. SQS long polls add their wait time on top.
    public var timeout: Duration
    public var transport: any AWSHTTPTransport
    public var logger: Logger
    /// The signing clock (replaceable for tests that pin the date).
    public var clock: @Sendable () -> Date

    public init(region: String, endpoint: URL? = nil, credentials: any AWSCredentialsProvider,
                retry: AWSRetryStrategy = AWSRetryStrategy(), timeout: Duration = .seconds(30),
                transport: any AWSHTTPTransport = CurlTransport(),
                logger: Logger = Logger(label: "CloudPipeline.AWS"),
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.region = region
        self.endpoint = endpoint
        self.credentials = credentials
        self.retry = retry
        self.timeout = timeout
        self.transport = transport
        self.logger = logger
        self.clock = clock
    }
}

/// Signs, sends, retries and turns error responses into ``AWSServiceError``: the part shared
/// by the S3, SQS and EC2 clients.
struct AWSServiceCore: Sendable {
    /// Signing name and error label: `s3`, `sqs`, `ec2`.
    let service: String
    let configuration: AWSClientConfiguration
    let endpoint: URL
    let signer: SigV4Signer

    init(service: String, configuration: AWSClientConfiguration) {
        self.service = service
        self.configuration = configuration
        self.endpoint = configuration.endpoint ?? Self.defaultEndpoint(service: service, region: configuration.region)
        self.signer = SigV4Signer(service: service, region: configuration.region)
    }

    static func defaultEndpoint(service: String, region: String) -> URL {
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        return URL(string: "https://\(service).\(region).\(suffix)")!
    }

    /// Sends `request`, retrying when `idempotent` and the failure is retryable. Returns the
    /// first response whose status passes `accept` (default: 2xx).
    func execute(_ request: AWSHTTPRequest, operation: String, idempotent: Bool,
                 payload: SigV4Signer.Payload = .signed, extraTimeout: Duration = .zero,
                 accept: (Int) -> Bool = { (200..<300).contains($0) }) async throws -> AWSHTTPResponse {
        let strategy = idempotent ? configuration.retry : .none
        var attempt = 1
        while true {
            let credentials: AWSCredentials
            do {
                credentials = try await configuration.credentials.credentials()
            } catch let error as AWSCredentialsError {
                throw AWSClientError.credentials(error)
            }
            // Re-signed on every attempt: the date moves on and credentials may be refreshed.
            let signed = signer.sign(request, credentials: credentials, date: configuration.clock(), payload: payload).request
            let failure: any Error
            do {
                let response = try await configuration.transport.send(signed, timeout: configuration.timeout + extraTimeout)
                if accept(response.statusCode) {
                    configuration.logger.debug("\(service) \(operation)", metadata: [
                        "status": "\(response.statusCode)", "attempt": "\(attempt)",
                        "request-id": "\(response.header("x-amz-request-id") ?? response.header("x-amzn-requestid") ?? "-")",
                    ])
                    return response
                }
                let error = AWSServiceError.from(response: response, service: service, operation: operation)
                guard error.isRetryable, attempt < strategy.maxAttempts else { throw error }
                failure = error
            } catch let error as AWSTransportError {
                guard attempt < strategy.maxAttempts else {
                    throw AWSClientError.transport(service: service, operation: operation, attempts: attempt, detail: error.description)
                }
                failure = error
            }
            let pause = strategy.delay(beforeRetry: attempt)
            configuration.logger.info("\(service) \(operation) retrying", metadata: [
                "attempt": "\(attempt)", "error": "\(failure)", "delay-ms": "\(pause.components.seconds * 1000 + pause.components.attoseconds / 1_000_000_000_000_000)",
            ])
            try await Task.sleep(for: pause)
            attempt += 1
        }
    }

    /// Parses an XML success body, or throws ``AWSClientError/invalidResponse``.
    func xml(_ response: AWSHTTPResponse, operation: String) throws -> AWSXMLElement {
        do {
            return try AWSXMLElement.parse(response.body)
        } catch {
            throw AWSClientError.invalidResponse(service: service, operation: operation, detail: error.description)
        }
    }
}
