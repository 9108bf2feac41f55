import Foundation
import Testing

@testable import FaceRecognition

/// `facerec cluster` against scikit-learn's single-linkage AgglomerativeClustering and scipy's
/// connected components on the same embeddings (from `facerec embed`).
@Suite("facerec cluster", .ownThreads)
struct CLIClusterTests {
    static let images = (0..<24).map { TestPaths.data(String(format: "face_images_100/test_%02d.jpg", $0)).path }
        + [TestPaths.data("photos/multiface.jpg").path]

    static let reference = """
        import json, sys
        import numpy as np
        from sklearn.cluster import AgglomerativeClustering
        from scipy.sparse.csgraph import connected_components
        from scipy.spatial.distance import pdist, squareform
        data = json.load(open(sys.argv[1]))
        x = np.array(data["embeddings"], dtype=np.float64); t = data["threshold"]; metric = data["metric"]
        agg = AgglomerativeClustering(n_clusters=None, distance_threshold=t, linkage="single", metric=metric).fit(x).labels_
        d = squareform(pdist(x, metric=metric))
        _, cc = connected_components(d <= t, directed=False)
        print(json.dumps({"agglomerative": agg.tolist(), "components": cc.tolist(), "distances": pdist(x, metric=metric).tolist()}))
        """

    /// Labels renumbered in order of first appearance, so equal partitions compare equal.
    static func canonical(_ labels: [Int]) -> [Int] {
        var numbers: [Int: Int] = [:]
        return labels.map { l in
            if let n = numbers[l] { return n }
            numbers[l] = numbers.count
            return numbers.count - 1
        }
    }

    @Test("the same partition as scikit-learn and scipy, Euclidean and cosine; --out-dir has a folder per cluster",
          .enabled(if: MTCNNTestSupport.weightsDirectory != nil, "needs the MTCNN weights"),
          .enabled(if: PythonReference.available, "needs python3 with scikit-learn and scipy (pip install scikit-learn)"),
          arguments: ["euclidean", "cosine"])
    func againstScikitLearn(metric: String) throws {
        let mtcnn = try CLITests.mtcnnArguments()
        let embed = try CLITests.run(["embed", "--weights", (try CLITests.weightsFile).path] + mtcnn + Self.images)
        #expect(embed.status == 0, "\(embed.stderr)")
        let faces = try CLIFolderTests.json(embed.stdout)
        let embeddings = faces.map { $0["embedding"] as! [Double] }
        try #require(embeddings.count > 24)

        // A threshold in a wide gap of the pairwise distances near their 3rd percentile, so that
        // there are clusters of several faces and no distance is near the boundary.
        let distances = try #require(try PythonReference.run(Self.reference, input: ["embeddings": embeddings, "threshold": 0.0, "metric": metric])["distances"] as? [Double]).sorted()
        let k = distances.count * 3 / 100
        var gap = k - 10
        for i in (k - 10)..<(k + 10) where distances[i + 1] - distances[i] > distances[gap + 1] - distances[gap] { gap = i }
        let threshold: Double = (distances[gap] + distances[gap + 1]) / 2
        try #require(distances[gap + 1] - distances[gap] > 1e-4)

        let out = try CLITests.scratch("clusters")
        defer { try? FileManager.default.removeItem(at: out) }
        let arguments: [String] = ["cluster", "--weights", (try CLITests.weightsFile).path, "--metric", metric, "--threshold", "\(threshold)",
                                   "--out-dir", out.path]
        let result = try CLITests.run(arguments + mtcnn + Self.images)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = try CLIFolderTests.json(result.stdout)
        try #require(lines.count == faces.count)
        // The same faces in the same order as embed.
        #expect(lines.map { $0["box"] as! [Double] } == faces.map { $0["box"] as! [Double] })
        let clusters = lines.map { $0["cluster"] as! Int }
        #expect(clusters == Self.canonical(clusters))

        let reference = try PythonReference.run(Self.reference, input: ["embeddings": embeddings, "threshold": threshold, "metric": metric])
        #expect(clusters == Self.canonical(reference["agglomerative"] as! [Int]))
        #expect(clusters == Self.canonical(reference["components"] as! [Int]))
        let count = Set(clusters).count
        #expect(count > 1 && count < clusters.count, "a partition with groups: \(count) clusters of \(clusters.count) faces")

        // One folder per cluster, one crop per face, and cluster_size agrees.
        for c in Set(clusters) {
            let files = try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("cluster_\(c)").path)
            let size = clusters.filter { $0 == c }.count
            #expect(files.count == size && files.allSatisfy { $0.hasSuffix(".png") })
            #expect(lines.filter { $0["cluster"] as! Int == c }.allSatisfy { $0["cluster_size"] as? Int == size })
        }
        #expect(result.stderr.contains("\(faces.count) face(s) in \(count) cluster(s)"), "\(result.stderr)")
    }

    @Test("the threshold comes from --threshold, else the gallery, else the vggface2 default",
          .enabled(if: MTCNNTestSupport.weightsDirectory != nil, "needs the MTCNN weights"))
    func thresholdSources() throws {
        let dir = try CLITests.scratch("cluster-gallery")
        defer { try? FileManager.default.removeItem(at: dir) }
        var gallery = try Gallery.load(contentsOf: GalleryTests.coursePT)
        gallery.threshold = DistanceThreshold(0.25, metric: .euclidean)
        let file = dir.appendingPathComponent("g.safetensors")
        try gallery.save(to: file)
        let base = ["cluster", "--weights", (try CLITests.weightsFile).path] + (try CLITests.mtcnnArguments())
        let image = Self.images[0]
        let stored = try CLITests.run(base + ["--gallery", file.path, image])
        #expect(stored.stderr.contains("(threshold 0.25, euclidean)"), "\(stored.stderr)")
        let cosine = try CLITests.run(base + ["--gallery", file.path, "--metric", "cosine", image])
        #expect(cosine.stderr.contains("(threshold \(Float(0.25 * 0.25 / 2)), cosine)"), "\(cosine.stderr)")
        let given = try CLITests.run(base + ["--gallery", file.path, "--threshold", "0.7", image])
        #expect(given.stderr.contains("(threshold 0.7, euclidean)"))
        let fallback = try CLITests.run(base + [image])
        #expect(fallback.stderr.contains("(threshold 1.1, euclidean)"))
        #expect(fallback.status == 0)
    }
}
