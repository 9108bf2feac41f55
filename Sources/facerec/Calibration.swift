import FaceRecognition
import Foundation

/// Genuine (same person) and impostor (different people) distances of every pair of labelled
/// faces, and what each threshold does with them. A pair is accepted as the same person when
/// its distance is at most the threshold, as identify and verify decide.
///
/// - FAR(t), false accept rate: impostor pairs with distance ≤ t / impostor pairs.
/// - FRR(t), false reject rate: genuine pairs with distance > t / genuine pairs; TPR = 1 − FRR.
/// - The ROC has one point per distinct distance d (ascending), at (FAR(d), TPR(d)), after the
///   point (0, 0) of a threshold below every distance: the points scikit-learn's
///   `roc_curve(same, -distance, drop_intermediate=False)` gives.
/// - EER: where FAR = FRR, on the straight segment between the last point with FRR > FAR and
///   the first with FAR ≥ FRR (linear interpolation); its threshold is interpolated the same way
///   between the two distances, and is the suggested threshold.
/// - AUC: the area under the ROC (trapezoids), scikit-learn's `roc_auc_score`.
struct Calibration {
    struct Point {
        let threshold: Float
        let far: Double
        let frr: Double
    }

    /// Sorted ascending.
    let genuine: [Float]
    let impostor: [Float]
    /// One per distinct distance, ascending.
    let roc: [Point]
    let eer: Double
    let eerThreshold: Float
    let auc: Double

    /// Every pair of `faces` (label, embedding), i < j.
    init(labelled faces: [(label: String, embedding: Embedding)], metric: MatchMetric) {
        var genuine: [Float] = [], impostor: [Float] = []
        for i in faces.indices {
            for j in faces.indices where j > i {
                let d = FaceVerification.distance(faces[i].embedding, faces[j].embedding, metric: metric)
                if faces[i].label == faces[j].label { genuine.append(d) } else { impostor.append(d) }
            }
        }
        self.init(genuine: genuine, impostor: impostor)
    }

    /// - Precondition: both lists are non-empty.
    init(genuine: [Float], impostor: [Float]) {
        self.genuine = genuine.sorted()
        self.impostor = impostor.sorted()
        let g = Double(genuine.count), n = Double(impostor.count)
        var points: [Point] = []
        var gi = 0, ii = 0
        let all = (self.genuine + self.impostor).sorted()
        var k = 0
        while k < all.count {
            let d = all[k]
            while k < all.count && all[k] == d { k += 1 }
            while gi < self.genuine.count && self.genuine[gi] <= d { gi += 1 }
            while ii < self.impostor.count && self.impostor[ii] <= d { ii += 1 }
            points.append(Point(threshold: d, far: Double(ii) / n, frr: 1 - Double(gi) / g))
        }
        roc = points
        // The EER crossing, from the start point (FAR 0, FRR 1) on.
        var previous = (far: 0.0, frr: 1.0, threshold: points.first?.threshold ?? 0)
        var eer = 0.0, eerThreshold = points.last?.threshold ?? 0
        for p in points {
            if p.far >= p.frr {
                let before = previous.frr - previous.far, after = p.frr - p.far
                let alpha = before / (before - after)
                eer = previous.far + alpha * (p.far - previous.far)
                eerThreshold = previous.threshold + Float(alpha) * (p.threshold - previous.threshold)
                break
            }
            previous = (p.far, p.frr, p.threshold)
        }
        self.eer = eer
        self.eerThreshold = eerThreshold
        var area = 0.0, x = 0.0, y = 0.0
        for p in points {
            area += (p.far - x) * ((1 - p.frr) + y) / 2
            x = p.far
            y = 1 - p.frr
        }
        auc = area
    }

    /// FAR and FRR of threshold `t`.
    func rates(at t: Float) -> (far: Double, frr: Double) {
        let accepted = impostor.partitioningIndex { $0 > t }
        let genuineAccepted = genuine.partitioningIndex { $0 > t }
        return (Double(accepted) / Double(impostor.count), 1 - Double(genuineAccepted) / Double(genuine.count))
    }

    /// The largest distinct distance whose FAR is at most `target` (nil when even the smallest
    /// exceeds it).
    func threshold(forFAR target: Double) -> Float? {
        roc.last { $0.far <= target }?.threshold
    }

    /// `bins` counts of each list over [0, upper).
    func histogram(bins: Int) -> (upper: Float, genuine: [Int], impostor: [Int]) {
        let top = max(genuine.last ?? 0, impostor.last ?? 0)
        let upper = top > 0 ? top * 1.0001 : 1
        func counts(_ values: [Float]) -> [Int] {
            var c = [Int](repeating: 0, count: bins)
            for v in values { c[min(bins - 1, max(0, Int(Float(bins) * v / upper)))] += 1 }
            return c
        }
        return (upper, counts(genuine), counts(impostor))
    }
}

extension Array {
    /// The first index whose element satisfies `belongs` (elements that do come after all that
    /// do not), by binary search.
    func partitioningIndex(where belongs: (Element) -> Bool) -> Int {
        var low = 0, high = count
        while low < high {
            let mid = (low + high) / 2
            if belongs(self[mid]) { high = mid } else { low = mid + 1 }
        }
        return low
    }
}
