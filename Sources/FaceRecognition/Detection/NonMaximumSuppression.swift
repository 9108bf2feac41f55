/// The two NMS flavours facenet-pytorch uses, reproduced in float32.
enum NonMaximumSuppression {
    /// torchvision `nms` / `batched_nms` for one image: boxes by descending score (stable, so
    /// ties keep index order), area `(x2 − x1)·(y2 − y1)`, a later box is dropped when
    /// IoU > `threshold` (compared in float64, as the C++ kernel does). Returns kept indices in
    /// that order.
    static func torchvision(_ boxes: [CandidateBox], threshold: Double) -> [Int] {
        let n = boxes.count
        if n == 0 { return [] }
        let order = (0..<n).sorted { a, b in
            boxes[a].score != boxes[b].score ? boxes[a].score > boxes[b].score : a < b
        }
        var suppressed = [Bool](repeating: false, count: n)
        var keep: [Int] = []
        boxes.withUnsafeBufferPointer { b in
            let areas = b.map { ($0.x2 - $0.x1) * ($0.y2 - $0.y1) }
            for (pos, i) in order.enumerated() where !suppressed[i] {
                keep.append(i)
                let bi = b[i], ai = areas[i]
                for j in order[(pos + 1)...] where !suppressed[j] {
                    let bj = b[j]
                    let w = max(Float(0), min(bi.x2, bj.x2) - max(bi.x1, bj.x1))
                    let h = max(Float(0), min(bi.y2, bj.y2) - max(bi.y1, bj.y1))
                    let inter = w * h
                    let iou = inter / (ai + areas[j] - inter)
                    if Double(iou) > threshold { suppressed[j] = true }
                }
            }
        }
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
