import Foundation

/// ``ObjectStore`` on one S3 bucket.
///
/// S3 accepts any key, so keys are not re-validated here: callers that take keys from
/// uploads validate them with ``ObjectKey`` (see ``ObjectStore``). A missing object maps to
/// ``ObjectStoreError/notFound(_:)``; every other service or transport failure to
/// ``ObjectStoreError/backend(operation:key:detail:)`` carrying the ``AWSServiceError`` text
/// (HTTP status, code, request id).
public struct S3ObjectStore: ObjectStore {
    public let client: S3Client
    public let bucket: String

    public init(client: S3Client, bucket: String) {
        self.client = client
        self.bucket = bucket
    }

    public func put(_ data: Data, key: String, contentType: String?) async throws {
        try await map("put", key) { _ = try await client.putObject(bucket: bucket, key: key, body: data, contentType: contentType) }
    }

    public func get(key: String) async throws -> Data {
        try await map("get", key) { try await client.getObject(bucket: bucket, key: key).body }
    }

    public func head(key: String) async throws -> ObjectMetadata? {
        do {
            let head = try await map("head", key) { try await client.headObject(bucket: bucket, key: key) }
            return ObjectMetadata(key: key, size: head.contentLength, lastModified: head.lastModified ?? Date(timeIntervalSince1970: 0),
                                  eTag: head.eTag, contentType: head.contentType)
        } catch ObjectStoreError.notFound {
            return nil
        }
    }

    public func delete(key: String) async throws {
        try await map("delete", key) { try await client.deleteObject(bucket: bucket, key: key) }
    }

    public func list(prefix: String) async throws -> [ObjectMetadata] {
        let objects = try await map("list", prefix) {
            try await client.listAllObjects(bucket: bucket, prefix: prefix.isEmpty ? nil : prefix)
        }
        return objects.map {
            ObjectMetadata(key: $0.key, size: $0.size, lastModified: $0.lastModified ?? Date(timeIntervalSince1970: 0),
                           eTag: $0.eTag, contentType: nil)
        }.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
    }

    private func map<T>(_ operation: String, _ key: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as AWSServiceError {
            if error.statusCode == 404 && (error.code == "NoSuchKey" || error.code == "NotFound") {
                throw ObjectStoreError.notFound(key)
            }
            throw ObjectStoreError.backend(operation: operation, key: key, detail: error.description)
        } catch let error as AWSClientError {
            throw ObjectStoreError.backend(operation: operation, key: key, detail: error.description)
        }
    }
}
