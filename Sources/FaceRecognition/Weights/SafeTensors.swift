import Foundation

/// The safetensors format: an 8-byte little-endian header length, a JSON header mapping tensor
/// names to `{"dtype", "shape", "data_offsets"}` (plus an optional `__metadata__` string map), then
/// the raw little-endian tensor bytes. Reading accepts F32/F64/F16/BF16 (and integer/bool dtypes,
/// converted to Float); writing produces F32.
public enum SafeTensors {
    /// Headers larger than this are rejected before parsing (the reference implementation uses
    /// the same 100 MB bound).
    static let maxHeaderLength = 100_000_000

    /// Reads a safetensors file.
    public static func read(contentsOf url: URL) throws -> StateDict {
        try read(bytes: try TorchCheckpoint.readFile(url), name: url.lastPathComponent)
    }

    /// Reads safetensors bytes; `name` is used in error messages.
    public static func read(data: Data, name: String) throws -> StateDict {
        try read(bytes: [UInt8](data), name: name)
    }

    static func read(bytes: [UInt8], name: String) throws -> StateDict {
        var reader = ByteReader(bytes: bytes, file: name)
        guard let headerLength = Checked.int(try reader.u64("safetensors header length")),
              headerLength <= maxHeaderLength else {
            throw WeightsError.malformed(file: name, offset: 0, reason: "safetensors header length exceeds \(maxHeaderLength) bytes")
        }
        let headerRange = try reader.range(headerLength, "safetensors JSON header")
        let dataStart = headerRange.upperBound
        let dataLength = bytes.count - dataStart
        func bad(_ reason: String) -> WeightsError { .malformed(file: name, offset: 8, reason: reason) }

        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes[headerRange]), options: [])
        } catch {
            throw bad("safetensors header is not valid JSON")
        }
        guard let header = json as? [String: Any] else { throw bad("safetensors header is not a JSON object") }

        var metadata: [String: String] = [:]
        var entries: [(key: String, type: ScalarType, shape: [Int], begin: Int, end: Int)] = []
        for (key, value) in header {
            if key == "__metadata__" {
                guard let map = value as? [String: Any] else { throw bad("__metadata__ is not an object") }
                for (metaKey, metaValue) in map {
                    guard let text = metaValue as? String else { throw bad("__metadata__ value '\(metaKey)' is not a string") }
                    metadata[metaKey] = text
                }
                continue
            }
            guard let info = value as? [String: Any] else { throw bad("entry '\(key)' is not an object") }
            guard let dtypeName = info["dtype"] as? String else { throw bad("entry '\(key)' has no string dtype") }
            guard let type = ScalarType(safetensorsName: dtypeName) else {
                throw WeightsError.unsupported(file: name, offset: 8, what: "dtype '\(dtypeName)' of tensor '\(key)'")
            }
            guard let shape = integers(info["shape"]) else { throw bad("entry '\(key)' has no valid shape") }
            guard let offsets = integers(info["data_offsets"]), offsets.count == 2 else {
                throw bad("entry '\(key)' has no valid data_offsets")
            }
            guard let count = Tensor.elementCount(of: shape), let length = Checked.mul(count, type.byteWidth) else {
                throw bad("shape \(shape) of tensor '\(key)' overflows")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin <= end, end <= dataLength else {
                throw bad("tensor '\(key)' data_offsets [\(begin), \(end)] lie outside the \(dataLength)-byte data section")
            }
            guard end - begin == length else {
                throw bad("tensor '\(key)' data_offsets span \(end - begin) bytes, but \(dtypeName) \(shape) needs \(length)")
            }
            guard count <= StorageTable.maxElements else {
                throw bad("tensor '\(key)' has more than \(StorageTable.maxElements) elements")
            }
            entries.append((key, type, shape, begin, end))
        }
        entries.sort { ($0.begin, $0.end, $0.key) < ($1.begin, $1.end, $1.key) }
        for (previous, next) in zip(entries, entries.dropFirst()) where next.begin < previous.end {
            throw bad("tensors '\(previous.key)' and '\(next.key)' overlap in the data section")
        }

        var tensors: [String: Tensor] = [:]
        bytes.withUnsafeBytes { all in
            for entry in entries {
                let raw = UnsafeRawBufferPointer(rebasing: all[(dataStart + entry.begin)..<(dataStart + entry.end)])
                let count = (entry.end - entry.begin) / entry.type.byteWidth
                var stride = [Int](repeating: 1, count: entry.shape.count)
                for axis in stride.indices.dropLast().reversed() { stride[axis] = stride[axis + 1] &* entry.shape[axis + 1] }
                let scalars = materialize(raw, type: entry.type, bigEndian: false, offset: 0,
                                          shape: entry.shape, stride: stride, count: count)
                tensors[entry.key] = Tensor(shape: entry.shape, scalars: scalars)
            }
        }
        return StateDict(tensors: tensors, metadata: metadata)
    }

    /// Non-negative integers from a JSON array, or nil.
    private static func integers(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var result: [Int] = []
        for item in array {
            // JSONSerialization hands back NSNumbers; only integer encodings count (not booleans,
            // whose objCType is "c", nor "1.0"-style doubles).
            guard let number = item as? NSNumber,
                  ["i", "l", "q", "s", "I", "L", "Q", "S"].contains(String(cString: number.objCType)),
                  let int = item as? Int, int >= 0 else { return nil }
            result.append(int)
        }
        return result
    }

    /// Encodes a state dict as safetensors bytes: F32 tensors in sorted key order, metadata kept.
    public static func encode(_ dict: StateDict) -> Data {
        var header = "{"
        var fields: [String] = []
        if !dict.metadata.isEmpty {
            let pairs = dict.metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(dict.metadata[$0] ?? ""))" }
            fields.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        let keys = dict.sortedKeys
        for key in keys {
            guard let tensor = dict.tensors[key] else { continue }
            let length = tensor.count * 4
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            fields.append("\(jsonString(key)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + length)]}")
            offset += length
        }
        header += fields.joined(separator: ",") + "}"
        // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
        while header.utf8.count % 8 != 0 { header += " " }
        var data = Data(capacity: 8 + header.utf8.count + offset)
        var length = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        for key in keys {
            guard let tensor = dict.tensors[key] else { continue }
            tensor.scalars.withUnsafeBufferPointer { buffer in
                var littleEndian = buffer.map { $0.bitPattern.littleEndian }
                littleEndian.withUnsafeMutableBytes { data.append(contentsOf: $0) }
            }
        }
        return data
    }

    /// Writes a state dict as a safetensors file (F32), atomically.
    public static func write(_ dict: StateDict, to url: URL) throws {
        do {
            try encode(dict).write(to: url, options: .atomic)
        } catch {
            throw WeightsError.io(file: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    private static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
