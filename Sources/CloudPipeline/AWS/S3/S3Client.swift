import Foundation

/// A small S3 client (REST-XML, SigV4 with `x-amz-content-sha256`).
///
/// Retries (see ``AWSRetryStrategy``) apply to GetObject, HeadObject, PutObject, DeleteObject,
/// ListObjectsV2 and PutBucketNotificationConfiguration, which are idempotent: repeating them
/// leaves the bucket as one call would. CreateBucket is not retried (a repeat after a lost
/// response would answer `BucketAlreadyOwnedByYou`).
public struct S3Client: Sendable {
    let core: AWSServiceCore
    public let addressingStyle: S3AddressingStyle
    /// Whether bodies are hashed into the signature (`false`: `UNSIGNED-PAYLOAD`, only
    /// sensible over HTTPS).
    public let signsPayload: Bool

    static let xmlNamespace = "http://s3.amazonaws.com/doc/2006-03-01/"

    /// - Parameters:
    ///   - configuration: region, endpoint and credentials.
    ///   - addressingStyle: defaults to path style when an endpoint override is set
    ///     (moto and most S3 look-alikes need it), virtual-hosted otherwise.
    ///   - signsPayload: whether bodies are hashed into the signature (`false`:
    ///     `UNSIGNED-PAYLOAD`, only sensible over HTTPS).
    public init(configuration: AWSClientConfiguration, addressingStyle: S3AddressingStyle? = nil, signsPayload: Bool = true) {
        self.core = AWSServiceCore(service: "s3", configuration: configuration)
        self.addressingStyle = addressingStyle ?? (configuration.endpoint == nil ? .virtualHosted : .path)
        self.signsPayload = signsPayload
    }

    public var region: String { core.configuration.region }

    // MARK: Buckets

    /// Creates `bucket` in the client's region (with a `LocationConstraint` outside
    /// us-east-1, where S3 rejects one).
    public func createBucket(_ bucket: String) async throws {
        var body = Data()
        if region != "us-east-1" {
            body = Data(("<CreateBucketConfiguration xmlns=\"\(Self.xmlNamespace)\"><LocationConstraint>"
                         + AWSXMLElement.escape(region) + "</LocationConstraint></CreateBucketConfiguration>").utf8)
        }
        var request = try makeRequest("PUT", bucket: bucket, key: nil, operation: "CreateBucket", body: body)
        if !body.isEmpty { request.setHeader("Content-Type", "application/xml") }
        _ = try await core.execute(request, operation: "CreateBucket", idempotent: false, payload: payload)
    }

    /// Deletes the (empty) bucket.
    public func deleteBucket(_ bucket: String) async throws {
        let request = try makeRequest("DELETE", bucket: bucket, key: nil, operation: "DeleteBucket")
        _ = try await core.execute(request, operation: "DeleteBucket", idempotent: true, payload: payload)
    }

    /// Replaces the bucket's notification configuration with these queue notifications.
    public func putBucketNotificationConfiguration(bucket: String, queues: [S3QueueNotification]) async throws {
        var xml = "<NotificationConfiguration xmlns=\"\(Self.xmlNamespace)\">"
        for queue in queues {
            xml += "<QueueConfiguration>"
            if let id = queue.id { xml += "<Id>\(AWSXMLElement.escape(id))</Id>" }
            xml += "<Queue>\(AWSXMLElement.escape(queue.queueArn))</Queue>"
            for event in queue.events { xml += "<Event>\(AWSXMLElement.escape(event))</Event>" }
            if queue.prefix != nil || queue.suffix != nil {
                xml += "<Filter><S3Key>"
                if let prefix = queue.prefix { xml += "<FilterRule><Name>prefix</Name><Value>\(AWSXMLElement.escape(prefix))</Value></FilterRule>" }
                if let suffix = queue.suffix { xml += "<FilterRule><Name>suffix</Name><Value>\(AWSXMLElement.escape(suffix))</Value></FilterRule>" }
                xml += "</S3Key></Filter>"
            }
            xml += "</QueueConfiguration>"
        }
        xml += "</NotificationConfiguration>"
        var request = try makeRequest("PUT", bucket: bucket, key: nil, operation: "PutBucketNotificationConfiguration",
                                      query: [AWSQueryItem("notification", "")], body: Data(xml.utf8))
        request.setHeader("Content-Type", "application/xml")
        _ = try await core.execute(request, operation: "PutBucketNotificationConfiguration", idempotent: true, payload: payload)
    }

