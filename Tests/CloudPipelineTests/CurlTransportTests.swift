import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Testing

/// The default AWS transport against a real local HTTP peer: the bytes on the wire are the
/// request's own (SigV4 signs them), failures are typed, and cancellation ends a pending
/// request (a worker's 20 s long poll on SIGTERM).
@Suite("CurlTransport")
struct CurlTransportTests {
    let transport = CurlTransport()

    func request(_ method: String, _ server: URL, path: String = "/", query: [AWSQueryItem] = [],
                 headers: [AWSHTTPHeader] = [], body: Data = Data()) -> AWSHTTPRequest {
        AWSHTTPRequest(method: method, endpoint: server, path: path, query: query, headers: headers, body: body)
    }

    @Test("method, path, query, headers and body go out as given; libcurl adds no Expect, Accept or Content-Type")
    func sendsTheRequestAsGiven() async throws {
        let server = try LocalHTTPServer { _ in .init(status: 200, headers: ["X-Amz-Request-Id": "req-1"], body: Data("ok".utf8)) }
        defer { server.stop() }
        // Over 1 MB: libcurl would otherwise send `Expect: 100-continue` and wait for the server.
        let body = Data((0..<1_500_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let response = try await transport.send(
            request("PUT", server.endpoint, path: "/bucket/a%20b.jpg", query: [AWSQueryItem("x-id", "Put Object")],
                    headers: [AWSHTTPHeader("X-Amz-Date", "20261129T080000Z"), AWSHTTPHeader("X-Amz-Meta-Empty", "")],
                    body: body),
            timeout: .seconds(10))
        #expect(response.statusCode == 200)
        #expect(response.body == Data("ok".utf8))
        #expect(response.header("x-amz-request-id") == "req-1")
        let seen = try #require(server.requests.first)
        #expect(seen.method == "PUT")
        #expect(seen.path == "/bucket/a%20b.jpg?x-id=Put%20Object")
        #expect(seen.headers["x-amz-date"] == "20261129T080000Z")
        #expect(seen.headers["x-amz-meta-empty"] == "")
        #expect(seen.headers["host"] == "127.0.0.1:\(server.port)")
        #expect(seen.headers["expect"] == nil)
        #expect(seen.headers["accept"] == nil)
        #expect(seen.headers["content-type"] == nil)
        #expect(seen.body == body)
    }

    @Test("a PUT without a body sends Content-Length 0; HEAD, GET and DELETE send none; a given Content-Type is kept")
    func methods() async throws {
        let server = try LocalHTTPServer { request in
            .init(status: request.method == "DELETE" ? 204 : 200, headers: ["ETag": "\"e\""], body: Data("body".utf8))
        }
        defer { server.stop() }
        _ = try await transport.send(request("PUT", server.endpoint, path: "/new-bucket"), timeout: .seconds(10))
        let head = try await transport.send(request("HEAD", server.endpoint, path: "/k"), timeout: .seconds(10))
        let get = try await transport.send(request("GET", server.endpoint, path: "/k"), timeout: .seconds(10))
        let delete = try await transport.send(request("DELETE", server.endpoint, path: "/k"), timeout: .seconds(10))
        _ = try await transport.send(request("POST", server.endpoint, headers: [AWSHTTPHeader("Content-Type", "application/x-amz-json-1.0")],
                                             body: Data("{}".utf8)), timeout: .seconds(10))
        #expect(head.statusCode == 200 && head.body.isEmpty && head.header("etag") == "\"e\"")
        #expect(get.body == Data("body".utf8))
        #expect(delete.statusCode == 204)
        let seen = server.requests
        #expect(seen.map(\.method) == ["PUT", "HEAD", "GET", "DELETE", "POST"])
        #expect(seen[0].headers["content-length"] == "0")
        #expect(seen[1].headers["content-length"] == nil && seen[2].headers["content-length"] == nil)
        #expect(seen[3].headers["content-length"] == nil)
        #expect(seen[4].headers["content-type"] == "application/x-amz-json-1.0" && seen[4].body == Data("{}".utf8))
    }

    @Test("a refused connection and a timeout are AWSTransportErrors naming the host")
    func transportFailures() async throws {
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let refused = await #expect(throws: AWSTransportError.self) {
            try await transport.send(request("GET", refusing.endpoint), timeout: .seconds(5))
        }
        #expect(refused?.host == "127.0.0.1:\(refusing.endpoint.port!)")
        #expect(refused?.detail.contains("curl error 7") == true, "\(String(describing: refused))")

        // The server answers only once the test lets it, after the client has given up.
        let answer = DispatchSemaphore(value: 0)
        let slow = try LocalHTTPServer { _ in
            answer.wait()
            return .init(status: 200)
        }
        let timedOut = await #expect(throws: AWSTransportError.self) {
            try await transport.send(request("GET", slow.endpoint), timeout: .milliseconds(300))
        }
        answer.signal()
        slow.stop()
        #expect(timedOut?.detail.contains("curl error 28") == true, "\(String(describing: timedOut))")
    }

    @Test("cancelling the task ends a pending request with CancellationError, before the answer")
    func cancellation() async throws {
        // Events, not durations: the server holds the request until the test releases it, which
        // it does only after the cancelled request has ended; an ignored cancel would instead
        // end in the 30 s transfer timeout with an AWSTransportError.
        let received = AsyncGate()
        let answer = DispatchSemaphore(value: 0)
        let server = try LocalHTTPServer { _ in
            received.open()
            answer.wait()
            return .init(status: 200)
        }
        let pending = Task { try await transport.send(request("POST", server.endpoint, body: Data("{}".utf8)), timeout: .seconds(30)) }
        await received.wait()
        pending.cancel()
        await #expect(throws: CancellationError.self) { try await pending.value }
        answer.signal()
        server.stop()
    }
}
