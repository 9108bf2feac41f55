import FaceRecognition
import Foundation
import Logging

/// Builds the Rekognition API's parts from the service's configuration, and imports galleries.
public enum RekognitionSetup {
    /// Collections persisted under `dataDirectory` (`collections.sqlite`), loaded into memory.
    public static func openCollections(dataDirectory: URL) async throws -> FaceCollections {
        try await FaceCollections(store: SQLiteFaceCollectionStore(dataDirectory: dataDirectory))
    }

    /// Runs `body` with the collections of `database`. On PostgreSQL this also runs, for the
    /// body's duration, the connection pool and the follower that keeps memory current with
    /// other replicas' writes (LISTEN/NOTIFY); the body starts once everything was read.
    /// A one-shot writer (an import) passes `followingOtherWriters: false`: it reads the
    /// collections once and does not listen.
    public static func withCollections<T: Sendable>(_ database: CollectionsDatabase, logger: Logger, followingOtherWriters: Bool = true,
                                                    _ body: (FaceCollections) async throws -> T) async throws -> T {
        switch database {
        case .sqlite(let directory):
            return try await body(openCollections(dataDirectory: directory))
        case .postgres(let url):
            return try await PostgresFaceCollectionStore.with(url, logger: logger) { store in
                guard followingOtherWriters else { return try await body(FaceCollections(store: store)) }
                return try await FaceCollections.following(store, body)
            }
        }
    }

    /// The analyzer for a recognizer's networks: its FaceNet, and MTCNN loaded again from
    /// `mtcnnWeights` with every face kept (the recognizer's own detector keeps the largest only).
    public static func makeAnalyzer(facenet: FaceNet, mtcnnWeights: URL, lanes: Int, maxPending: Int) throws -> RekognitionFaceAnalyzer {
        RekognitionFaceAnalyzer(detector: try RekognitionFaceAnalyzer.makeDetector(weightsDirectory: mtcnnWeights),
                                facenet: facenet, lanes: lanes, maxPending: maxPending)
    }

    /// What ``importGallery(_:collectionId:into:)`` did.
    public struct ImportReport: Sendable, Equatable {
        public var faces: Int
        public var users: Int
    }

    /// Imports a gallery (the course `data.pt`, or a `facerec enroll` file) as a new collection:
    /// one face per embedding (ExternalImageId = the name, the whole image as its box), and one
    /// user per name whose faces are that name's embeddings (names that are not valid UserIds
    /// are imported as faces only).
    public static func importGallery(_ gallery: Gallery, collectionId: String, into collections: FaceCollections) async throws -> ImportReport {
        try RekognitionValidation.collectionId(collectionId)
        try await collections.create(CollectionRecord(id: collectionId, createdAt: Date(), faceModelVersion: RekognitionOperations.faceModelVersion))
        var faces: [FaceRecordValue] = []
        for (i, name) in gallery.names.enumerated() {
            let external = (try? RekognitionValidation.externalImageId(name)) != nil ? name : nil
            faces.append(FaceRecordValue(faceId: UUID().uuidString.lowercased(),
                                         imageId: RekognitionOperations.imageId(Data("\(name)#\(i)".utf8)),
                                         externalImageId: external, box: BoundingBox(Width: 1, Height: 1, Left: 0, Top: 0),
                                         confidence: 100, userId: nil, embedding: Array(gallery.embedding(at: i))))
        }
        try await collections.insert(faces, collection: collectionId)
        var users = 0
        for name in Set(gallery.names).sorted() where (try? RekognitionValidation.userId(name)) != nil {
            try await collections.createUser(UserRecord(userId: name, clientRequestToken: nil), collection: collectionId)
            try await collections.setUser(name, faceIds: faces.filter { $0.externalImageId == name }.map(\.faceId), collection: collectionId)
            users += 1
        }
        return ImportReport(faces: faces.count, users: users)
    }
}
