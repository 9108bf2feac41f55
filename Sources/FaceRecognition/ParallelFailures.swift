import Foundation

/// Runs `body(k)` for k in 0..<workers, on that many threads at once when workers > 1, and
/// returns the errors the bodies reported, in worker order. Shared by MTCNN's stages (pyramid
/// rows, crops) and FaceNet's batch shards.
func parallelFailures<Failure: Error>(_ workers: Int, _ body: (Int) -> Failure?) -> [Failure] {
    if workers <= 1 { return body(0).map { [$0] } ?? [] }
    let results = UnsafeMutableBufferPointer<Failure?>.allocate(capacity: workers)
    results.initialize(repeating: nil)
    defer {
        _ = results.deinitialize()
        results.deallocate()
    }
    // Each iteration writes only its own slot.
    nonisolated(unsafe) let slots = results
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let work = body
        DispatchQueue.concurrentPerform(iterations: workers) { k in slots[k] = work(k) }
    }
    return results.compactMap { $0 }
}
