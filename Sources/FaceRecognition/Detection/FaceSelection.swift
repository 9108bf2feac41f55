/// The orderings and single-face choices of facenet-pytorch's `MTCNN.detect` and
/// `MTCNN.select_boxes`. numpy's argsort keeps ties in index order and the code reverses it, so
/// among equal keys the highest index wins.
enum FaceSelection {
    /// `detect(select_largest=True)`: largest area first.
    static func largestFirst(_ faces: [DetectedFace]) -> [DetectedFace] {
        faces.indices.sorted { a, b in
            let (aa, ab) = (faces[a].box.area, faces[b].box.area)
            return aa != ab ? aa > ab : a > b
        }.map { faces[$0] }
    }

    /// `select_boxes(method:)` on the faces in `detect` order; nil when none qualifies.
    static func select(_ faces: [DetectedFace], method: FaceSelectionMethod, imageWidth: Int,
                       imageHeight: Int) -> DetectedFace? {
        switch method {
        case .largest:
            return argmax(faces.map { Double($0.box.area) }).map { faces[$0] }
        case .probability:
            return argmax(faces.map { Double($0.probability) }).map { faces[$0] }
        case .centerWeightedSize:
            // Sizes and centres are float32; the centre offsets become float64 (numpy promotes
            // against the tuple of Python floats), as does the final key.
            let cx = Double(imageWidth) / 2, cy = Double(imageHeight) / 2
            let keys = faces.map { f -> Double in
                let dx = Double((f.box.x1 + f.box.x2) / 2) - cx
                let dy = Double((f.box.y1 + f.box.y2) / 2) - cy
                return Double(f.box.area) - (dx * dx + dy * dy) * 2.0
            }
            return argmax(keys).map { faces[$0] }
        case .largestOverThreshold:
            let filtered = faces.filter { $0.probability > Float(0.9) }
            guard let j = argmax(filtered.map { Double($0.box.area) }) else { return nil }
            // facenet-pytorch indexes the *unfiltered* probabilities and landmarks with the
            // position found among the filtered boxes; reproduced for parity.
            return DetectedFace(box: filtered[j].box, probability: faces[j].probability,
                                landmarks: faces[j].landmarks)
        }
    }

    /// Index of the largest key, the last one among ties (argsort(...)[::-1][0]).
    private static func argmax(_ keys: [Double]) -> Int? {
        guard !keys.isEmpty else { return nil }
        var best = 0
        for i in keys.indices.dropFirst() where keys[i] >= keys[best] { best = i }
        return best
    }
}
