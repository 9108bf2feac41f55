import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

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
/// stack; the clients use ``URLSessionTransport``.
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

/// ``AWSHTTPTransport`` on Foundation's `URLSession` (`FoundationNetworking` on Linux).
public struct URLSessionTransport: AWSHTTPTransport {
    let session: URLSession

    /// A transport on its own ephemeral session: no cookies, no URL cache (responses carry
    /// signed, per-request content that must never be served from a cache).
    public init() {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        self.session = URLSession(configuration: configuration)
    }

    public func send(_ request: AWSHTTPRequest, timeout: Duration) async throws -> AWSHTTPResponse {
        guard let url = request.url else {
            throw AWSTransportError(host: request.hostHeaderValue, detail: "cannot form a URL for path \(request.path.debugDescription)")
        }
        var urlRequest = URLRequest(url: url)
        urlRequest.httpMethod = request.method
        // Whole seconds, at least one: FoundationNetworking hands the interval to libcurl,
        // where a sub-second value makes requests fail at once with a timeout (-1001).
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) * 1e-18
        urlRequest.timeoutInterval = max(1, seconds.rounded(.up))
        for header in request.headers where header.name.lowercased() != "host" {
            urlRequest.addValue(header.value, forHTTPHeaderField: header.name)
        }
        if !request.body.isEmpty || ["PUT", "POST"].contains(request.method) {
            urlRequest.httpBody = request.body
        }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: urlRequest)
        } catch {
            throw AWSTransportError(host: request.hostHeaderValue, detail: Self.describe(error))
        }
        guard let http = response as? HTTPURLResponse else {
            throw AWSTransportError(host: request.hostHeaderValue, detail: "response was not HTTP")
        }
        var headers: [String: String] = [:]
        for (key, value) in http.allHeaderFields {
            if let key = key as? String, let value = value as? String { headers[key.lowercased()] = value }
        }
        return AWSHTTPResponse(statusCode: http.statusCode, headers: headers, body: data)
    }

    static func describe(_ error: any Error) -> String {
        if let urlError = error as? URLError {
            return "URLError \(urlError.code.rawValue) (\(urlError.localizedDescription))"
        }
        return String(describing: error)
    }
}
