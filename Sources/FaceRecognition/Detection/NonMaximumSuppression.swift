import CFaceNet

/// The two NMS flavours facenet-pytorch uses, reproduced in float32.
enum NonMaximumSuppression {
    /// torchvision `nms` / `batched_nms` for one image: boxes by descending score (stable, so
    /// ties keep index order), area `(x2 − x1)·(y2 − y1)`, a later box is dropped when
    /// IoU > `threshold` (compared in float64, as the C++ kernel does). Returns kept indices in
    /// that order.
    static func torchvision(_ boxes: [CandidateBox], threshold: Double) -> [Int] {
        let n = boxes.count
        if n == 0 { return [] }
        let order = boxes.indices.map { (score: boxes[$0].score, index: $0) }
            .sorted { a, b in a.score != b.score ? a.score > b.score : a.index < b.index }
            .map(\.index)
        // Corners and areas in score order, one column each: P-Net's pyramid gives thousands of
        // boxes, and the quadratic loop then reads contiguous floats.
        let columns = UnsafeMutableBufferPointer<Float>.allocate(capacity: 5 * n)
        let suppressed = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: n)
        defer {
            columns.deallocate()
            suppressed.deallocate()
        }
        let x1 = columns.baseAddress!, y1 = x1 + n, x2 = y1 + n, y2 = x2 + n, area = y2 + n
        for (position, i) in order.enumerated() {
            let b = boxes[i]
            (x1[position], y1[position], x2[position], y2[position]) = (b.x1, b.y1, b.x2, b.y2)
            area[position] = (b.x2 - b.x1) * (b.y2 - b.y1)
        }
        // The pairwise loop in C (cfn_nms_suppress: 8 boxes per AVX2 step).
        let kept = Int(cfn_nms_suppress(x1, y1, x2, y2, area, Int32(n), threshold, suppressed.baseAddress!))
        var keep: [Int] = []
        keep.reserveCapacity(kept)
        for i in 0..<n where suppressed[i] == 0 { keep.append(order[i]) }
        return keep
    }

    /// facenet-pytorch's `nms_numpy` with method 'Min': area `(x2 − x1 + 1)·(y2 − y1 + 1)`,
    /// overlap = intersection / smaller area, boxes with overlap ≤ `threshold` (float32)
    /// survive. numpy's argsort puts tied scores in index order and the loop takes the last,
    /// so among ties the highest index goes first.
    static func minimum(_ boxes: [CandidateBox], threshold: Float) -> [Int] {
        let n = boxes.count
        if n == 0 { return [] }
        var remaining = (0..<n).sorted { a, b in
            boxes[a].score != boxes[b].score ? boxes[a].score < boxes[b].score : a < b
        }
        let areas = boxes.map { ($0.x2 - $0.x1 + 1) * ($0.y2 - $0.y1 + 1) }
        var keep: [Int] = []
        while let i = remaining.last {
            keep.append(i)
            remaining.removeLast()
            let bi = boxes[i]
            remaining = remaining.filter { j in
                let bj = boxes[j]
                let w = max(Float(0), min(bi.x2, bj.x2) - max(bi.x1, bj.x1) + 1)
                let h = max(Float(0), min(bi.y2, bj.y2) - max(bi.y1, bj.y1) + 1)
                let overlap = (w * h) / min(areas[i], areas[j])
                return overlap <= threshold
            }
        }
        return keep
    }
}
