import COpenBLAS
import Foundation

/// How a query is compared with gallery embeddings.
public enum MatchMetric: String, Sendable, CaseIterable {
    /// Euclidean distance, as the course's `torch.dist(query, entry)`; smaller is closer.
    case euclidean
    /// Cosine distance 1 − cos(query, entry); smaller is closer.
    case cosine
}

/// One gallery entry close to a query.
///
/// JSON: `{"name": "Alice", "index": 3, "distance": 0.61}`.
public struct Match: Sendable, Equatable {
    /// The entry's identity.
    public let name: String
    /// Gallery row.
    public let index: Int
    /// Distance under the metric used (smaller is closer).
    public let distance: Float
}

/// Nearest-neighbour search of many queries against a gallery.
///
/// All similarities come from one SGEMM per block of gallery rows (queries × block), so a batch
/// of queries streams the gallery through memory once. Euclidean distances are first ranked
/// from ‖q‖² + ‖g‖² − 2·q·g, then the best few candidates are re-measured directly as
/// √Σ(q − g)² so near-ties are decided as `torch.dist` decides them.
public struct GalleryMatcher: Sendable {
    /// The entries searched.
    public let gallery: Gallery
    /// How distances are measured.
    public let metric: MatchMetric
    private let rowNorms: [Float]
    /// Gallery rows per GEMM block: bounds the similarity buffer (queries × block floats).
    static let blockRows = 16_384
    /// Extra candidates re-measured exactly beyond the k requested.
    static let rerankSlack = 4

    /// A matcher over `gallery` (it computes the rows' norms once).
    public init(gallery: Gallery, metric: MatchMetric = .euclidean) {
        self.gallery = gallery
        self.metric = metric
        let d = gallery.dimension
        rowNorms = gallery.embeddings.withUnsafeBufferPointer { g in
            (0..<gallery.count).map { i in
                var s: Float = 0
                for j in 0..<d { s += g[i * d + j] * g[i * d + j] }
                return s
            }
        }
    }

    /// The `k` closest entries for each query, closest first.
    public func nearest(_ queries: [[Float]], k: Int = 1) throws(GalleryError) -> [[Match]] {
        let d = gallery.dimension, n = gallery.count, m = queries.count
        guard m > 0, n > 0, k > 0 else { return Array(repeating: [], count: m) }
        for q in queries where q.count != d {
            throw .dimensionMismatch(expected: d, actual: q.count, context: "query embedding")
        }
        let flat = queries.flatMap { $0 }
        let queryNorms = queries.map { q in q.reduce(Float(0)) { $0 + $1 * $1 } }
        let keep = min(n, k + (metric == .euclidean ? Self.rerankSlack : 0))
        var best = Array(repeating: TopK(capacity: keep), count: m)
        let block = min(Self.blockRows, n)
        var scores = [Float](repeating: 0, count: m * block)

        flat.withUnsafeBufferPointer { q in
            gallery.embeddings.withUnsafeBufferPointer { g in
                var start = 0
                while start < n {
                    let rows = min(block, n - start)
                    // scores (m × rows) = Q (m × d) · G[start..<start+rows]ᵀ. A lone query is a
                    // matrix-vector product: SGEMV streams the gallery rows at memory speed,
                    // where SGEMM's packing would copy them first.
                    scores.withUnsafeMutableBufferPointer { s in
                        let block = g.baseAddress! + start * d
                        if m == 1 {
                            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(rows), Int32(d), 1, block, Int32(d),
                                        q.baseAddress, 1, 0, s.baseAddress, 1)
                        } else {
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(rows), Int32(d), 1,
                                        q.baseAddress, Int32(d), block, Int32(d), 0, s.baseAddress, Int32(rows))
                        }
                    }
                    for i in 0..<m {
                        for r in 0..<rows {
                            let dot = scores[i * rows + r]
                            let row = start + r
                            let key: Float
                            switch metric {
                            case .euclidean: key = queryNorms[i] + rowNorms[row] - 2 * dot
                            case .cosine: key = 1 - dot / max((queryNorms[i] * rowNorms[row]).squareRoot(), 1e-12)
                            }
                            best[i].offer(key, row)
                        }
                    }
                    start += rows
                }
            }
        }
        return (0..<m).map { i in
            var candidates = best[i].sorted()
            if metric == .euclidean {
                candidates = candidates.map { (key: exactEuclidean(queries[i], row: $0.row), row: $0.row) }
                    .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            }
            return candidates.prefix(k).map { Match(name: gallery.names[$0.row], index: $0.row, distance: $0.key) }
        }
    }

    /// √Σ(q − g)², accumulated in row order like torch.dist on a [1, D] pair.
    private func exactEuclidean(_ query: [Float], row: Int) -> Float {
        let g = gallery.embedding(at: row)
        var sum: Float = 0
        for (a, b) in zip(query, g) { sum += (a - b) * (a - b) }
        return sum.squareRoot()
    }
}

/// The k smallest (key, row) pairs seen so far.
struct TopK {
    let capacity: Int
    private(set) var items: [(key: Float, row: Int)] = []
    init(capacity: Int) { self.capacity = capacity; items.reserveCapacity(capacity + 1) }

    mutating func offer(_ key: Float, _ row: Int) {
        if items.count == capacity, let last = items.last, !(key < last.key) { return }
        var i = items.count
        while i > 0 && key < items[i - 1].key { i -= 1 }
        items.insert((key, row), at: i)
        if items.count > capacity { items.removeLast() }
    }

    func sorted() -> [(key: Float, row: Int)] { items }
}
