import Foundation

/// How the bucket appears in S3 URLs.
public enum S3AddressingStyle: Sendable, Hashable {
    /// `https://endpoint/bucket/key` (moto, LocalStack, names with dots).
    case path
    /// `https://bucket.endpoint/key` (AWS's default).
    case virtualHosted
}

/// A byte range for GetObject, as in the HTTP `Range` header.
public enum S3ByteRange: Sendable, Hashable {
    /// Bytes `first...last`, inclusive.
    case closed(first: Int64, last: Int64)
    /// From `first` to the end.
    case from(Int64)
    /// The last `count` bytes.
    case suffix(Int64)

    var headerValue: String {
        switch self {
        case .closed(let first, let last): return "bytes=\(first)-\(last)"
        case .from(let first): return "bytes=\(first)-"
        case .suffix(let count): return "bytes=-\(count)"
        }
    }
}

/// What PutObject returns.
public struct S3PutObjectResult: Sendable, Hashable {
    /// The ETag without its quotes.
    public let eTag: String?
}

/// Object metadata from HeadObject/GetObject headers.
public struct S3ObjectHead: Sendable, Hashable {
    public let contentLength: Int64
    public let contentType: String?
    /// Without quotes.
    public let eTag: String?
    public let lastModified: Date?
    /// `x-amz-meta-*` headers, names without the prefix, lower-case.
    public let metadata: [String: String]
}

/// What GetObject returns.
public struct S3GetObjectResult: Sendable, Hashable {
    public let body: Data
    public let head: S3ObjectHead
    /// `bytes first-last/total` for ranged reads.
    public let contentRange: String?
}

/// One entry of a listing.
public struct S3ObjectSummary: Sendable, Hashable {
    public let key: String
    public let size: Int64
    public let eTag: String?
    public let lastModified: Date?
}

/// One page of ListObjectsV2.
public struct S3ListObjectsPage: Sendable, Hashable {
    public let objects: [S3ObjectSummary]
    public let commonPrefixes: [String]
    public let isTruncated: Bool
    /// Pass to the next call to get the next page; `nil` on the last page.
    public let nextContinuationToken: String?
}

/// A bucket notification to an SQS queue.
public struct S3QueueNotification: Sendable, Hashable {
    public var id: String?
    /// `arn:aws:sqs:region:account:name`
    public var queueArn: String
    /// e.g. `s3:ObjectCreated:*`
    public var events: [String]
    public var prefix: String?
    public var suffix: String?

    public init(id: String? = nil, queueArn: String, events: [String], prefix: String? = nil, suffix: String? = nil) {
        self.id = id
        self.queueArn = queueArn
        self.events = events
        self.prefix = prefix
        self.suffix = suffix
    }
}

/// The HTTP method a presigned URL allows.
public enum S3PresignedMethod: String, Sendable {
    case get = "GET"
    case put = "PUT"
}
