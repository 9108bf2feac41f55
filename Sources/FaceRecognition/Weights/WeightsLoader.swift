import Foundation

/// Loads a network's weights from any supported file into a `StateDict`, detecting the format
/// from the bytes rather than the extension.
public enum WeightsLoader {
    /// Loads `.pt`/`.pth` (zip or legacy) or `.safetensors` weights.
    public static func load(contentsOf url: URL) throws -> StateDict {
        try load(bytes: try TorchCheckpoint.readFile(url), name: url.lastPathComponent)
    }

    /// Loads weights from bytes in memory; `name` is used in error messages.
    public static func load(data: Data, name: String) throws -> StateDict {
        try load(bytes: [UInt8](data), name: name)
    }

    static func load(bytes: [UInt8], name: String) throws -> StateDict {
        switch detectFormat(bytes) {
        case .safetensors:
            return try SafeTensors.read(bytes: bytes, name: name)
        case .torchZip, .torchLegacy:
            return try stateDict(from: try TorchCheckpoint.load(bytes: bytes, name: name), name: name)
        case nil:
            if bytes.isEmpty { throw WeightsError.truncated(file: name, offset: 0, needed: 1, what: "weights file (empty)") }
            throw WeightsError.unrecognisedFormat(file: name, firstBytes: bytes.hexPrefix)
        }
    }

    /// The format the bytes are in, or nil: zip local-header magic, the legacy pickle's
    /// protocol-2 LONG1 magic number, or a safetensors length followed by `{`.
    public static func detectFormat(_ data: Data) -> WeightsFormat? { detectFormat([UInt8](data.prefix(16))) }

    static func detectFormat(_ bytes: [UInt8]) -> WeightsFormat? {
        if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) || bytes.starts(with: [0x50, 0x4B, 0x05, 0x06]) {
            return .torchZip
        }
        if bytes.starts(with: [0x80, 0x02, 0x8A, 0x0A] + TorchCheckpoint.legacyMagic) { return .torchLegacy }
        if bytes.count >= 9, bytes[8] == UInt8(ascii: "{") { return .safetensors }
        return nil
    }

    /// Extracts a state dict from a loaded checkpoint: the top-level dict itself, or its
    /// `"state_dict"`/`"model"` entry when that is a dict (training checkpoints). Tensors are kept
    /// by key; BatchNorm's `num_batches_tracked` counters and non-tensor entries are dropped.
    public static func stateDict(from value: PickleValue, name: String) throws -> StateDict {
        guard case .dict = value else { throw WeightsError.notAStateDict(file: name, found: value.kindDescription) }
        var source = value
        for wrapper in ["state_dict", "model"] {
            if let inner = value[wrapper], case .dict = inner { source = inner; break }
        }
        guard case let .dict(entries) = source else { throw WeightsError.notAStateDict(file: name, found: source.kindDescription) }
        var tensors: [String: Tensor] = [:]
        for (key, item) in entries {
            guard let key = key.stringValue, case let .tensor(tensor) = item else { continue }
            if key == "num_batches_tracked" || key.hasSuffix(".num_batches_tracked") { continue }
            tensors[key] = tensor
        }
        guard !tensors.isEmpty else {
            throw WeightsError.notAStateDict(file: name, found: "\(source.kindDescription) with no tensors")
        }
        return StateDict(tensors: tensors, metadata: [:])
    }
}
