import Foundation

/// A change to shared collections, as announced to every replica: what to read back from the
/// store to bring memory up to date.
public enum FaceCollectionChange: Sendable, Equatable {
    /// Read everything again: the announcements (re)started, so earlier ones may have been missed.
    case resync
    /// The collection was created or deleted: read its record, faces and users again.
    case collection(String)
    /// These faces were inserted, deleted or (dis)associated: read them again (nil: every face
    /// of the collection, for a store that does not list them).
    case faces(collection: String, faceIds: [String]?)
    /// A user was created or deleted: read the collection's users again, and these faces whose
    /// user changed (nil: every face).
    case users(collection: String, faceIds: [String]?)
}

/// A ``FaceCollectionStore`` that several processes (server replicas) write: each write is
/// announced, and each replica reads back what changed to keep its in-memory matrices current.
public protocol SharedFaceCollectionStore: FaceCollectionStore {
    /// The collection with its faces and users; nil when it does not exist.
    func loadCollection(_ id: String) async throws -> CollectionContents?
    /// Those of `faceIds` that exist in the collection.
    func loadFaces(_ faceIds: [String], collection: String) async throws -> [FaceRecordValue]
    func loadUsers(collection: String) async throws -> [UserRecord]
    /// Yields every committed change by any writer, preceded by ``FaceCollectionChange/resync``
    /// each time the announcements (re)connect; reconnects after a loss; returns when cancelled.
    func followChanges(into sink: AsyncStream<FaceCollectionChange>.Continuation) async
}

/// A change as carried in a notification's payload (JSON, at most 8000 bytes in PostgreSQL).
struct FaceCollectionChangeMessage: Codable, Equatable {
    enum Kind: String, Codable { case collection, faces, users }
    var collection: String
    var kind: Kind
    var faceIds: [String]?

    /// The most payload bytes a notification carries (PostgreSQL's limit is 8,000).
    static let maxPayloadBytes = 7800

    var change: FaceCollectionChange {
        switch kind {
        case .collection: return .collection(collection)
        case .faces: return .faces(collection: collection, faceIds: faceIds)
        case .users: return .users(collection: collection, faceIds: faceIds)
        }
    }

    /// The JSON payloads announcing this change: one, or, when its FaceIds do not fit one
    /// payload, one per slice of them (each notification then names the faces to read back, so a
    /// large change never makes replicas re-read a whole collection).
    func payloads() -> [String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        func encoded(_ message: Self) -> String { String(decoding: (try? encoder.encode(message)) ?? Data(), as: UTF8.self) }
        let whole = encoded(self)
        guard whole.utf8.count > Self.maxPayloadBytes, let faceIds, !faceIds.isEmpty else { return [whole] }
        // Each id costs its JSON text, quotes and a comma; the rest of the message is fixed. An id
        // with characters JSON escapes is counted at the worst escape (6 bytes each).
        var empty = self
        empty.faceIds = []
        let room = Self.maxPayloadBytes - encoded(empty).utf8.count
        var payloads: [String] = [], slice: [String] = [], used = 0
        for id in faceIds {
            let escaped = id.utf8.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0x2F }
            let cost = (escaped ? 6 : 1) * id.utf8.count + 3
            if !slice.isEmpty, used + cost > room {
                payloads.append(encoded(Self(collection: collection, kind: kind, faceIds: slice)))
                slice = []
                used = 0
            }
            slice.append(id)
            used += cost
        }
        if !slice.isEmpty { payloads.append(encoded(Self(collection: collection, kind: kind, faceIds: slice))) }
        return payloads
    }

    /// The change a payload announces; nil for one this version cannot read (then resync).
    static func change(fromPayload payload: String) -> FaceCollectionChange? {
        (try? JSONDecoder().decode(Self.self, from: Data(payload.utf8)))?.change
    }
}
