import FaceRecognition
import Foundation

/// `FaceRecBenchmarks matching [--rows 1000000] [--seconds S] [--json]`: nearest-neighbour search
/// of one query and of a batch of 64 against a gallery of random unit vectors. Matching is
/// memory-bound (every pass reads rows × 512 floats), so the report includes the effective
/// bandwidth of reading the gallery once per pass.
func runMatchingBenchmark(_ arguments: [String]) throws {
    var options = BenchmarkOptions(arguments)
    let rows = Int(options.value("--rows") ?? "1000000") ?? 1_000_000
    let seconds = Double(options.value("--seconds") ?? "3") ?? 3
    let json = options.flag("--json")
    let d = FaceNet.embeddingSize

    var generator = SplitMix(seed: 42)
    func unitVector() -> [Float] {
        var v = (0..<d).map { _ in generator.nextFloat() * 2 - 1 }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for i in v.indices { v[i] /= norm }
        return v
    }
    var gallery = Gallery(dimension: d)
    for i in 0..<rows { try gallery.add(name: "person-\(i % 100_000)", embedding: unitVector()) }
    let matcher = GalleryMatcher(gallery: gallery, metric: .euclidean)
    let galleryBytes = Double(rows * d * MemoryLayout<Float>.size)

    for batch in [1, 64] {
        let queries = (0..<batch).map { _ in unitVector() }
        _ = try matcher.nearest(queries, k: 1)
        var passes = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        repeat {
            _ = try matcher.nearest(queries, k: 1)
            passes += 1
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        } while elapsed < seconds || passes < 3
        let msPerPass = elapsed * 1000 / Double(passes)
        let bandwidth = galleryBytes / (msPerPass / 1000) / 1e9
        report(json: json,
               ["suite": "matching", "rows": rows, "batch": batch, "ms_per_pass": msPerPass,
                "ms_per_query": msPerPass / Double(batch), "gallery_gb_per_s": bandwidth],
               text: String(format: "%d queries vs %d rows: %.1f ms per pass (%.2f ms/query), gallery streamed at %.1f GB/s",
                            batch, rows, msPerPass, msPerPass / Double(batch), bandwidth))
    }
    let copy = memoryBandwidth(bytes: 512 << 20)
    report(json: json, ["suite": "matching", "memcpy_gb_per_s": copy],
           text: String(format: "memcpy bandwidth (read+write 512 MB): %.1f GB/s", copy))
}

/// Read + write bandwidth of memcpy over `bytes`.
private func memoryBandwidth(bytes: Int) -> Double {
    let a = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    let b = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    defer { a.deallocate(); b.deallocate() }
    memset(a, 1, bytes); memset(b, 2, bytes)
    var best = Double.infinity
    for _ in 0..<5 {
        let start = DispatchTime.now().uptimeNanoseconds
        memcpy(b, a, bytes)
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return 2 * Double(bytes) / best / 1e9
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextFloat() -> Float { Float(next() >> 40) * 0x1p-24 }
}
