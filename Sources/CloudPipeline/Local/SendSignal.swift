import Foundation

/// Wakes long-polling receivers in this process when a message is sent to their queue.
///
/// Other processes sharing the database cannot signal us, so a waiter also wakes after the poll
/// interval; this signal only makes the in-process case prompt. A generation counter closes the
/// lost-wakeup window between "the receive found nothing" and "start waiting": a waiter passes
/// the generation it saw before its receive, and returns at once if a send has bumped it since.
final class SendSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var generation: UInt64 = 0
    private var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    /// Waiters that timed out before their continuation was registered.
    private var abandoned: Set<UInt64> = []
    private var nextWaiterID: UInt64 = 0

    /// The current generation; read it before looking for messages.
    var currentGeneration: UInt64 {
        lock.lock(); defer { lock.unlock() }
        return generation
    }

    /// Bumps the generation and wakes every waiter.
    func notify() {
        lock.lock()
        generation &+= 1
        let woken = waiters.values
        waiters.removeAll()
        lock.unlock()
        for continuation in woken { continuation.resume() }
    }

    private func release(_ id: UInt64) {
        let pending: CheckedContinuation<Void, Never>? = lock.withLock {
            let pending = waiters.removeValue(forKey: id)
            if pending == nil { abandoned.insert(id) }
            return pending
        }
        pending?.resume()
    }

    /// Returns when `notify` is called after generation `seen`, or after `timeout`, or on
    /// cancellation, whichever is first.
    func wait(after seen: UInt64, timeout: Duration) async {
        let id: UInt64 = lock.withLock {
            nextWaiterID &+= 1
            return nextWaiterID
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    self.lock.lock()
                    if self.generation != seen || self.abandoned.remove(id) != nil {
                        self.lock.unlock()
                        continuation.resume()
                    } else {
                        self.waiters[id] = continuation
                        self.lock.unlock()
                    }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
            }
            await group.next()
            // Release the other child: resume its continuation if registered, or mark it so
            // that it resumes itself as soon as it registers.
            release(id)
            group.cancelAll()
            await group.waitForAll()
            lock.withLock { _ = abandoned.remove(id) }
        }
    }
}

/// One ``SendSignal`` per (database file, queue name) in this process, so that every
/// ``SQLiteMessageQueue`` instance on the same queue shares it.
enum SendSignals {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var signals: [String: SendSignal] = [:]

    static func signal(path: String, queue: String) -> SendSignal {
        let key = path + "\u{0}" + queue
        lock.lock(); defer { lock.unlock() }
        if let existing = signals[key] { return existing }
        let created = SendSignal()
        signals[key] = created
        return created
    }
}
