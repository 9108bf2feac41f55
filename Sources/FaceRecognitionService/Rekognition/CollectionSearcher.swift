import Dispatch
import Foundation

/// Runs nearest-face searches, coalescing concurrent ones: searches that arrive while the
/// lanes are busy leave together, and those on the same collection snapshot go through one
/// matrix product (SGEMM: the embedding matrix is read once for the whole batch instead of once
/// per query, which is what bounds a brute-force search). Work runs on a dispatch queue, never
/// on Swift's cooperative threads.
public final class CollectionSearcher: Sendable {
    public struct Query: Sendable {
        let snapshot: SearchSnapshot
        let embedding: [Float]
        let limit: Int
        let maxDistance: Float
    }

    public typealias Hits = [(face: FaceRecordValue, distance: Float)]

    private let batcher: MicroBatcher<Query, Hits>
    private static let queue = DispatchQueue(label: "facerec.rekognition.search", attributes: .concurrent)

    public init(lanes: Int = ProcessInfo.processInfo.activeProcessorCount, maxBatchSize: Int = 64) {
        batcher = MicroBatcher(lanes: lanes, maxBatchSize: maxBatchSize) { queries in
            await withCheckedContinuation { continuation in
                Self.queue.async { continuation.resume(returning: Self.run(queries)) }
            }
        }
    }

    /// Up to `limit` faces of `snapshot` within `maxDistance` of `embedding`, closest first.
    public func nearest(_ embedding: [Float], in snapshot: SearchSnapshot, limit: Int, maxDistance: Float) async throws -> Hits {
        try await batcher.submit(Query(snapshot: snapshot, embedding: embedding, limit: limit, maxDistance: maxDistance))
    }

    /// How many batches of each size have run.
    public func batchSizes() async -> [Int: Int] { await batcher.batchSizes }

    /// One result per query: the queries of each snapshot in one product.
    static func run(_ queries: [Query]) -> [Result<Hits, any Error>] {
        var results = [Result<Hits, any Error>](repeating: .success([]), count: queries.count)
        let groups = Dictionary(grouping: queries.indices, by: { queries[$0].snapshot.id })
        for indices in groups.values {
            let snapshot = queries[indices[0]].snapshot
            let k = indices.map { queries[$0].limit }.max() ?? 1
            do {
                let hits = try snapshot.nearest(indices.map { queries[$0].embedding }, limit: k)
                for (index, found) in zip(indices, hits) {
                    let query = queries[index]
                    results[index] = .success(Array(found.filter { $0.distance <= query.maxDistance }.prefix(query.limit)))
                }
            } catch {
                for index in indices { results[index] = .failure(error) }
            }
        }
        return results
    }
}
