/// Element types found in checkpoints, and their conversion to `Float`.
enum ScalarType: String, Sendable, CaseIterable {
    case float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool

    var byteWidth: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    /// The dtype a PyTorch typed-storage class stores (`torch.FloatStorage` → float32).
    init?(torchStorageName name: String) {
        switch name {
        case "FloatStorage": self = .float32
        case "DoubleStorage": self = .float64
        case "HalfStorage": self = .float16
        case "BFloat16Storage": self = .bfloat16
        case "LongStorage": self = .int64
        case "IntStorage": self = .int32
        case "ShortStorage": self = .int16
        case "CharStorage": self = .int8
        case "ByteStorage", "UntypedStorage": self = .uint8
        case "BoolStorage": self = .bool
        default: return nil
        }
    }

    /// The safetensors dtype string (`"F32"` → float32).
    init?(safetensorsName name: String) {
        switch name {
        case "F32": self = .float32
        case "F64": self = .float64
        case "F16": self = .float16
        case "BF16": self = .bfloat16
        case "I64": self = .int64
        case "I32": self = .int32
        case "I16": self = .int16
        case "I8": self = .int8
        case "U8": self = .uint8
        case "BOOL": self = .bool
        default: return nil
        }
    }

    /// Reads element `index` of `raw` (little-endian unless `bigEndian`) as a Float. The caller
    /// has checked `(index + 1) * byteWidth <= raw.count`.
    @inline(__always)
    func load(_ raw: UnsafeRawBufferPointer, _ index: Int, bigEndian: Bool) -> Float {
        let at = index &* byteWidth
        switch self {
        case .float32:
            var bits = raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)
            if bigEndian { bits = bits.byteSwapped }
            return Float(bitPattern: bits)
        case .float64:
            var bits = raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)
            if bigEndian { bits = bits.byteSwapped }
            return Float(Double(bitPattern: bits))
        case .float16:
            var bits = raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)
            if bigEndian { bits = bits.byteSwapped }
            return HalfFloat.float(fromHalfBits: bits)
        case .bfloat16:
            var bits = raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)
            if bigEndian { bits = bits.byteSwapped }
            return Float(bitPattern: UInt32(bits) << 16)
        case .int64:
            var bits = raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)
            if bigEndian { bits = bits.byteSwapped }
            return Float(Int64(bitPattern: bits))
        case .int32:
            var bits = raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)
            if bigEndian { bits = bits.byteSwapped }
            return Float(Int32(bitPattern: bits))
        case .int16:
            var bits = raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)
            if bigEndian { bits = bits.byteSwapped }
            return Float(Int16(bitPattern: bits))
        case .int8:
            return Float(Int8(bitPattern: raw[at]))
        case .uint8:
            return Float(raw[at])
        case .bool:
            return raw[at] == 0 ? 0 : 1
        }
    }
}

/// IEEE 754 binary16 conversion written out by hand: `Swift.Float16` is unavailable on
/// macOS/x86_64, and this package must build there too.
enum HalfFloat {
    static func float(fromHalfBits h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = UInt32(h & 0x03FF)
        if exponent == 0 {
            // Zero or subnormal: mantissa * 2^-24.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        if exponent == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        return Float(bitPattern: sign | (UInt32(exponent - 15 + 127) << 23) | (mantissa << 13))
    }
}

/// Converts `count` elements of a tensor view over `raw` to Float in row-major order of `shape`:
/// element (i0, i1, ...) is storage element `offset + Σ ik * stride[k]`. The caller has checked
/// that every reachable index lies inside `raw`.
func materialize(_ raw: UnsafeRawBufferPointer, type: ScalarType, bigEndian: Bool,
                 offset: Int, shape: [Int], stride: [Int], count: Int) -> [Float] {
    guard count > 0 else { return [] }
    var contiguous = true
    var expected = 1
    for axis in stride.indices.reversed() where shape[axis] != 1 {
        if stride[axis] != expected { contiguous = false; break }
        expected &*= shape[axis]
    }
    if contiguous {
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count { buffer[i] = type.load(raw, offset &+ i, bigEndian: bigEndian) }
            initialized = count
        }
    }
    // Odometer over the index space: no per-element division.
    let rank = shape.count
    var index = [Int](repeating: 0, count: rank)
    var position = offset
    return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
        for i in 0..<count {
            buffer[i] = type.load(raw, position, bigEndian: bigEndian)
            var axis = rank - 1
            while axis >= 0 {
                index[axis] &+= 1
                position &+= stride[axis]
                if index[axis] < shape[axis] { break }
                position &-= stride[axis] &* shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        initialized = count
    }
}
