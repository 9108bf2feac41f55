import Foundation

/// A collection as stored.
public struct CollectionRecord: Sendable, Equatable {
    public var id: String
    public var createdAt: Date
    public var faceModelVersion: String

    public init(id: String, createdAt: Date, faceModelVersion: String) {
        self.id = id
        self.createdAt = createdAt
        self.faceModelVersion = faceModelVersion
    }
}

/// A face as stored: its identity, where it was found, and its embedding.
public struct FaceRecordValue: Sendable, Equatable {
    public var faceId: String
    public var imageId: String
    public var externalImageId: String?
    /// Ratios of the image's width and height.
    public var box: BoundingBox
    /// 0–100.
    public var confidence: Float
    public var userId: String?
    /// Unit-length FaceNet embedding.
    public var embedding: [Float]

    public init(faceId: String, imageId: String, externalImageId: String?, box: BoundingBox, confidence: Float,
                userId: String?, embedding: [Float]) {
        self.faceId = faceId
        self.imageId = imageId
        self.externalImageId = externalImageId
        self.box = box
        self.confidence = confidence
        self.userId = userId
        self.embedding = embedding
    }
}

/// A user as stored (its faces are the faces whose `userId` names it).
public struct UserRecord: Sendable, Equatable {
    public var userId: String
    /// The idempotency token of the CreateUser call that made it, so an SDK's retry succeeds.
    public var clientRequestToken: String?

    public init(userId: String, clientRequestToken: String?) {
        self.userId = userId
        self.clientRequestToken = clientRequestToken
    }
}

/// Everything stored about one collection.
public struct CollectionContents: Sendable {
    public var collection: CollectionRecord
    public var faces: [FaceRecordValue]
    public var users: [UserRecord]
}

/// Where collections, faces and users persist: the durable side of ``FaceCollections``, which
/// serves reads and searches from memory. Each method is one atomic change; the in-memory side
/// applies a change only after the store has taken it.
public protocol FaceCollectionStore: Sendable {
    /// Every collection with its faces and users (read once at start-up).
    func loadAll() async throws -> [CollectionContents]
    /// - Throws: ``FaceCollectionStoreError/alreadyExists(_:)`` when the id is taken.
    func createCollection(_ collection: CollectionRecord) async throws
    /// Removes the collection, its faces and users.
    func deleteCollection(_ id: String) async throws
    func insertFaces(_ faces: [FaceRecordValue], collection: String) async throws
    func deleteFaces(_ faceIds: [String], collection: String) async throws
    func createUser(_ user: UserRecord, collection: String) async throws
    /// Removes the user and clears its faces' association.
    func deleteUser(_ userId: String, collection: String) async throws
    /// Sets (or, with nil, clears) the user of each face.
    func setUser(_ userId: String?, faceIds: [String], collection: String) async throws
}

public enum FaceCollectionStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case alreadyExists(String)
    case storage(String)

    public var description: String {
        switch self {
        case .alreadyExists(let id): return "collection \(id) already exists"
        case .storage(let detail): return "collection storage failed: \(detail)"
        }
    }
}
