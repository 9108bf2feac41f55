import FaceRecognition
import Foundation

/// The collections in memory, written through to a ``FaceCollectionStore``: every change is
/// stored first and applied here after, so what searches see is always durable. Searches run on
/// an immutable snapshot (a `GalleryMatcher` over the collection's embedding matrix, rebuilt
/// on the first search after a change) outside the actor, so they never queue behind writes.
public actor FaceCollections {
    struct StoredCollection {
        var record: CollectionRecord
        /// By FaceId.
        var faces: [String: FaceRecordValue]
        var users: [String: UserRecord]
        var snapshot: SearchSnapshot?
        /// FaceIds in order, for paging (rebuilt after a change).
        var sortedFaceIds: [String]?
    }

    private let store: any FaceCollectionStore
    private var collections: [String: StoredCollection] = [:]
    /// False until a following replica has read the shared store once.
    private var loaded = true
    private var loadWaiters: [CheckedContinuation<Void, Never>] = []

    /// Loads every collection from `store`.
    public init(store: any FaceCollectionStore) async throws {
        self.store = store
        for contents in try await store.loadAll() {
            collections[contents.collection.id] = StoredCollection(contents)
        }
    }

    /// Empty until ``follow(_:from:)`` has read `store` (await ``waitUntilLoaded()``): for a
    /// store other replicas write, read only once its announcements are being received.
    public init(following store: any SharedFaceCollectionStore) {
        self.store = store
        self.loaded = false
    }

    // MARK: Replication

    /// Runs `body` with collections that follow `store`: read once its announcements are being
    /// received, then kept current with every write any replica commits, until `body` returns.
    public static func following<T: Sendable>(_ store: any SharedFaceCollectionStore,
                                              _ body: (FaceCollections) async throws -> T) async throws -> T {
        let (changes, sink) = AsyncStream.makeStream(of: FaceCollectionChange.self)
        let collections = FaceCollections(following: store)
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            group.addTask { await store.followChanges(into: sink) }
            group.addTask { await collections.follow(changes, from: store) }
            do {
                try await collections.waitUntilLoaded()
                let result = try await body(collections)
                group.cancelAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }

    /// Applies the changes `store` announces, in order, reading back what each one changed;
    /// returns when `changes` ends. A failed read becomes a full reload, retried each second.
    public func follow(_ changes: AsyncStream<FaceCollectionChange>, from store: any SharedFaceCollectionStore) async {
        for await change in changes {
            var pending = change
            while !Task.isCancelled {
                do {
                    try await apply(pending, from: store)
                    break
                } catch {
                    if Task.isCancelled { break }  // shutting down: nothing to reload
                    ServiceLog.notice("cannot read a collections change back (\(error)); reloading every collection")
                    pending = .resync
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
        releaseLoadWaiters()
    }

    /// Returns once the collections were read (at once for a store only this process writes).
    /// - Throws: `CancellationError` when following ended before the first read.
    public func waitUntilLoaded() async throws {
        if !loaded { await withCheckedContinuation { loadWaiters.append($0) } }
        guard loaded else { throw CancellationError() }
    }

    /// Brings memory up to date with one change. Each read returns the store's current rows, and
    /// every commit is announced after it is visible, so after the last announcement is applied
    /// memory equals the store, whatever local writes interleaved.
    func apply(_ change: FaceCollectionChange, from store: any SharedFaceCollectionStore) async throws {
        switch change {
        case .resync:
            let all = try await store.loadAll()
            collections = Dictionary(uniqueKeysWithValues: all.map { ($0.collection.id, StoredCollection($0)) })
            loaded = true
            releaseLoadWaiters()
        case .collection(let id):
            collections[id] = try await store.loadCollection(id).map(StoredCollection.init)
        case .faces(let id, let faceIds), .users(let id, let faceIds):
            guard let faceIds, collections[id] != nil else {
                collections[id] = try await store.loadCollection(id).map(StoredCollection.init)
                return
            }
            var users: [UserRecord]?
            if case .users = change { users = try await store.loadUsers(collection: id) }
            let rows = faceIds.isEmpty ? [] : try await store.loadFaces(faceIds, collection: id)
            guard collections[id] != nil else { return }
            if let users { collections[id]?.users = Dictionary(uniqueKeysWithValues: users.map { ($0.userId, $0) }) }
            guard !faceIds.isEmpty else { return }
            let found = Dictionary(rows.map { ($0.faceId, $0) }, uniquingKeysWith: { $1 })
            for faceId in faceIds { collections[id]?.faces[faceId] = found[faceId] }
            collections[id]?.snapshot = nil
            collections[id]?.sortedFaceIds = nil
        }
    }

    private func releaseLoadWaiters() {
        let waiters = loadWaiters
        loadWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    // MARK: Collections

    public func create(_ record: CollectionRecord) async throws {
        guard collections[record.id] == nil else { throw Self.alreadyExists(record.id) }
        do {
            try await store.createCollection(record)
        } catch FaceCollectionStoreError.alreadyExists {
            throw Self.alreadyExists(record.id)
        }
        collections[record.id] = StoredCollection(record: record, faces: [:], users: [:])
    }

    public func delete(_ id: String) async throws {
        _ = try existing(id)
        try await store.deleteCollection(id)
        collections[id] = nil
    }

    public func describe(_ id: String) throws -> (record: CollectionRecord, faceCount: Int, userCount: Int) {
        let c = try existing(id)
        return (c.record, c.faces.count, c.users.count)
    }

    /// Collection ids in order, after `after`.
    public func ids(after: String?, limit: Int) -> (ids: [CollectionRecord], more: Bool) {
        let sorted = collections.keys.sorted().filter { after == nil || $0 > after! }
        return (sorted.prefix(limit).compactMap { collections[$0]?.record }, sorted.count > limit)
    }

    // MARK: Faces

    public func insert(_ faces: [FaceRecordValue], collection: String) async throws {
        _ = try existing(collection)
        try await store.insertFaces(faces, collection: collection)
        for face in faces { collections[collection]?.faces[face.faceId] = face }
        collections[collection]?.snapshot = nil
        collections[collection]?.sortedFaceIds = nil
    }

    public func face(_ faceId: String, collection: String) throws -> FaceRecordValue? {
        try existing(collection).faces[faceId]
    }

    /// Faces in FaceId order after `after`, optionally only those of `userId` or among `faceIds`.
    public func faces(collection: String, after: String?, limit: Int, userId: String?, faceIds: Set<String>?) throws
        -> (faces: [FaceRecordValue], more: Bool) {
        let c = try existing(collection)
        let sorted = c.sortedFaceIds ?? c.faces.keys.sorted()
        collections[collection]?.sortedFaceIds = sorted
        // The first id after `after`, by binary search: a page costs its own length, not the collection's.
        var low = 0, high = sorted.count
        if let after {
            while low < high {
                let mid = (low + high) / 2
                if sorted[mid] <= after { low = mid + 1 } else { high = mid }
            }
        }
        var page: [FaceRecordValue] = []
        for id in sorted[low...] {
            guard let face = c.faces[id], userId == nil || face.userId == userId, faceIds == nil || faceIds!.contains(id) else { continue }
            if page.count == limit { return (page, true) }
            page.append(face)
        }
        return (page, false)
    }

    /// Deletes the faces that exist and belong to no user; returns the deleted ids and, for the
    /// others, why not.
    public func delete(faceIds: [String], collection: String) async throws
        -> (deleted: [String], refused: [(faceId: String, userId: String?, reason: String)]) {
        let c = try existing(collection)
        var deleted: [String] = [], refused: [(String, String?, String)] = []
        for id in faceIds {
            guard let face = c.faces[id] else { refused.append((id, nil, "FACE_NOT_FOUND")); continue }
            if let user = face.userId { refused.append((id, user, "ASSOCIATED_TO_AN_EXISTING_USER")); continue }
            if !deleted.contains(id) { deleted.append(id) }
        }
        if !deleted.isEmpty {
            try await store.deleteFaces(deleted, collection: collection)
            for id in deleted { collections[collection]?.faces[id] = nil }
            collections[collection]?.snapshot = nil
            collections[collection]?.sortedFaceIds = nil
        }
        return (deleted, refused)
    }

    /// The collection's embedding matrix, for searches run outside the actor.
    public func snapshot(_ collection: String) throws -> SearchSnapshot {
        let c = try existing(collection)
        if let snapshot = c.snapshot { return snapshot }
        let snapshot = SearchSnapshot(faces: Array(c.faces.values))
        collections[collection]?.snapshot = snapshot
        return snapshot
    }

    // MARK: Users

    public func user(_ userId: String, collection: String) throws -> UserRecord? {
        try existing(collection).users[userId]
    }

    public func createUser(_ user: UserRecord, collection: String) async throws {
        let c = try existing(collection)
        if let existing = c.users[user.userId] {
            // An SDK retry carries the same idempotency token: it succeeds without a change.
            if existing.clientRequestToken != nil, existing.clientRequestToken == user.clientRequestToken { return }
            throw RekognitionError.conflict("User \(user.userId) already exists in collection \(collection).")
        }
        try await store.createUser(user, collection: collection)
        collections[collection]?.users[user.userId] = user
    }

    public func deleteUser(_ userId: String, collection: String) async throws {
        let c = try existing(collection)
        guard c.users[userId] != nil else {
            throw RekognitionError.resourceNotFound("User \(userId) does not exist in collection \(collection).")
        }
        try await store.deleteUser(userId, collection: collection)
        collections[collection]?.users[userId] = nil
        for (id, face) in c.faces where face.userId == userId { collections[collection]?.faces[id]?.userId = nil }
        collections[collection]?.snapshot = nil
    }

    public func users(collection: String, after: String?, limit: Int) throws -> (users: [(UserRecord, Int)], more: Bool) {
        let c = try existing(collection)
        let ids = c.users.keys.sorted().filter { after == nil || $0 > after! }
        let counts = Dictionary(grouping: c.faces.values.compactMap(\.userId), by: { $0 }).mapValues(\.count)
        return (ids.prefix(limit).map { (c.users[$0]!, counts[$0] ?? 0) }, ids.count > limit)
    }

    /// Sets (or clears) the user of faces that the caller has checked.
    public func setUser(_ userId: String?, faceIds: [String], collection: String) async throws {
        _ = try existing(collection)
        guard !faceIds.isEmpty else { return }
        try await store.setUser(userId, faceIds: faceIds, collection: collection)
        for id in faceIds { collections[collection]?.faces[id]?.userId = userId }
        collections[collection]?.snapshot = nil
    }

    /// The number of faces of `userId`.
    public func faceCount(userId: String, collection: String) throws -> Int {
        try existing(collection).faces.values.filter { $0.userId == userId }.count
    }

    // MARK: Helpers

    private func existing(_ id: String) throws -> StoredCollection {
        guard let c = collections[id] else {
            throw RekognitionError.resourceNotFound("The collection id: \(id) does not exist")
        }
        return c
    }

    static func alreadyExists(_ id: String) -> RekognitionError {
        .resourceAlreadyExists("The collection id: \(id) already exists")
    }
}

extension FaceCollections.StoredCollection {
    init(_ contents: CollectionContents) {
        self.init(record: contents.collection,
                  faces: Dictionary(contents.faces.map { ($0.faceId, $0) }, uniquingKeysWith: { $1 }),
                  users: Dictionary(contents.users.map { ($0.userId, $0) }, uniquingKeysWith: { $1 }))
    }
}

/// An immutable view of one collection's faces for brute-force search: one `GalleryMatcher`
/// (an SGEMV/SGEMM over the embedding matrix) with the faces in matrix row order.
public struct SearchSnapshot: Sendable {
    /// Identifies this version of the collection (searches of one version are batched together).
    public let id = UUID()
    public let faces: [FaceRecordValue]
    let matcher: GalleryMatcher?

    init(faces: [FaceRecordValue]) {
        var gallery = Gallery()
        var rows: [FaceRecordValue] = []
        for face in faces {
            // Row i of the matrix is rows[i]: a face is listed only once it is in the matrix.
            guard (try? gallery.add(name: face.faceId, embedding: face.embedding)) != nil else { continue }
            rows.append(face)
        }
        self.faces = rows
        self.matcher = rows.isEmpty ? nil : GalleryMatcher(gallery: gallery, metric: .euclidean)
    }

    /// The `limit` closest faces of each query, closest first (one SGEMV, or one SGEMM for several).
    public func nearest(_ queries: [[Float]], limit: Int) throws -> [[(face: FaceRecordValue, distance: Float)]] {
        guard let matcher, limit > 0 else { return queries.map { _ in [] } }
        return try matcher.nearest(queries, k: min(limit, faces.count)).map { matches in
            matches.map { (faces[$0.index], $0.distance) }
        }
    }
}