    // MARK: Objects

    /// Stores `body` under `key`. Without a `contentType` S3's default `binary/octet-stream`
    /// is sent explicitly (otherwise an HTTP stack may label the body as a form).
    @discardableResult
    public func putObject(bucket: String, key: String, body: Data, contentType: String? = nil,
                          metadata: [String: String] = [:]) async throws -> S3PutObjectResult {
        var request = try makeRequest("PUT", bucket: bucket, key: key, operation: "PutObject", body: body)
        request.setHeader("Content-Type", contentType ?? "binary/octet-stream")
        for (name, value) in metadata.sorted(by: { $0.key < $1.key }) {
            request.headers.append(AWSHTTPHeader("x-amz-meta-\(name.lowercased())", value))
        }
        let response = try await core.execute(request, operation: "PutObject", idempotent: true, payload: payload)
        return S3PutObjectResult(eTag: response.header("etag").map(Self.unquote))
    }

    /// Reads the object (or `range` of it).
    public func getObject(bucket: String, key: String, range: S3ByteRange? = nil) async throws -> S3GetObjectResult {
        var request = try makeRequest("GET", bucket: bucket, key: key, operation: "GetObject")
        if let range { request.setHeader("Range", range.headerValue) }
        let response = try await core.execute(request, operation: "GetObject", idempotent: true, payload: payload)
        return S3GetObjectResult(body: response.body, head: Self.head(from: response), contentRange: response.header("content-range"))
    }

    /// The object's metadata. A missing object throws ``AWSServiceError`` with status 404
    /// and code `NotFound` (HEAD responses have no body to carry `NoSuchKey`).
    public func headObject(bucket: String, key: String) async throws -> S3ObjectHead {
        let request = try makeRequest("HEAD", bucket: bucket, key: key, operation: "HeadObject")
        let response = try await core.execute(request, operation: "HeadObject", idempotent: true, payload: payload)
        return Self.head(from: response)
    }

    /// Deletes `key`; succeeds when it does not exist (as S3 does).
    public func deleteObject(bucket: String, key: String) async throws {
        let request = try makeRequest("DELETE", bucket: bucket, key: key, operation: "DeleteObject")
        _ = try await core.execute(request, operation: "DeleteObject", idempotent: true, payload: payload)
    }

    /// One page of keys starting with `prefix`, in UTF-8 byte order. Keys are requested with
    /// `encoding-type=url` (so keys that XML cannot carry survive) and decoded here.
    public func listObjectsV2(bucket: String, prefix: String? = nil, delimiter: String? = nil, maxKeys: Int? = nil,
                              continuationToken: String? = nil, startAfter: String? = nil) async throws -> S3ListObjectsPage {
        var query = [AWSQueryItem("list-type", "2"), AWSQueryItem("encoding-type", "url")]
        if let prefix { query.append(AWSQueryItem("prefix", prefix)) }
        if let delimiter { query.append(AWSQueryItem("delimiter", delimiter)) }
        if let maxKeys { query.append(AWSQueryItem("max-keys", String(maxKeys))) }
        if let continuationToken { query.append(AWSQueryItem("continuation-token", continuationToken)) }
        if let startAfter { query.append(AWSQueryItem("start-after", startAfter)) }
        let request = try makeRequest("GET", bucket: bucket, key: nil, operation: "ListObjectsV2", query: query)
        let response = try await core.execute(request, operation: "ListObjectsV2", idempotent: true, payload: payload)
        let xml = try core.xml(response, operation: "ListObjectsV2")
        let urlEncoded = xml.string("EncodingType") == "url"
        func key(_ text: String) -> String { urlEncoded ? Self.decodeListKey(text) : text }
        let objects = xml.children("Contents").map { item in
            S3ObjectSummary(key: key(item.string("Key") ?? ""), size: Int64(item.string("Size") ?? "") ?? 0,
                            eTag: item.string("ETag").map(Self.unquote),
                            lastModified: item.string("LastModified").flatMap(AWSDates.iso8601))
        }
        let prefixes = xml.children("CommonPrefixes").compactMap { $0.string("Prefix").map(key) }
        let truncated = xml.string("IsTruncated") == "true"
        let next = xml.string("NextContinuationToken").flatMap { $0.isEmpty ? nil : $0 }
        if truncated && next == nil {
            throw AWSClientError.invalidResponse(service: "s3", operation: "ListObjectsV2",
                                                 detail: "IsTruncated is true but NextContinuationToken is missing")
        }
        return S3ListObjectsPage(objects: objects, commonPrefixes: prefixes, isTruncated: truncated, nextContinuationToken: next)
    }

