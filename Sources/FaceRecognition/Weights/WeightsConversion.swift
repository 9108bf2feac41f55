import Foundation

/// Converting any supported checkpoint to float32 safetensors (what `facerec convert` runs).
/// Lossless for float32 weights: every tensor keeps its key and values; only BatchNorm's
/// `num_batches_tracked` counters, which hold no weights, are dropped by the loader.
public struct WeightsConversion: Sendable, Equatable {
    /// The format detected in the input.
    public var sourceFormat: WeightsFormat
    /// Tensor keys and shapes written, sorted by key.
    public var tensors: [TensorSummary]
    /// Total elements over all tensors.
    public var parameterCount: Int
    /// Size of the safetensors file written.
    public var bytesWritten: Int

    /// One tensor of a converted file.
    public struct TensorSummary: Sendable, Equatable {
        /// Its key.
        public var key: String
        /// Its shape.
        public var shape: [Int]
    }

    /// Reads `input` and writes it to `output` as safetensors with metadata
    /// `{"format": "pt", "source": <input file name>}` (an input's own safetensors metadata is
    /// kept). Refuses to replace an existing `output` unless `overwrite`, and never writes over
    /// the input; the output is written atomically, so a failure leaves no partial file.
    public static func convert(_ input: URL, to output: URL, overwrite: Bool = false) throws -> WeightsConversion {
        let source = input.standardizedFileURL.resolvingSymlinksInPath()
        let target = output.standardizedFileURL.resolvingSymlinksInPath()
        guard source.path != target.path else {
            throw WeightsError.io(file: output.path, reason: "output is the input file; choose another path")
        }
        if !overwrite && FileManager.default.fileExists(atPath: target.path) {
            throw WeightsError.io(file: output.path, reason: "exists; refusing to replace it (convert with overwrite: true to replace it)")
        }
        let bytes = try TorchCheckpoint.readFile(input)
        guard let format = WeightsLoader.detectFormat(bytes) else {
            throw WeightsError.unrecognisedFormat(file: input.lastPathComponent, firstBytes: bytes.hexPrefix)
        }
        var dict = try WeightsLoader.load(bytes: bytes, name: input.lastPathComponent)
        if dict.metadata.isEmpty { dict.metadata["format"] = "pt" }
        if dict.metadata["source"] == nil { dict.metadata["source"] = input.lastPathComponent }
        let encoded = SafeTensors.encode(dict)
        do {
            try encoded.write(to: output, options: .atomic)
        } catch {
            throw WeightsError.io(file: output.path, reason: "cannot write: \(error.localizedDescription)")
        }
        return WeightsConversion(
            sourceFormat: format,
            tensors: dict.sortedKeys.map { TensorSummary(key: $0, shape: dict.tensors[$0]?.shape ?? []) },
            parameterCount: dict.tensors.values.reduce(0) { $0 + $1.count },
            bytesWritten: encoded.count)
    }
}
