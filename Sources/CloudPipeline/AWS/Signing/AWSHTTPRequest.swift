import Foundation

/// One name/value pair of a query string, held decoded; encoding happens when the request is
/// signed or sent, so the wire form and the canonical form can never disagree.
public struct AWSQueryItem: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// One HTTP header as sent. Headers are kept as an ordered list (not a dictionary) because a
/// request may repeat a name, and SigV4 joins repeated values in their original order.
public struct AWSHTTPHeader: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// An HTTP request in the shape SigV4 needs: method, scheme/host, the path exactly as it goes
/// on the wire, decoded query items, ordered headers and the body bytes.
public struct AWSHTTPRequest: Sendable {
    public var method: String
    /// `http` or `https`.
    public var scheme: String
    /// Host name, without the port.
    public var host: String
    /// Port, or `nil` for the scheme's default.
    public var port: Int?
    /// The path as it appears on the request line (already percent-encoded by the caller that
    /// built it; S3 object paths come from ``AWSURIEncoding/encodeS3Path(_:)``).
    public var path: String
    public var query: [AWSQueryItem]
    public var headers: [AWSHTTPHeader]
    public var body: Data

    public init(method: String, scheme: String = "https", host: String, port: Int? = nil, path: String = "/",
                query: [AWSQueryItem] = [], headers: [AWSHTTPHeader] = [], body: Data = Data()) {
        self.method = method
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// Builds a request for `path` (already encoded) on the server at `endpoint`.
    public init(method: String, endpoint: URL, path: String, query: [AWSQueryItem] = [],
                headers: [AWSHTTPHeader] = [], body: Data = Data()) {
        let components = URLComponents(url: endpoint, resolvingAgainstBaseURL: false)
        let scheme = components?.scheme?.lowercased() ?? "https"
        let basePath = components?.percentEncodedPath ?? ""
        let trimmedBase = basePath.hasSuffix("/") ? String(basePath.dropLast()) : basePath
        self.init(method: method, scheme: scheme, host: components?.host ?? "", port: components?.port,
                  path: trimmedBase + path, query: query, headers: headers, body: body)
    }

    /// The value SigV4 signs as `host`: the host name, plus the port when it is not the
    /// scheme's default (as botocore and the HTTP client both write it).
    public var hostHeaderValue: String {
        let defaultPort = scheme == "https" ? 443 : (scheme == "http" ? 80 : nil)
        let name = host.contains(":") ? "[\(host)]" : host
        if let port, port != defaultPort { return "\(name):\(port)" }
        return name
    }

    /// The query string as sent: names and values percent-encoded with SigV4's rules, in the
    /// items' order.
    public var encodedQuery: String {
        query.map { AWSURIEncoding.encode($0.name) + "=" + AWSURIEncoding.encode($0.value) }
            .joined(separator: "&")
    }

    /// The full URL of the request.
    public var url: URL? {
        var text = "\(scheme)://\(hostHeaderValue)\(path.isEmpty ? "/" : path)"
        if !query.isEmpty { text += "?" + encodedQuery }
        return URL(string: text)
    }

    /// Every value of the header `name` (case-insensitive), in order.
    public func headerValues(_ name: String) -> [String] {
        let lower = name.lowercased()
        return headers.filter { $0.name.lowercased() == lower }.map(\.value)
    }

    /// Replaces every header called `name` (case-insensitive) with one header.
    public mutating func setHeader(_ name: String, _ value: String) {
        removeHeader(name)
        headers.append(AWSHTTPHeader(name, value))
    }

    /// Removes every header called `name` (case-insensitive).
    public mutating func removeHeader(_ name: String) {
        let lower = name.lowercased()
        headers.removeAll { $0.name.lowercased() == lower }
    }
}
