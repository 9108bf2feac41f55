import Foundation

/// Hands out the indices 0 ..< `count` one at a time to the threads that share it, each index
/// once: work taken piece by piece as threads become free, which balances the pieces however
/// their costs differ.
final class WorkCounter: @unchecked Sendable {
    let count: Int
    private let lock = NSLock()
    private var next = 0 // guarded by `lock`

    init(count: Int) {
        self.count = count
    }

    /// The next index not yet taken, or nil when all have been.
    func take() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < count else { return nil }
        next += 1
        return next - 1
    }
}
