import Foundation
import Testing

@testable import FaceRecognition

@Suite("Face verification", .ownThreads)
struct FaceVerificationTests {
    /// Unit vectors from a fixed generator.
    static func unitVectors(_ count: Int, dimension: Int = 512) -> [[Float]] {
        var state: UInt64 = 0x9E3779B97F4A7C15
        return (0..<count).map { _ in
            let v = (0..<dimension).map { _ -> Float in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return Float(Int64(bitPattern: state >> 11) % 2000) / 1000 - 1
            }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return v.map { $0 / norm }
        }
    }

    @Test("distance is the distance GalleryMatcher reports, for both metrics")
    func distanceMatchesMatcher() throws {
        let vectors = Self.unitVectors(6)
        var gallery = Gallery()
        for (i, v) in vectors.dropFirst().enumerated() { try gallery.add(name: "p\(i)", embedding: v) }
        for metric in MatchMetric.allCases {
            let matches = try GalleryMatcher(gallery: gallery, metric: metric).nearest([vectors[0]], k: 5)[0]
            for match in matches {
                let direct = FaceVerification.distance(vectors[0], vectors[match.index + 1], metric: metric)
                #expect(abs(direct - match.distance) <= 1e-5, "\(metric)")
            }
        }
        #expect(FaceVerification.distance(vectors[1], vectors[1]) == 0)
        #expect(FaceVerification.distance([0, 0], [3, 4]) == 5)
        #expect(abs(FaceVerification.distance([1, 0], [0, 1], metric: .cosine) - 1) < 1e-6)
    }

    @Test("verify compares with the threshold; the default is 1.1 Euclidean, 0.605 cosine, the same limit on unit vectors")
    func verify() {
        #expect(FaceVerification.defaultThreshold == DistanceThreshold(1.1, metric: .euclidean))
        let cosine = FaceVerification.defaultThreshold(for: .cosine)
        #expect(cosine.metric == .cosine)
        #expect(abs(cosine.value - 0.605) < 1e-6)
        #expect(abs(cosine.converted(to: .euclidean).value - 1.1) < 1e-6)
        let vectors = Self.unitVectors(8)
        for a in vectors { for b in vectors {
            let euclidean = FaceVerification.verify(a, b)
            let byCosine = FaceVerification.verify(a, b, threshold: cosine)
            #expect(euclidean.isMatch == (euclidean.distance <= 1.1))
            #expect(euclidean.threshold == 1.1 && euclidean.metric == .euclidean)
            // e² = 2 (1 − cos) on unit vectors: both metrics agree away from the boundary.
            if abs(euclidean.distance - 1.1) > 1e-3 { #expect(euclidean.isMatch == byCosine.isMatch) }
        } }
        let same = FaceVerification.verify(vectors[0], vectors[0], threshold: DistanceThreshold(0, metric: .euclidean))
        #expect(same.isMatch && same.distance == 0)
    }

    @Test("a gallery's threshold is saved in and read from its metadata; a bad one is refused")
    func galleryThreshold() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("verif-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var gallery = Gallery(threshold: DistanceThreshold(0.9, metric: .cosine))
        try gallery.add(name: "Ada", embedding: Self.unitVectors(1)[0])
        let url = dir.appendingPathComponent("g.safetensors")
        try gallery.save(to: url)
        let loaded = try Gallery.load(contentsOf: url)
        #expect(loaded.threshold == DistanceThreshold(0.9, metric: .cosine))
        #expect(loaded == gallery)
        gallery.threshold = nil
        try gallery.save(to: url)
        #expect(try Gallery.load(contentsOf: url).threshold == nil)

        for (value, metric) in [("-1", "euclidean"), ("abc", "euclidean"), ("1", "manhattan")] {
            let dict = StateDict(tensors: ["embeddings": Tensor(shape: [1, 2], scalars: [0.6, 0.8])],
                                 metadata: ["format": Gallery.fileFormat, "names": "[\"Ada\"]",
                                            "threshold": value, "threshold_metric": metric])
            try SafeTensors.write(dict, to: url)
            #expect(throws: GalleryError.self) { try Gallery.load(contentsOf: url) }
        }
    }
}
