import ArgumentParser
import FaceRecognition
import Foundation

/// `facerec cluster`: group the faces of unlabelled images by person.
struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Group the faces of images by person (single-linkage clusters of the distance threshold).",
        discussion: """
            Every face of every image is embedded; two faces whose distance is at most the \
            threshold are the same person, and clusters are the connected groups this makes \
            (single-linkage agglomerative clustering stopped at the threshold, as scikit-learn's \
            AgglomerativeClustering(linkage="single", distance_threshold=T) builds it). The \
            threshold is --threshold, else the one stored in --gallery (e.g. by `facerec calibrate \
            --gallery`), else the vggface2 default (Euclidean 1.1; cosine 0.605). Prints one JSON \
            line per face, in input order: {"box", "cluster", "cluster_size", "face", "image", \
            "landmarks", "orientation", "prob"} (the face in the library's JSON form), clusters numbered from 0 in order of first appearance. \
            --out-dir DIR writes each face's crop to DIR/cluster_N/STEM_FACE.png.
            """)

    @Option(help: "FaceNet weights: a facenet-pytorch .pt checkpoint or .safetensors.")
    var weights: String

    @Option(parsing: .unconditional, help: ArgumentHelp("Largest distance between two faces of one person (default: --gallery's, else the vggface2 default).", valueName: "distance"))
    var threshold: ThresholdArgument?

    @Option(help: ArgumentHelp("Take the threshold stored in this gallery (by calibrate or enroll --threshold).", valueName: "gallery"))
    var gallery: String?

    @Option(help: "euclidean or cosine.")
    var metric: MatchMetric = .euclidean

    @Option(name: .customLong("out-dir"), help: ArgumentHelp("Write each face's crop to DIR/cluster_N/ (created if missing).", valueName: "dir"))
    var outDir: String?

    @OptionGroup var detection: DetectionOptions
    @OptionGroup var quality: QualityOptions
    @OptionGroup var common: CommonOptions

    @Argument(help: "Images (JPEG or PNG) or folders of them.")
    var images: [String]

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image or folder") }
        try threshold?.check()
    }

    func run() throws {
        let stored = try gallery.map(CLI.loadGallery)?.threshold?.converted(to: metric)
        let limit = threshold.map { DistanceThreshold($0.value, metric: metric) } ?? stored ?? FaceVerification.defaultThreshold(for: metric)
        let facenet = try CLI.loadFaceNet(weights)
        let detector = try CLI.loadDetector(detection, mtcnn: detection.mtcnn(keepAll: true))
        if let outDir { try CLI.makeDirectory(outDir) }
        let inputs = ImageInputs(images)
        let failed = inputs.reportFailures()
        let gate = QualityGate(quality)
        let embedded = FaceEmbeddings.embed(files: inputs.files, detector: detector, facenet: facenet, applyEXIF: detection.applyEXIF,
                                            gate: gate, largestOnly: false, keepCrops: outDir != nil)
        gate.report()
        let faces = embedded.faces.flatMap { $0 }
        let clusters = FaceClustering.clusters(faces.map(\.embedding), threshold: limit)
        var sizes = [Int](repeating: 0, count: (clusters.max() ?? -1) + 1)
        for c in clusters { sizes[c] += 1 }
        var taken = Set<String>()
        for (face, cluster) in zip(faces, clusters) {
            CLI.printLine(CLI.jsonLine(ClusterLine(face: face, cluster: cluster, clusterSize: sizes[cluster])))
            if let outDir, let crop = face.crop {
                let folder = (outDir as NSString).appendingPathComponent("cluster_\(cluster)")
                try CLI.makeDirectory(folder)
                let stem = URL(fileURLWithPath: face.path).deletingPathExtension().lastPathComponent + "_\(face.index)"
                var name = stem, n = 1
                while taken.contains("\(folder)/\(name)") { n += 1; name = "\(stem)-\(n)" }
                taken.insert("\(folder)/\(name)")
                try CLI.writeFile(try ImageEncoder.png(crop), to: (folder as NSString).appendingPathComponent(name + ".png"))
            }
        }
        CLI.note("\(faces.count) face(s) in \(sizes.count) cluster(s) (threshold \(limit.value), \(limit.metric.rawValue))"
                 + (outDir.map { "; crops in \($0)" } ?? ""))
        try CLI.finish(processed: inputs.files.count - embedded.failures, failed: failed + embedded.failures)
    }
}

/// Connected components of the graph whose edges join embeddings at most `threshold` apart.
enum FaceClustering {
    /// The cluster of each embedding, numbered from 0 in order of first appearance.
    static func clusters(_ embeddings: [Embedding], threshold: DistanceThreshold) -> [Int] {
        var parent = Array(embeddings.indices)
        func root(_ i: Int) -> Int {
            var i = i
            while parent[i] != i {
                parent[i] = parent[parent[i]]
                i = parent[i]
            }
            return i
        }
        for i in embeddings.indices {
            for j in embeddings.indices where j > i {
                guard FaceVerification.distance(embeddings[i], embeddings[j], metric: threshold.metric) <= threshold.value else { continue }
                let (a, b) = (root(i), root(j))
                if a != b { parent[max(a, b)] = min(a, b) }
            }
        }
        var numbers: [Int: Int] = [:]
        return embeddings.indices.map { i in
            let r = root(i)
            if let n = numbers[r] { return n }
            numbers[r] = numbers.count
            return numbers.count - 1
        }
    }
}

/// One line of `facerec cluster`: the image, the face in the library's `DetectedFace` JSON form
/// with its number, its cluster and that cluster's size.
private struct ClusterLine: Encodable {
    let face: EmbeddedFace
    let cluster: Int
    let clusterSize: Int

    enum CodingKeys: String, CodingKey {
        case image, face, cluster
        case clusterSize = "cluster_size"
    }

    func encode(to encoder: any Encoder) throws {
        try face.face.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(face.path, forKey: .image)
        try container.encode(face.index, forKey: .face)
        try container.encode(cluster, forKey: .cluster)
        try container.encode(clusterSize, forKey: .clusterSize)
    }
}
