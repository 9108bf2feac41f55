import CFaceNet
import Foundation

/// Runs `body(k)` for k in 0..<workers, on that many threads at once when workers > 1 (the
/// caller's thread runs k = 0), and returns the errors the bodies reported, in worker order.
/// Shared by MTCNN's stages (pyramid rows, crops) and FaceNet's batch shards. The other threads
/// count themselves on `gauge` (a ``ComputeBudget``'s) while they run a body.
func parallelFailures<Failure: Error>(_ workers: Int, gauge: OpaquePointer? = nil,
                                      _ body: (Int) -> Failure?) -> [Failure] {
    if workers <= 1 { return body(0).map { [$0] } ?? [] }
    let results = UnsafeMutableBufferPointer<Failure?>.allocate(capacity: workers)
    results.initialize(repeating: nil)
    defer {
        _ = results.deinitialize()
        results.deallocate()
    }
    // Each body writes only its own slot; all have finished when `group.wait()` returns.
    nonisolated(unsafe) let slots = results
    nonisolated(unsafe) let counter = gauge
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let work = body
        let group = DispatchGroup()
        for k in 1..<workers {
            DispatchQueue.global().async(group: group) {
                cfn_thread_gauge_enter(counter)
                slots[k] = work(k)
                cfn_thread_gauge_exit(counter)
            }
        }
        slots[0] = work(0)
        group.wait()
    }
    return results.compactMap { $0 }
}
