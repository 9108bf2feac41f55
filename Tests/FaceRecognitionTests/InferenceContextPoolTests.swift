import Foundation
import Testing

@testable import FaceRecognition

/// The pool FaceNet and MTCNN share between concurrent callers (also run under ThreadSanitizer
/// by scripts/sanitizers.sh thread).
@Suite("InferenceContextPool", .ownThreads)
struct InferenceContextPoolTests {
    /// Which contexts are borrowed right now, and every context ever handed out.
    final class Ledger: @unchecked Sendable {
        private let lock = NSLock()
        private var busy: Set<ObjectIdentifier> = []
        private(set) var seen: Set<ObjectIdentifier> = []
        private(set) var overlaps = 0

        func borrow(_ context: InferenceContext) {
            lock.withLock {
                let id = ObjectIdentifier(context)
                if !busy.insert(id).inserted { overlaps += 1 }
                seen.insert(id)
            }
        }

        func giveBack(_ context: InferenceContext) { _ = lock.withLock { busy.remove(ObjectIdentifier(context)) } }
        var snapshot: (seen: Int, overlaps: Int) { lock.withLock { (seen.count, overlaps) } }
    }

    @Test("concurrent borrowers never share a context, wait beyond the capacity, reuse idle contexts")
    func borrowersNeverShare() throws {
        let pool = InferenceContextPool(capacity: 2)
        let ledger = Ledger()
        let callers = 4
        DispatchQueue.concurrentPerform(iterations: callers) { _ in
            for _ in 0..<25 {
                _ = pool.withContext { context -> Int? in
                    ledger.borrow(context)
                    defer { ledger.giveBack(context) }
                    usleep(200) // hold it a moment, so borrowers overlap
                    return context.workspaceBytes
                }
            }
        }
        let result = ledger.snapshot
        #expect(result.overlaps == 0)
        // A context is created only when none is idle and the capacity allows: 4 callers wait
        // for the pool's 2 contexts instead of allocating their own.
        #expect(result.seen >= 1)
        #expect(result.seen <= pool.capacity)
        #expect(pool.createdCount <= pool.capacity)
        #expect(callers > pool.capacity)

        // Sequential borrowers after that all get one of the idle contexts back.
        var later: Set<ObjectIdentifier> = []
        for _ in 0..<5 { _ = pool.withContext { context -> Int? in later.insert(ObjectIdentifier(context)); return 0 } }
        #expect(later.count == 1)
    }

    /// Several contexts are taken together or not at all: a caller waiting for two holds none
    /// of them meanwhile, so a third caller wanting the one free context gets it. (Taken one by
    /// one, the waiting caller would sit on the free context while it waits for a second, and
    /// two such callers could wait for each other forever.)
    @Test("a caller waiting for several contexts holds none of them meanwhile")
    func severalAreTakenTogether() throws {
        let pool = InferenceContextPool(capacity: 4)
        let holding = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let secondDone = DispatchSemaphore(value: 0), thirdDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            _ = pool.withContexts(3) { contexts -> Void in
                holding.signal()
                release.wait()
            }
        }
        holding.wait()
        DispatchQueue.global().async {
            _ = pool.withContexts(2) { _ in }
            secondDone.signal()
        }
        // Until the second caller is waiting (it cannot get two while three are lent out).
        let deadline = Date().addingTimeInterval(30)
        while pool.waitingCount < 1 && Date() < deadline { usleep(1_000) }
        try #require(pool.waitingCount == 1)
        DispatchQueue.global().async {
            _ = pool.withContexts(1) { _ in }
            thirdDone.signal()
        }
        #expect(thirdDone.wait(timeout: .now() + 30) == .success, "the one free context was held by a waiting caller")
        release.signal()
        #expect(secondDone.wait(timeout: .now() + 30) == .success)
        #expect(pool.createdCount == 4)
    }
}
