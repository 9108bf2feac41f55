import Crypto
import Foundation

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`), header and query (presigned URL) forms.
///
/// Follows botocore's `SigV4Auth`/`S3SigV4Auth`/`S3SigV4QueryAuth` byte for byte (checked by
/// the AWS test suite and by goldens from botocore itself):
/// - S3 signs the path exactly as sent; every other service signs the path after removing dot
///   segments and empty segments and percent-encoding it once more (so an on-the-wire `%20`
///   is signed as `%2520`, as AWS documents for non-S3 services).
/// - Headers are lower-cased, values trimmed with inner whitespace runs collapsed, repeated
///   names joined with `,` in order; `user-agent`, `expect`, `transfer-encoding` and
///   `x-amzn-trace-id` are never signed because proxies and HTTP stacks rewrite them.
/// - S3 requests carry `x-amz-content-sha256` (the body's SHA-256 or `UNSIGNED-PAYLOAD`);
///   other services sign the body hash without sending it.
public struct SigV4Signer: Sendable {
    /// How the canonical URI is derived from the request path.
    public enum PathCanonicalization: Sendable, Hashable {
        /// S3: the path exactly as sent.
        case verbatim
        /// Every other service: normalise dot/empty segments, then URI-encode again.
        case normalizedAndEncoded
    }

    /// What stands in the canonical request for the body.
    public enum Payload: Sendable, Hashable {
        /// The hex SHA-256 of the body.
        case signed
        /// The literal `UNSIGNED-PAYLOAD` (S3 only; the body is then not covered).
        case unsigned
    }

    /// The pieces of one signature, for logging-free debugging and for tests.
    public struct Signature: Sendable, Hashable {
        public let canonicalRequest: String
        public let stringToSign: String
        /// Lower-case hex HMAC.
        public let signature: String
        /// `host;x-amz-date;...`
        public let signedHeaders: String
        /// The whole `Authorization` header value (empty for presigned URLs).
        public let authorization: String
    }

    /// The signing name: `s3`, `sqs`, `ec2`, ...
    public let service: String
    public let region: String
    public let pathCanonicalization: PathCanonicalization
    /// Whether to send `x-amz-content-sha256` (S3 requires it).
    public let sendsContentSHA256: Bool

    static let algorithm = "AWS4-HMAC-SHA256"
    static let unsignedPayload = "UNSIGNED-PAYLOAD"
    static let neverSigned: Set<String> = ["authorization", "user-agent", "expect", "transfer-encoding", "x-amzn-trace-id"]

    /// A signer for `service` in `region`; S3's path and payload rules are chosen when
    /// `service` is `s3`.
    public init(service: String, region: String) {
        self.service = service
        self.region = region
        let isS3 = service == "s3"
        self.pathCanonicalization = isS3 ? .verbatim : .normalizedAndEncoded
        self.sendsContentSHA256 = isS3
    }

    public init(service: String, region: String, pathCanonicalization: PathCanonicalization, sendsContentSHA256: Bool) {
        self.service = service
        self.region = region
        self.pathCanonicalization = pathCanonicalization
        self.sendsContentSHA256 = sendsContentSHA256
    }

    // MARK: Header signing

    /// Signs `request` as botocore's `add_auth` does: replaces `X-Amz-Date` (and any old
    /// `Authorization`), adds `X-Amz-Security-Token` for session credentials and, for S3,
    /// `X-Amz-Content-SHA256`, then adds `Authorization`.
    public func sign(_ request: AWSHTTPRequest, credentials: AWSCredentials, date: Date,
                     payload: Payload = .signed) -> (request: AWSHTTPRequest, signature: Signature) {
        var signed = request
        let timestamp = Self.timestamp(date)
        signed.removeHeader("Authorization")
        signed.setHeader("X-Amz-Date", timestamp)
        if let token = credentials.sessionToken {
            signed.setHeader("X-Amz-Security-Token", token)
        }
        let payloadHash = payload == .unsigned ? Self.unsignedPayload : Self.hexSHA256(request.body)
        if sendsContentSHA256 {
            signed.setHeader("X-Amz-Content-SHA256", payloadHash)
        }
        let result = signature(for: signed, credentials: credentials, timestamp: timestamp, payloadHash: payloadHash)
        signed.setHeader("Authorization", result.authorization)
        return (signed, result)
    }

    /// Computes the signature of `request` as it stands (its headers are not changed).
    /// `payloadHash` defaults to the request's `x-amz-content-sha256` header if present, else
    /// the SHA-256 of the body.
    public func signature(for request: AWSHTTPRequest, credentials: AWSCredentials, timestamp: String,
                          payloadHash: String? = nil) -> Signature {
        let hash = payloadHash ?? request.headerValues("x-amz-content-sha256").first ?? Self.hexSHA256(request.body)
        let (canonical, signedHeaders) = canonicalRequest(request, payloadHash: hash)
        let toSign = stringToSign(canonicalRequest: canonical, timestamp: timestamp)
        let key = Self.signingKey(secretAccessKey: credentials.secretAccessKey, dateStamp: String(timestamp.prefix(8)),
                                  region: region, service: service)
        let signature = Self.hexHMAC(key: key, toSign)
        let scope = credentialScope(timestamp: timestamp)
        let authorization = "\(Self.algorithm) Credential=\(credentials.accessKeyId)/\(scope), "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return Signature(canonicalRequest: canonical, stringToSign: toSign, signature: signature,
                         signedHeaders: signedHeaders, authorization: authorization)
    }

    // MARK: Query signing (presigned URLs)

    /// A presigned URL for `request` (S3 GET or PUT; the body is not covered: the payload is
    /// `UNSIGNED-PAYLOAD`). The query gets the operation's own parameters first, then
    /// `X-Amz-Algorithm`, `-Credential`, `-Date`, `-Expires`, `-SignedHeaders`,
    /// `-Security-Token` and finally `X-Amz-Signature`, in botocore's order.
    /// - Parameters:
    ///   - request: the request to presign.
    ///   - credentials: the keys it is signed with.
    ///   - date: the signing time (the validity starts then).
    ///   - expires: validity in seconds, 1...604800 (seven days), as AWS allows.
    public func presignedURL(for request: AWSHTTPRequest, credentials: AWSCredentials, date: Date,
                             expires: Int) throws(SigV4Error) -> (url: URL, signature: Signature) {
        guard (1...604_800).contains(expires) else { throw .invalidExpiry(expires) }
        var presigned = request
        presigned.removeHeader("Authorization")
        let timestamp = Self.timestamp(date)
        let signedHeaders = canonicalHeaders(presigned).signedHeaders
        var auth = [
            AWSQueryItem("X-Amz-Algorithm", Self.algorithm),
            AWSQueryItem("X-Amz-Credential", "\(credentials.accessKeyId)/\(credentialScope(timestamp: timestamp))"),
            AWSQueryItem("X-Amz-Date", timestamp),
            AWSQueryItem("X-Amz-Expires", String(expires)),
            AWSQueryItem("X-Amz-SignedHeaders", signedHeaders),
        ]
        if let token = credentials.sessionToken { auth.append(AWSQueryItem("X-Amz-Security-Token", token)) }
        presigned.query += auth
        let result = signature(for: presigned, credentials: credentials, timestamp: timestamp,
                               payloadHash: Self.unsignedPayload)
        presigned.query.append(AWSQueryItem("X-Amz-Signature", result.signature))
        guard let url = presigned.url else { throw .invalidURL(host: request.host, path: request.path) }
        return (url, Signature(canonicalRequest: result.canonicalRequest, stringToSign: result.stringToSign,
                               signature: result.signature, signedHeaders: result.signedHeaders, authorization: ""))
    }

    // MARK: The steps

    /// Task 1: the canonical request and its signed-headers list.
    public func canonicalRequest(_ request: AWSHTTPRequest, payloadHash: String) -> (String, signedHeaders: String) {
        let (headerBlock, signedHeaders) = canonicalHeaders(request)
        let lines = [
            request.method.uppercased(),
            canonicalURI(request.path),
            canonicalQuery(request.query),
            headerBlock + "\n",
            signedHeaders,
            payloadHash,
        ]
        return (lines.joined(separator: "\n"), signedHeaders)
    }

    /// Task 2: the string to sign.
    public func stringToSign(canonicalRequest: String, timestamp: String) -> String {
        [Self.algorithm, timestamp, credentialScope(timestamp: timestamp),
         Self.hexSHA256(Data(canonicalRequest.utf8))].joined(separator: "\n")
    }

    /// `yyyymmdd/region/service/aws4_request`
    public func credentialScope(timestamp: String) -> String {
        "\(timestamp.prefix(8))/\(region)/\(service)/aws4_request"
    }

    /// Task 3: the signing key, `HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request")`.
    public static func signingKey(secretAccessKey: String, dateStamp: String, region: String, service: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(secretAccessKey)".utf8))
        for part in [dateStamp, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    func canonicalURI(_ path: String) -> String {
        switch pathCanonicalization {
        case .verbatim:
            return path.isEmpty ? "/" : path
        case .normalizedAndEncoded:
            return AWSURIEncoding.encode(Self.removeDotSegments(path), keepSlash: true)
        }
    }

    func canonicalQuery(_ items: [AWSQueryItem]) -> String {
        items.map { (AWSURIEncoding.encode($0.name), AWSURIEncoding.encode($0.value)) }
            .sorted { lhs, rhs in
                if lhs.0 != rhs.0 { return lhs.0.utf8.lexicographicallyPrecedes(rhs.0.utf8) }
                return lhs.1.utf8.lexicographicallyPrecedes(rhs.1.utf8)
            }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    func canonicalHeaders(_ request: AWSHTTPRequest) -> (block: String, signedHeaders: String) {
        var values: [String: [String]] = [:]
        for header in request.headers {
            let name = header.name.lowercased().trimmingCharacters(in: .whitespaces)
            if Self.neverSigned.contains(name) { continue }
            values[name, default: []].append(Self.trimAll(header.value))
        }
        if values["host"] == nil { values["host"] = [request.hostHeaderValue] }
        let names = values.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let block = names.map { "\($0):\(values[$0]!.joined(separator: ","))" }.joined(separator: "\n")
        return (block, names.joined(separator: ";"))
    }

    /// Trims a header value and collapses each run of whitespace (spaces, tabs, the line
    /// breaks of a folded header) into one space.
    static func trimAll(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\u{0B}" || $0 == "\u{0C}" })
            .joined(separator: " ")
    }

    /// RFC 3986 dot-segment removal plus the collapsing of empty segments that AWS services
    /// expect (botocore's `remove_dot_segments`).
    static func removeDotSegments(_ path: String) -> String {
        guard !path.isEmpty else { return "/" }
        var output: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." {
                if !output.isEmpty { output.removeLast() }
            } else {
                output.append(segment)
            }
        }
        let first = path.hasPrefix("/") ? "/" : ""
        let last = path.hasSuffix("/") && !output.isEmpty ? "/" : ""
        return first + output.joined(separator: "/") + last
    }

    // MARK: Primitives

    /// `yyyyMMdd'T'HHmmss'Z'` in UTC.
    public static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func pad(_ v: Int?, _ width: Int) -> String {
            let s = String(v ?? 0)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return pad(c.year, 4) + pad(c.month, 2) + pad(c.day, 2) + "T" + pad(c.hour, 2) + pad(c.minute, 2) + pad(c.second, 2) + "Z"
    }

    /// Parses a SigV4 timestamp back into a date (for tests and for replaying fixtures).
    public static func date(fromTimestamp text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z") else { return nil }
        func num(_ range: Range<Int>) -> Int? { Int(String(decoding: bytes[range], as: UTF8.self)) }
        guard let y = num(0..<4), let mo = num(4..<6), let d = num(6..<8),
              let h = num(9..<11), let mi = num(11..<13), let s = num(13..<15) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: DateComponents(year: y, month: mo, day: d, hour: h, minute: mi, second: s))
    }

    public static func hexSHA256(_ data: Data) -> String {
        hex(SHA256.hash(data: data))
    }

    static func hexHMAC(key: SymmetricKey, _ message: String) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: key))
    }

    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Why a request could not be signed.
public enum SigV4Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// `X-Amz-Expires` must be 1...604800 seconds.
    case invalidExpiry(Int)
    /// The request's host and path do not form a URL.
    case invalidURL(host: String, path: String)

    public var description: String {
        switch self {
        case .invalidExpiry(let seconds):
            return "presigned URL expiry \(seconds) s is outside 1...604800 s"
        case .invalidURL(let host, let path):
            return "cannot form a URL from host \(host.debugDescription) and path \(path.debugDescription)"
        }
    }
}
