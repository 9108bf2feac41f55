import CloudPipeline
import Crypto
import Foundation

/// An incoming request as SigV4 sees it: what the client signed.
public struct IncomingSignedRequest: Sendable {
    public var method: String
    /// The path as it appeared on the request line.
    public var path: String
    /// The raw query string (without `?`).
    public var query: String
    /// Every header as received, `host` included.
    public var headers: [AWSHTTPHeader]
    public var body: Data

    public init(method: String, path: String, query: String, headers: [AWSHTTPHeader], body: Data) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }
}

/// Who signed a verified request.
public struct VerifiedCaller: Sendable, Equatable {
    public let accessKeyId: String
    public let readOnly: Bool
    /// The region of the credential scope (the SDK's configured region).
    public let region: String
}

/// Checks AWS Signature Version 4 (`Authorization` header form) on requests to this server.
///
/// The canonical request and the signature are computed by the same `SigV4Signer` that signs
/// the pipeline's own S3/SQS requests (tested against the AWS SigV4 suite and botocore), over
/// the headers the client lists in `SignedHeaders` and the SHA-256 of the body actually
/// received, so a changed body or header fails like a wrong secret. Also checked: the
/// credential scope names `service` and the request's own date, and `X-Amz-Date` is within
/// ``clockSkewLimit`` of the server's clock (a replayed or expired request is refused).
public struct SigV4Verifier: Sendable {
    public let keys: RekognitionKeys
    public let service: String
    public let clockSkewLimit: Duration

    /// AWS allows 5 minutes of skew.
    public static let defaultClockSkewLimit: Duration = .seconds(300)

    public init(keys: RekognitionKeys, service: String = "rekognition", clockSkewLimit: Duration = defaultClockSkewLimit) {
        self.keys = keys
        self.service = service
        self.clockSkewLimit = clockSkewLimit
    }

    /// The caller, or the error AWS gives for the first problem found.
    public func verify(_ request: IncomingSignedRequest, now: Date) throws(RekognitionError) -> VerifiedCaller {
        func header(_ name: String) -> [String] {
            request.headers.filter { $0.name.lowercased() == name }.map(\.value)
        }
        guard let authorization = header("authorization").first else { throw .missingAuthenticationToken }
        let auth = try Self.parseAuthorization(authorization)
        let scope = auth.credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard scope.count == 5, scope[4] == "aws4_request" else {
            throw .incompleteSignature("Credential should be scoped to a valid region, service and date: \(auth.credential)")
        }
        let (accessKeyId, dateStamp, region, scopeService) = (scope[0], scope[1], scope[2], scope[3])
        guard scopeService == service else {
            throw .invalidSignature("Credential should be scoped to correct service: '\(service)'.")
        }
        guard let key = keys.key(for: accessKeyId) else { throw .unrecognizedClient }
        guard let timestamp = header("x-amz-date").first, let signedAt = SigV4Signer.date(fromTimestamp: timestamp) else {
            throw .incompleteSignature("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        }
        let skew = Duration.seconds(abs(now.timeIntervalSince(signedAt)))
        if skew > clockSkewLimit {
            let earliest = SigV4Signer.timestamp(now.addingTimeInterval(-Self.seconds(clockSkewLimit)))
            let latest = SigV4Signer.timestamp(now.addingTimeInterval(Self.seconds(clockSkewLimit)))
            throw .invalidSignature(signedAt < now
                ? "Signature expired: \(timestamp) is now earlier than \(earliest) (\(SigV4Signer.timestamp(now)) - 5 min.)"
                : "Signature not yet current: \(timestamp) is still later than \(latest) (\(SigV4Signer.timestamp(now)) + 5 min.)")
        }
        guard timestamp.hasPrefix(dateStamp) else {
            throw .invalidSignature("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '\(dateStamp)' != '\(timestamp.prefix(8))'")
        }
        let signedNames = auth.signedHeaders.split(separator: ";").map { String($0) }
        guard signedNames.contains("host") else {
            throw .invalidSignature("'Host' must be a 'SignedHeader' in the AWS Authorization.")
        }
        let bodyHash = SigV4Signer.hexSHA256(request.body)
        if let claimed = header("x-amz-content-sha256").first, claimed != bodyHash {
            throw .invalidSignature("The provided 'x-amz-content-sha256' header does not match what was computed.")
        }
        // Only the headers the client signed, in the order received (repeated names keep their order).
        let wanted = Set(signedNames)
        let headers = request.headers.filter { wanted.contains($0.name.lowercased()) }
        let present = Set(headers.map { $0.name.lowercased() })
        if let missing = signedNames.first(where: { !present.contains($0) }) {
            throw .invalidSignature("The header '\(missing)' is signed but was not sent.")
        }
        let canonical = AWSHTTPRequest(method: request.method, host: "", path: request.path.isEmpty ? "/" : request.path,
                                       query: AWSURIEncoding.parseQuery(request.query), headers: headers, body: request.body)
        let signer = SigV4Signer(service: service, region: region)
        let expected = signer.signature(for: canonical,
                                        credentials: AWSCredentials(accessKeyId: accessKeyId, secretAccessKey: key.secretAccessKey),
                                        timestamp: timestamp, payloadHash: bodyHash)
        guard expected.signedHeaders == signedNames.joined(separator: ";"),
              Self.constantTimeEquals(Array(expected.signature.utf8), Array(auth.signature.utf8)) else {
            throw .signatureMismatch
        }
        return VerifiedCaller(accessKeyId: accessKeyId, readOnly: key.readOnly, region: region)
    }

    struct Authorization: Equatable {
        let credential: String
        let signedHeaders: String
        let signature: String
    }

    /// `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=hex`
    static func parseAuthorization(_ value: String) throws(RekognitionError) -> Authorization {
        let prefix = "AWS4-HMAC-SHA256 "
        guard value.hasPrefix(prefix) else {
            throw .incompleteSignature("Unsupported authorization type; only AWS4-HMAC-SHA256 is accepted.")
        }
        var fields: [String: String] = [:]
        for part in value.dropFirst(prefix.count).split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            guard let equals = trimmed.firstIndex(of: "=") else { continue }
            fields[String(trimmed[..<equals])] = String(trimmed[trimmed.index(after: equals)...])
        }
        guard let credential = fields["Credential"], let signedHeaders = fields["SignedHeaders"],
              let signature = fields["Signature"] else {
            throw .incompleteSignature("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.")
        }
        return Authorization(credential: credential, signedHeaders: signedHeaders, signature: signature)
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
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
