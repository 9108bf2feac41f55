import Foundation

/// A response as the clients need it: status, headers (names lower-cased) and the body.
public struct AWSHTTPResponse: Sendable {
    public let statusCode: Int
    public let headers: [String: String]
    public let body: Data

    public init(statusCode: Int, headers: [String: String], body: Data) {
        self.statusCode = statusCode
        self.headers = headers
        self.body = body
    }

    /// Header value by case-insensitive name.
    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// Sends one HTTP request. The seam exists so that a caller can route through its own HTTP
/// stack; the clients use ``CurlTransport``.
public protocol AWSHTTPTransport: Sendable {
    /// Sends `request`, waiting at most `timeout` for the response. Throws
    /// ``AWSTransportError`` when no HTTP response arrived (connection refused, reset,
    /// timed out): those are the retryable "connection errors".
    func send(_ request: AWSHTTPRequest, timeout: Duration) async throws -> AWSHTTPResponse
}

/// A failure below HTTP: no status code was received.
public struct AWSTransportError: Error, Sendable, CustomStringConvertible {
    /// `host:port` the request went to.
    public let host: String
    public let detail: String

    public var description: String { "no HTTP response from \(host): \(detail)" }
}
