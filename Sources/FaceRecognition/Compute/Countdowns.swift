import Foundation

/// Counters that threads count down together, one per group of work: `finish(i)` is true for
/// exactly one call, the one that takes counter i to zero, so that thread alone goes on with
/// what needed the whole group (a pyramid level's proposals once all its bands are done).
final class Countdowns: @unchecked Sendable {
    private let lock = NSLock()
    private var remaining: [Int] // guarded by `lock`

    init(_ counts: [Int]) {
        remaining = counts
    }

    /// Counts one piece of group `index` done; true when it was the group's last.
    func finish(_ index: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        remaining[index] -= 1
        return remaining[index] == 0
    }
}
