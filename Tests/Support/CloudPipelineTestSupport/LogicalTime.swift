import Foundation

/// A wall clock that moves only when a test says so: hand `now` to the code under test (a
/// queue's visibility deadlines, a heartbeat's timestamps) and `advance(by:)` past a deadline
/// instead of sleeping until it, so the test neither waits nor races a loaded machine.
public final class ManualClock: @unchecked Sendable {
    // @unchecked: `current` is only touched under `lock`.
    private let lock = NSLock()
    private var current: Date

    public init(start: Date = Date(timeIntervalSince1970: 1_700_000_000)) {
        current = start
    }

    /// The clock's time; pass as `now: { clock.now() }`.
    public func now() -> Date { lock.withLock { current } }

    public func advance(by duration: Duration) {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        lock.withLock { current = current.addingTimeInterval(seconds) }
    }
}

/// A one-shot event: `wait()` suspends until `open()` (at once if it already was). Lets a test
/// hold a piece of work at a known point, and release it when the test has checked what it
/// must, instead of giving the work a duration and hoping the checks fit in it.
public final class AsyncGate: @unchecked Sendable {
    // @unchecked: the state is only touched under `lock`.
    private let lock = NSLock()
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init() {}

    public func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = lock.withLock { () -> Bool in
                if isOpen { return true }
                waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    public func open() {
        let released = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            isOpen = true
            defer { waiters = [] }
            return waiters
        }
        released.forEach { $0.resume() }
    }
}
