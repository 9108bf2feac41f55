import FaceRecognition
import Foundation
import FuzzDriver

// Weight files, format detected from the bytes as in production: PyTorch zip checkpoints
// (local/central directory, zip64, stored and deflated entries, data.pkl + tensor storages),
// the legacy pickle format (magic, protocol, sys_info, the pickle, storage keys and raw
// storages), and safetensors (length, JSON header, dtypes, offsets). Successful loads go on
// to the state-dict extraction the networks use.
runFuzzer { start, count in
    let data = fuzzData(start, count)
    if let dict = try? WeightsLoader.load(data: data, name: "fuzz.pt") {
        for key in dict.sortedKeys {
            // A tensor that loaded must hold exactly as many scalars as its shape says.
            guard let tensor = dict[key] else { continue }
            precondition(Tensor.elementCount(of: tensor.shape) == tensor.count, "\(key): shape/scalar count mismatch")
        }
    }
    return 0
}
