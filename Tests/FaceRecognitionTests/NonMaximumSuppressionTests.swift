import Testing

@testable import FaceRecognition

/// The column-wise torchvision NMS against the algorithm as torchvision's C++ kernel states it
/// (boxes read by index, every pair compared), on pyramid-like boxes: thousands, overlapping,
/// with tied scores, degenerate and inverted boxes.
@Suite struct NonMaximumSuppressionTests {
    static func reference(_ boxes: [CandidateBox], threshold: Double) -> [Int] {
        let order = boxes.indices.sorted { a, b in
            boxes[a].score != boxes[b].score ? boxes[a].score > boxes[b].score : a < b
        }
        var suppressed = Set<Int>(), keep: [Int] = []
        for (pos, i) in order.enumerated() where !suppressed.contains(i) {
            keep.append(i)
            let a = boxes[i], areaA = (a.x2 - a.x1) * (a.y2 - a.y1)
            for j in order[(pos + 1)...] where !suppressed.contains(j) {
                let b = boxes[j], areaB = (b.x2 - b.x1) * (b.y2 - b.y1)
                let w = max(Float(0), min(a.x2, b.x2) - max(a.x1, b.x1))
                let h = max(Float(0), min(a.y2, b.y2) - max(a.y1, b.y1))
                let inter = w * h
                if Double(inter / (areaA + areaB - inter)) > threshold { suppressed.insert(j) }
            }
        }
        return keep
    }

    /// A deterministic scatter of boxes on a grid, as P-Net's cells give them.
    static func boxes(count: Int, seed: UInt64) -> [CandidateBox] {
        var state = seed
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24)
        }
        return (0..<count).map { i in
            let x = Float(i % 60) * 4 + next() * 3, y = Float(i / 60) * 4 + next() * 3
            let side = 12 + next() * 30
            // Scores from a small set: many ties, which the index order must break.
            let score = Float(Int(next() * 20)) / 20
            if i % 97 == 0 { return CandidateBox(x1: x, y1: y, x2: x, y2: y, score: score) } // empty
            if i % 89 == 0 { return CandidateBox(x1: x + side, y1: y, x2: x, y2: y + side, score: score) } // inverted
            return CandidateBox(x1: x, y1: y, x2: x + side, y2: y + side, score: score)
        }
    }

    /// 0.1 and 0.3 round up to float (Float(t) > t), 0.5 is exact, 0.7 rounds down.
    @Test(arguments: [0.1, 0.3, 0.5, 0.7])
    func columnWiseEqualsReference(threshold: Double) {
        for (count, seed) in [(0, 1), (1, 2), (2, 3), (300, 4), (2_500, 5)] as [(Int, UInt64)] {
            let boxes = Self.boxes(count: count, seed: seed)
            let kept = NonMaximumSuppression.torchvision(boxes, threshold: threshold)
            #expect(kept == Self.reference(boxes, threshold: threshold), "\(count) boxes")
            // The boxes overlap enough that suppression does real work at either threshold.
            if count > 100 { #expect(kept.count > 10 && kept.count < count * 9 / 10, "\(kept.count) of \(count) kept") }
        }
    }

    /// Thresholds outside float's range: nothing above 1e300, everything but NaN above −1e300.
    @Test func thresholdsBeyondFloatsRange() {
        let boxes = Self.boxes(count: 300, seed: 9)
        for threshold in [1e300, -1e300, .infinity, -.infinity] {
            #expect(NonMaximumSuppression.torchvision(boxes, threshold: threshold) == Self.reference(boxes, threshold: threshold),
                    "threshold \(threshold)")
        }
        #expect(NonMaximumSuppression.torchvision(boxes, threshold: 1e300).count == 300)
    }

    /// An IoU of exactly 3/8 against thresholds at it and a double just below it (which rounds
    /// up to 3/8 as a float): the comparison is the float IoU against the double threshold, as
    /// torchvision's kernel makes it.
    @Test func anIouAtTheThresholdIsComparedAsADouble() {
        let first = CandidateBox(x1: 0, y1: 0, x2: 5, y2: 1, score: 1)
        let over = CandidateBox(x1: 2, y1: 0, x2: 8, y2: 1, score: 0.5) // intersection 3, union 8
        let far = CandidateBox(x1: 100, y1: 100, x2: 101, y2: 101, score: 0.25)
        for pad in [0, 9] {
            let boxes = [first, over] + Array(repeating: far, count: pad)
            #expect(NonMaximumSuppression.torchvision(boxes, threshold: 0.375).contains(1))
            #expect(!NonMaximumSuppression.torchvision(boxes, threshold: 0.375.nextDown).contains(1))
            #expect(Self.reference(boxes, threshold: 0.375.nextDown) == NonMaximumSuppression.torchvision(boxes, threshold: 0.375.nextDown))
        }
    }
}
