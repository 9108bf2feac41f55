import Foundation

/// Known people and their face embeddings: one or more rows per identity.
///
/// Stored as one row-major matrix (`count × dimension`) so matching many queries against many
/// entries is a single GEMM (see `GalleryMatcher`). Loads the course's `data.pt`
/// (`torch.save([embeddings, names])`) directly, and saves to / loads from one documented
/// safetensors file:
///
/// - tensor `embeddings`, float32 `[count, dimension]`;
/// - metadata `format` = `facerec-gallery/1` and `names` = a JSON array of `count` names, row order;
/// - optionally metadata `threshold` (a decimal number) and `threshold_metric` (`euclidean` or
///   `cosine`): the distance limit this gallery's owner chose (see ``threshold``).
public struct Gallery: Sendable, Equatable {
    /// The `format` metadata value of a gallery file.
    public static let fileFormat = "facerec-gallery/1"

    /// Length of every embedding.
    public let dimension: Int
    /// The identity of each row.
    public private(set) var names: [String]
    /// Row-major embeddings, `names.count × dimension`.
    public private(set) var embeddings: [Float]
    /// The match limit stored with the gallery, if any: recognisers built on it may use it in
    /// place of ``FaceVerification/defaultThreshold`` (`facerec identify` does, unless
    /// `--threshold` is given). Saved in and read from the file's metadata.
    public var threshold: DistanceThreshold?

    /// An empty gallery of `dimension`-long embeddings, with an optional threshold of its own.
    public init(dimension: Int = FaceNet.embeddingSize, threshold: DistanceThreshold? = nil) {
        self.dimension = dimension
        self.threshold = threshold
        names = []
        embeddings = []
    }

    /// Number of rows (embeddings), counting every row of every identity.
    public var count: Int { names.count }
    /// Whether the gallery has no entry.
    public var isEmpty: Bool { names.isEmpty }

    /// Distinct identities, in order of first appearance.
    public var identities: [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }

    /// The embedding in row `index`.
    public func embedding(at index: Int) -> ArraySlice<Float> {
        embeddings[index * dimension..<(index + 1) * dimension]
    }

    /// Adds one embedding for `name` (a new identity or another view of a known one).
    public mutating func add(name: String, embedding: [Float]) throws(GalleryError) {
        guard !name.isEmpty else { throw .invalidName(name) }
        guard embedding.count == dimension else {
            throw .dimensionMismatch(expected: dimension, actual: embedding.count, context: "embedding for '\(name)'")
        }
        guard embedding.allSatisfy(\.isFinite) else { throw .nonFinite(name: name) }
        names.append(name)
        embeddings.append(contentsOf: embedding)
    }

    /// Removes every row of `name`; returns how many were removed.
    @discardableResult
    public mutating func remove(name: String) -> Int {
        var keptNames: [String] = []
        var keptRows: [Float] = []
        for (i, n) in names.enumerated() where n != name {
            keptNames.append(n)
            keptRows.append(contentsOf: embedding(at: i))
        }
        let removed = names.count - keptNames.count
        names = keptNames
        embeddings = keptRows
        return removed
    }

    // MARK: Files

    /// The kind of file a gallery was read from, detected by content (not by extension).
    public enum SourceFormat: Sendable, Equatable, CustomStringConvertible {
        /// Our safetensors gallery (`facerec-gallery/1`), the only format `save(to:)` writes.
        case safetensors
        /// A PyTorch pickle, `torch.save([embeddings, names])` (zip or legacy): read, never written.
        case torch

        public var description: String {
            switch self {
            case .safetensors: return "facerec safetensors gallery"
            case .torch: return "torch checkpoint"
            }
        }
    }

    /// Loads our safetensors gallery or the course's `data.pt`, by content.
    public static func load(contentsOf url: URL) throws -> Gallery {
        try loadDetectingFormat(contentsOf: url).gallery
    }

