import Foundation

/// A flat key → bytes store with S3 semantics: the seam between the recognition service and
/// S3 (`AWS/`) or the embedded ``DirectoryObjectStore`` (`Local/`).
///
/// Keys are `/`-separated strings. Backends that map keys onto a file system validate them with
/// ``ObjectKey`` and throw ``ObjectStoreError/invalidKey(_:_:)``; callers that accept keys from
/// the outside world (uploads) should validate with ``ObjectKey`` themselves so that every
/// backend sees the same, safe key space.
///
/// Errors: conditions a caller is expected to handle are reported as ``ObjectStoreError``;
/// transport or storage failures may surface as the backend's own error types.
public protocol ObjectStore: Sendable {
    /// Stores `data` under `key`, replacing any existing object. The write is atomic: a
    /// concurrent `get` sees either the old or the new bytes, never a mixture.
    func put(_ data: Data, key: String, contentType: String?) async throws

    /// The bytes stored under `key`.
    /// - Throws: ``ObjectStoreError/notFound(_:)`` when there is no such object.
    func get(key: String) async throws -> Data

    /// Metadata for `key`, or `nil` when there is no such object.
    func head(key: String) async throws -> ObjectMetadata?

    /// Removes `key`. Idempotent: deleting an absent key succeeds, as on S3.
    func delete(key: String) async throws

    /// Every object whose key starts with `prefix` (all pages), sorted by the keys' UTF-8 bytes
    /// as S3 sorts them. `contentType` may be `nil` in list results (S3 does not return it).
    func list(prefix: String) async throws -> [ObjectMetadata]
}

extension ObjectStore {
    /// Stores `data` under `key` with no content type.
    public func put(_ data: Data, key: String) async throws {
        try await put(data, key: key, contentType: nil)
    }
}

/// What a store knows about one object without reading its bytes.
public struct ObjectMetadata: Sendable, Hashable, Codable {
    /// The object's full key.
    public let key: String
    /// Size in bytes.
    public let size: Int64
    /// When the object was last written.
    public let lastModified: Date
    /// An opaque version tag that changes when the content changes (S3's ETag without quotes;
    /// the directory store uses a SHA-256 prefix of the bytes). `nil` if the backend has none.
    public let eTag: String?
    /// The content type given to `put`, when the backend reports it.
    public let contentType: String?

    public init(key: String, size: Int64, lastModified: Date, eTag: String?, contentType: String?) {
        self.key = key
        self.size = size
        self.lastModified = lastModified
        self.eTag = eTag
        self.contentType = contentType
    }
}

/// Conditions an ``ObjectStore`` caller is expected to handle.
public enum ObjectStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No object is stored under the key.
    case notFound(String)
    /// The key was rejected before touching storage (see ``ObjectKeyError``).
    case invalidKey(String, ObjectKeyError)
    /// The backend failed while working on the key; `operation` is e.g. `"put"`, `detail` the
    /// underlying cause (errno text, HTTP status and S3 error code, ...).
    case backend(operation: String, key: String, detail: String)

    public var description: String {
        switch self {
        case .notFound(let key):
            return "object not found: \(key.debugDescription)"
        case .invalidKey(let key, let reason):
            return "invalid object key \(key.debugDescription): \(reason)"
        case .backend(let operation, let key, let detail):
            return "object store \(operation) failed for key \(key.debugDescription): \(detail)"
        }
    }
}
