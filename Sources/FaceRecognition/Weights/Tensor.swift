/// A dense float32 tensor, row-major (contiguous), as the networks consume it.
///
/// Every loader in this module produces `Tensor`s whatever the on-disk dtype (float64, float16,
/// bfloat16, integers, bool are converted), and materialises strided views so `scalars` is always
/// laid out in row-major order of `shape`.
public struct Tensor: Sendable, Equatable {
    /// Dimensions, outermost first. `[]` is a scalar (one element).
    public var shape: [Int]
    /// Elements in row-major order; `scalars.count == shape.reduce(1, *)`.
    public var scalars: [Float]

    /// Creates a tensor. The element count must match the shape: that is a programming error,
    /// not an input error (the loaders validate file-derived shapes before constructing one).
    public init(shape: [Int], scalars: [Float]) {
        precondition(Tensor.elementCount(of: shape) == scalars.count,
                     "Tensor shape \(shape) does not match \(scalars.count) scalars")
        self.shape = shape
        self.scalars = scalars
    }

    /// Number of elements.
    public var count: Int { scalars.count }

    /// The element count a shape implies, or nil when a dimension is negative or the product
    /// overflows `Int` (so shapes read from files can be validated without trapping).
    public static func elementCount(of shape: [Int]) -> Int? {
        var total = 1
        for dim in shape {
            guard dim >= 0 else { return nil }
            let (product, overflow) = total.multipliedReportingOverflow(by: dim)
            if overflow { return nil }
            total = product
        }
        return total
    }
}

/// Named tensors of a checkpoint, plus safetensors' string metadata (empty for .pt files).
public struct StateDict: Sendable {
    /// Tensors by their state-dict key, e.g. `"conv1.weight"`.
    public var tensors: [String: Tensor]
    /// safetensors `__metadata__` (string to string); empty for PyTorch checkpoints.
    public var metadata: [String: String]

    /// A state dict from its tensors and string metadata.
    public init(tensors: [String: Tensor], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The tensor stored under `name`, if any.
    public subscript(name: String) -> Tensor? { tensors[name] }

    /// Keys in a stable (sorted) order, for listings and deterministic output.
    public var sortedKeys: [String] { tensors.keys.sorted() }

    /// Returns the tensor under `key` after checking that it exists, has exactly `shape` and holds
    /// only finite values. Network builders call this for every parameter they consume so a wrong
    /// or damaged checkpoint fails with a message naming the tensor instead of producing garbage.
    public func require(_ key: String, shape: [Int]) throws -> Tensor {
        guard let tensor = tensors[key] else { throw WeightsError.missingTensor(key: key) }
        guard tensor.shape == shape else {
            throw WeightsError.shapeMismatch(key: key, actual: tensor.shape, expected: shape)
        }
        if let index = tensor.scalars.firstIndex(where: { !$0.isFinite }) {
            throw WeightsError.nonFinite(key: key, index: index)
        }
        return tensor
    }

    /// Like `require(_:shape:)` but accepts any shape with `count` elements (e.g. PReLU weights
    /// stored as `[C]` or `[1, C, 1, 1]`).
    public func require(_ key: String, count: Int) throws -> Tensor {
        guard let tensor = tensors[key] else { throw WeightsError.missingTensor(key: key) }
        guard tensor.count == count else {
            throw WeightsError.countMismatch(key: key, actual: tensor.count, expected: count)
        }
        if let index = tensor.scalars.firstIndex(where: { !$0.isFinite }) {
            throw WeightsError.nonFinite(key: key, index: index)
        }
        return tensor
    }
}

/// The on-disk formats `WeightsLoader` recognises.
public enum WeightsFormat: Sendable, Equatable, CustomStringConvertible {
    /// `torch.save` default since PyTorch 1.6: a zip archive with `data.pkl` and `data/<key>`.
    case torchZip
    /// `torch.save(..., _use_new_zipfile_serialization=False)`: concatenated pickles + raw storages.
    case torchLegacy
    /// Hugging Face safetensors: 8-byte header length, JSON header, raw little-endian data.
    case safetensors

    public var description: String {
        switch self {
        case .torchZip: return "PyTorch zip checkpoint"
        case .torchLegacy: return "PyTorch legacy checkpoint"
        case .safetensors: return "safetensors"
        }
    }
}