    /// Loads like `load(contentsOf:)` and tells which kind of file it was, so a caller about to
    /// save an edited gallery can tell whether it would replace a file facerec did not write.
    public static func loadDetectingFormat(contentsOf url: URL) throws -> (gallery: Gallery, format: SourceFormat) {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw GalleryError.unreadable(file: url.path, reason: error.localizedDescription)
        }
        switch WeightsLoader.detectFormat(data) {
        case .safetensors:
            return (try fromSafeTensors(try SafeTensors.read(data: data, name: url.path), file: url.path), .safetensors)
        case .torchZip, .torchLegacy:
            return (try fromCourseData(try TorchCheckpoint.load(data: data, name: url.path), file: url.path), .torch)
        case nil:
            throw GalleryError.notAGallery(file: url.path, reason: "neither a safetensors gallery nor a PyTorch data.pt")
        }
    }

    /// The course format: `[list of [1, D] tensors, list of names]`.
    public static func fromCourseData(_ value: PickleValue, file: String) throws(GalleryError) -> Gallery {
        guard let parts = value.elements, parts.count == 2,
              let tensors = parts[0].elements, let names = parts[1].elements else {
            throw .notAGallery(file: file, reason: "expected [embeddings, names], found \(value.kindDescription)")
        }
        guard tensors.count == names.count else {
            throw .notAGallery(file: file, reason: "\(tensors.count) embeddings but \(names.count) names")
        }
        guard let first = tensors.first?.tensorValue else { return Gallery() }
        var gallery = Gallery(dimension: first.count)
        for (i, (t, n)) in zip(tensors, names).enumerated() {
            guard let tensor = t.tensorValue, let name = n.stringValue else {
                throw .notAGallery(file: file, reason: "entry \(i) is not a (tensor, string) pair")
            }
            try gallery.add(name: name, embedding: tensor.scalars)
        }
        return gallery
    }

    static func fromSafeTensors(_ dict: StateDict, file: String) throws(GalleryError) -> Gallery {
        guard dict.metadata["format"] == fileFormat else {
            throw .notAGallery(file: file, reason: "safetensors metadata 'format' is not \(fileFormat)")
        }
        guard let namesJSON = dict.metadata["names"],
              let names = try? JSONDecoder().decode([String].self, from: Data(namesJSON.utf8)) else {
            throw .notAGallery(file: file, reason: "metadata 'names' is not a JSON array of strings")
        }
        guard let matrix = dict["embeddings"], matrix.shape.count == 2, matrix.shape[0] == names.count else {
            throw .notAGallery(file: file, reason: "tensor 'embeddings' must be [\(names.count), dimension]")
        }
        var threshold: DistanceThreshold?
        if let text = dict.metadata["threshold"] {
            guard let value = Float(text), value.isFinite, value >= 0 else {
                throw .notAGallery(file: file, reason: "metadata 'threshold' is not a distance: \(text)")
            }
            let metricName = dict.metadata["threshold_metric"] ?? MatchMetric.euclidean.rawValue
            guard let metric = MatchMetric(rawValue: metricName) else {
                throw .notAGallery(file: file, reason: "metadata 'threshold_metric' is not euclidean or cosine: \(metricName)")
            }
            threshold = DistanceThreshold(value, metric: metric)
        }
        var gallery = Gallery(dimension: matrix.shape[1], threshold: threshold)
        for (i, name) in names.enumerated() {
            try gallery.add(name: name, embedding: Array(matrix.scalars[i * matrix.shape[1]..<(i + 1) * matrix.shape[1]]))
        }
        return gallery
    }

    /// Writes the safetensors gallery file, always in that format whatever the name (pick a
    /// `.safetensors` name: never a torch `.pt` file's, which this would replace).
    ///
    /// Atomic: the bytes go to a temporary file in `url`'s directory, are flushed, and are renamed
    /// over `url`, so a reader or a crash sees the old file or the new one, never part of one;
    /// on failure nothing is left behind. An existing file keeps its permissions.
    public func save(to url: URL) throws {
        try AtomicFile.write(safeTensorsData(), to: url)
    }

    /// The bytes `save(to:)` writes.
    func safeTensorsData() throws -> Data {
        let names = String(decoding: try JSONEncoder().encode(self.names), as: UTF8.self)
        var metadata = ["format": Gallery.fileFormat, "names": names]
        if let threshold {
            metadata["threshold"] = "\(threshold.value)"
            metadata["threshold_metric"] = threshold.metric.rawValue
        }
        let dict = StateDict(tensors: ["embeddings": Tensor(shape: [count, dimension], scalars: embeddings)],
                             metadata: metadata)
        return SafeTensors.encode(dict)
    }
}

/// Why a gallery could not be built, loaded or used.
public enum GalleryError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(file: String, reason: String)
    case notAGallery(file: String, reason: String)
    case dimensionMismatch(expected: Int, actual: Int, context: String)
    case invalidName(String)
    case nonFinite(name: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason): return "\(file): cannot read gallery: \(reason)"
        case let .notAGallery(file, reason): return "\(file): not a gallery: \(reason)"
        case let .dimensionMismatch(expected, actual, context):
            return "\(context) has \(actual) values, the gallery holds \(expected)-dimensional embeddings"
        case let .invalidName(name): return "invalid identity name '\(name)'"
        case let .nonFinite(name): return "embedding for '\(name)' holds NaN or infinity"
        }
    }
}