    /// Every object under `prefix`, following continuation tokens.
    public func listAllObjects(bucket: String, prefix: String? = nil, pageSize: Int? = nil) async throws -> [S3ObjectSummary] {
        var all: [S3ObjectSummary] = []
        var token: String?
        repeat {
            let page = try await listObjectsV2(bucket: bucket, prefix: prefix, maxKeys: pageSize, continuationToken: token)
            all += page.objects
            token = page.nextContinuationToken
        } while token != nil
        return all
    }

    // MARK: Presigned URLs

    /// A URL that lets its holder GET or PUT `key` without credentials until `expires`
    /// seconds after `date`.
    public func presignedURL(_ method: S3PresignedMethod, bucket: String, key: String, expires: Int = 3600,
                             date: Date? = nil) async throws -> URL {
        let credentials: AWSCredentials
        do {
            credentials = try await core.configuration.credentials.credentials()
        } catch let error as AWSCredentialsError {
            throw AWSClientError.credentials(error)
        }
        let request = try makeRequest(method.rawValue, bucket: bucket, key: key, operation: "Presign")
        return try core.signer.presignedURL(for: request, credentials: credentials, date: date ?? core.configuration.clock(),
                                            expires: expires).url
    }

    // MARK: Helpers

    private var payload: SigV4Signer.Payload { signsPayload ? .signed : .unsigned }

    func makeRequest(_ method: String, bucket: String, key: String?, operation: String,
                     query: [AWSQueryItem] = [], body: Data = Data()) throws -> AWSHTTPRequest {
        guard !bucket.isEmpty, !bucket.contains("/") else {
            throw AWSClientError.invalidArgument(operation: operation, field: "bucket", reason: "\(bucket.debugDescription) is not a bucket name")
        }
        if let key, key.isEmpty {
            throw AWSClientError.invalidArgument(operation: operation, field: "key", reason: "is empty")
        }
        let keyPath = key.map(AWSURIEncoding.encodeS3Path) ?? "/"
        switch addressingStyle {
        case .path:
            let path = "/" + AWSURIEncoding.encode(bucket) + (key == nil ? "" : keyPath)
            return AWSHTTPRequest(method: method, endpoint: core.endpoint, path: path, query: query, body: body)
        case .virtualHosted:
            var request = AWSHTTPRequest(method: method, endpoint: core.endpoint, path: keyPath, query: query, body: body)
            request.host = bucket + "." + request.host
            return request
        }
    }

    static func head(from response: AWSHTTPResponse) -> S3ObjectHead {
        var metadata: [String: String] = [:]
        for (name, value) in response.headers where name.hasPrefix("x-amz-meta-") {
            metadata[String(name.dropFirst("x-amz-meta-".count))] = value
        }
        return S3ObjectHead(contentLength: Int64(response.header("content-length") ?? "") ?? Int64(response.body.count),
                            contentType: response.header("content-type"),
                            eTag: response.header("etag").map(unquote),
                            lastModified: response.header("last-modified").flatMap(AWSDates.http),
                            metadata: metadata)
    }

    static func unquote(_ eTag: String) -> String {
        eTag.count >= 2 && eTag.hasPrefix("\"") && eTag.hasSuffix("\"") ? String(eTag.dropFirst().dropLast()) : eTag
    }

    /// `encoding-type=url` keys: form-style (`+` is a space), as botocore decodes them.
    static func decodeListKey(_ text: String) -> String {
        AWSURIEncoding.decode(text.replacingOccurrences(of: "+", with: " "))
    }
}
