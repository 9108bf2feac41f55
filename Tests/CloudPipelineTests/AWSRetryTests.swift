@testable import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Testing

/// Standard-mode retries and error parsing, against a real local HTTP server that answers
/// the way AWS does when it throttles or fails (moto cannot be made to).
@Suite("AWS retries and errors")
struct AWSRetryTests {
    static let fast = AWSRetryStrategy(maxAttempts: 3, base: .milliseconds(1), cap: .milliseconds(5))

    func sqs(_ server: LocalHTTPServer, retry: AWSRetryStrategy = fast) -> SQSClient {
        sqs(endpoint: server.endpoint, retry: retry)
    }

    func sqs(endpoint: URL, retry: AWSRetryStrategy = fast) -> SQSClient {
        SQSClient(configuration: AWSClientConfiguration(
            region: "us-east-1", endpoint: endpoint,
            credentials: StaticCredentialsProvider(AWSCredentials(accessKeyId: "AKID", secretAccessKey: "secret")), retry: retry))
    }

    /// Answers `failures` with `failure`, then succeeds.
    final class Script: @unchecked Sendable {
        let lock = NSLock()
        var remaining: Int
        init(_ failures: Int) { remaining = failures }
        func next() -> Bool { lock.withLock { remaining -= 1; return remaining >= 0 } }
    }

    static let serviceUnavailable = LocalHTTPServer.Response(
        status: 503, text: "<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>try later</Message></Error><RequestId>req-503</RequestId></ErrorResponse>",
        contentType: "text/xml")
    static let throttled = LocalHTTPServer.Response(
        status: 400, text: #"{"__type":"com.amazonaws.sqs#ThrottlingException","message":"Rate exceeded"}"#,
        contentType: "application/x-amz-json-1.0")

    @Test("idempotent calls retry 5xx and throttling, then succeed", arguments: [serviceUnavailable, throttled])
    func retriesThenSucceeds(failure: LocalHTTPServer.Response) async throws {
        let script = Script(2)
        let server = try LocalHTTPServer { request in
            script.next() ? failure : .init(status: 200, text: #"{"QueueUrl":"http://x/123/q"}"#, contentType: "application/x-amz-json-1.0")
        }
        defer { server.stop() }
        let url = try await sqs(server).getQueueUrl(name: "q")
        #expect(url == "http://x/123/q")
        #expect(server.requests.count == 3)
        // Each attempt is signed afresh and carries the JSON protocol headers.
        for request in server.requests {
            #expect(request.headers["x-amz-target"] == "AmazonSQS.GetQueueUrl")
            #expect(request.headers["content-type"] == "application/x-amz-json-1.0")
            #expect(request.headers["authorization"]?.hasPrefix("AWS4-HMAC-SHA256 Credential=AKID/") == true)
        }
    }

    @Test("gives up after 3 attempts with the last service error, typed")
    func givesUp() async throws {
        let server = try LocalHTTPServer { _ in Self.serviceUnavailable }
        defer { server.stop() }
        await #expect(throws: AWSServiceError(service: "sqs", operation: "GetQueueUrl", statusCode: 503, code: "ServiceUnavailable",
                                              message: "try later", requestId: "req-503")) {
            _ = try await sqs(server).getQueueUrl(name: "q")
        }
        #expect(server.requests.count == 3)
    }

    @Test("SendMessage is not retried (a retry could enqueue the job twice)")
    func sendIsNotRetried() async throws {
        let server = try LocalHTTPServer { _ in Self.serviceUnavailable }
        defer { server.stop() }
        await #expect(throws: AWSServiceError.self) {
            _ = try await sqs(server).sendMessage(queueUrl: "http://x/123/q", body: "job")
        }
        #expect(server.requests.count == 1)
    }

    @Test("client errors (4xx, not throttling) are not retried; JSON errors parsed")
    func clientErrorNotRetried() async throws {
        let server = try LocalHTTPServer { _ in
            .init(status: 400, headers: ["x-amzn-RequestId": "req-json"],
                  body: Data(#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#.utf8))
        }
        defer { server.stop() }
        await #expect(throws: AWSServiceError(service: "sqs", operation: "GetQueueUrl", statusCode: 400, code: "QueueDoesNotExist",
                                              message: "The specified queue does not exist.", requestId: "req-json")) {
            _ = try await sqs(server).getQueueUrl(name: "q")
        }
        #expect(server.requests.count == 1)
    }

    @Test("connection errors are retried, then reported with the attempt count")
    func connectionRefused() async throws {
        // A port that stays reserved (bound, never listening) for the whole test: a freed port
        // could be handed to another test's server meanwhile.
        let refusing = try RefusingPort()
        defer { refusing.close() }
        do {
            _ = try await sqs(endpoint: refusing.endpoint).getQueueUrl(name: "q")
            Issue.record("expected a transport error")
        } catch let error as AWSClientError {
            guard case .transport(let service, let operation, let attempts, _) = error else {
                Issue.record("wrong error \(error)"); return
            }
            #expect(service == "sqs" && operation == "GetQueueUrl" && attempts == 3)
        }
    }

    @Test("full-jitter backoff: uniform in [0, min(cap, base·2ⁿ⁻¹)]")
    func backoff() {
        let top = AWSRetryStrategy(base: .milliseconds(100), cap: .seconds(20), random: { 0.999_999 })
        #expect(abs(Double(top.delay(beforeRetry: 1).components.attoseconds) / 1e18 - 0.1) < 1e-4)
        #expect(abs(Double(top.delay(beforeRetry: 2).components.attoseconds) / 1e18 - 0.2) < 1e-4)
        #expect(abs(Double(top.delay(beforeRetry: 4).components.attoseconds) / 1e18 - 0.8) < 1e-4)
        #expect(top.delay(beforeRetry: 30) <= .seconds(20))
        #expect(top.delay(beforeRetry: 30) > .seconds(19))
        let bottom = AWSRetryStrategy(random: { 0 })
        #expect(bottom.delay(beforeRetry: 3) == .zero)
        #expect(AWSRetryStrategy().maxAttempts == 3)
    }

    @Test("error bodies: S3 XML, query-protocol XML, bodiless HEAD")
    func errorFormats() {
        let s3 = AWSServiceError.from(response: AWSHTTPResponse(statusCode: 404, headers: ["x-amz-request-id": "hdr"], body: Data(
            "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>k</Key><RequestId>R1</RequestId></Error>".utf8)),
                                      service: "s3", operation: "GetObject")
        #expect(s3 == AWSServiceError(service: "s3", operation: "GetObject", statusCode: 404, code: "NoSuchKey",
                                      message: "The specified key does not exist.", requestId: "R1"))
        let ec2 = AWSServiceError.from(response: AWSHTTPResponse(statusCode: 401, headers: [:], body: Data(
            "<Response><Errors><Error><Code>AuthFailure</Code><Message>AWS was not able to validate the provided access credentials</Message></Error></Errors><RequestID>E1</RequestID></Response>".utf8)),
                                       service: "ec2", operation: "DescribeInstances")
        #expect(ec2.code == "AuthFailure" && ec2.requestId == "E1" && ec2.statusCode == 401)
        let head = AWSServiceError.from(response: AWSHTTPResponse(statusCode: 404, headers: [:], body: Data()), service: "s3", operation: "HeadObject")
        #expect(head.code == "NotFound")
        #expect(head.isRetryable == false)
        #expect(AWSServiceError(service: "s3", operation: "x", statusCode: 503, code: "SlowDown", message: nil, requestId: nil).isRetryable)
    }
}
