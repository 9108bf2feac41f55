import Foundation
import Testing

@testable import FaceRecognition

/// The counter MTCNN's threads take P-Net's bands from: however many threads take at once,
/// every index is handed out exactly once and nothing past the end.
@Suite struct WorkCounterTests {
    @Test func concurrentTakersGetEveryIndexOnce() {
        let count = 10_000, threads = 8
        let counter = WorkCounter(count: count)
        let taken = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
        taken.initialize(repeating: 0)
        defer { taken.deallocate() }
        nonisolated(unsafe) let slots = taken
        let perThread = UnsafeMutableBufferPointer<Int>.allocate(capacity: threads)
        perThread.initialize(repeating: 0)
        defer { perThread.deallocate() }
        nonisolated(unsafe) let tallies = perThread
        DispatchQueue.concurrentPerform(iterations: threads) { k in
            while let index = counter.take() {
                slots[index] += 1 // each index by one thread only, if the counter is right
                tallies[k] += 1
            }
        }
        #expect(taken.allSatisfy { $0 == 1 })
        #expect(perThread.reduce(0, +) == count)
        #expect(counter.take() == nil)
    }

    @Test func anEmptyCounterHandsOutNothing() {
        #expect(WorkCounter(count: 0).take() == nil)
    }
}
