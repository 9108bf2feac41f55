/// A bounds-checked cursor over a byte array. Every read validates the remaining length first and
/// throws `WeightsError.truncated` naming the file, offset and field, so no input can make the
/// readers index out of range.
struct ByteReader {
    let bytes: [UInt8]
    let file: String
    /// Absolute offset of the next byte.
    private(set) var offset: Int
    /// Absolute end (exclusive) of the readable range.
    let end: Int

    init(bytes: [UInt8], file: String, start: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.file = file
        let limit = min(end ?? bytes.count, bytes.count)
        self.offset = max(0, min(start, limit))
        self.end = limit
    }

    var remaining: Int { end - offset }
    var isAtEnd: Bool { offset >= end }

    /// Throws unless `count` more bytes are available.
    func need(_ count: Int, _ what: @autoclosure () -> String) throws {
        guard count >= 0 else {
            throw WeightsError.malformed(file: file, offset: offset, reason: "negative length \(count) for \(what())")
        }
        guard count <= remaining else {
            throw WeightsError.truncated(file: file, offset: offset, needed: count - remaining, what: what())
        }
    }

    mutating func skip(_ count: Int, _ what: @autoclosure () -> String) throws {
        try need(count, what())
        offset += count
    }

    mutating func u8(_ what: @autoclosure () -> String) throws -> UInt8 {
        try need(1, what())
        defer { offset += 1 }
        return bytes[offset]
    }

    /// The next `count` bytes as a range of `bytes` (no copy).
    mutating func range(_ count: Int, _ what: @autoclosure () -> String) throws -> Range<Int> {
        try need(count, what())
        defer { offset += count }
        return offset..<(offset + count)
    }

    mutating func take(_ count: Int, _ what: @autoclosure () -> String) throws -> ArraySlice<UInt8> {
        bytes[try range(count, what())]
    }

    /// Little-endian unsigned integer of `width` bytes (1...8).
    mutating func uintLE(_ width: Int, _ what: @autoclosure () -> String) throws -> UInt64 {
        let r = try range(width, what())
        var value: UInt64 = 0
        for (shift, index) in r.enumerated() { value |= UInt64(bytes[index]) << UInt64(8 * shift) }
        return value
    }

    mutating func u16(_ what: @autoclosure () -> String) throws -> Int { Int(try uintLE(2, what())) }
    mutating func u32(_ what: @autoclosure () -> String) throws -> Int { Int(try uintLE(4, what())) }
    mutating func u64(_ what: @autoclosure () -> String) throws -> UInt64 { try uintLE(8, what()) }
    mutating func i32(_ what: @autoclosure () -> String) throws -> Int {
        Int(Int32(bitPattern: UInt32(truncatingIfNeeded: try uintLE(4, what()))))
    }
    mutating func i64(_ what: @autoclosure () -> String) throws -> Int64 {
        Int64(bitPattern: try uintLE(8, what()))
    }

    /// Big-endian IEEE double (pickle's BINFLOAT).
    mutating func f64BE(_ what: @autoclosure () -> String) throws -> Double {
        let r = try range(8, what())
        var bits: UInt64 = 0
        for index in r { bits = (bits << 8) | UInt64(bytes[index]) }
        return Double(bitPattern: bits)
    }

    /// Bytes up to (not including) the next `\n`, which is consumed. Used by text opcodes.
    mutating func line(_ what: @autoclosure () -> String) throws -> ArraySlice<UInt8> {
        guard let newline = bytes[offset..<end].firstIndex(of: 0x0A) else {
            throw WeightsError.truncated(file: file, offset: offset, needed: 1, what: "newline ending \(what())")
        }
        defer { offset = newline + 1 }
        return bytes[offset..<newline]
    }
}

/// Checked arithmetic helpers: file-derived sizes never trap on overflow.
enum Checked {
    static func add(_ a: Int, _ b: Int) -> Int? {
        let (r, o) = a.addingReportingOverflow(b); return o ? nil : r
    }
    static func mul(_ a: Int, _ b: Int) -> Int? {
        let (r, o) = a.multipliedReportingOverflow(by: b); return o ? nil : r
    }
    /// A UInt64 from a file as Int, if it fits.
    static func int(_ value: UInt64) -> Int? { value <= UInt64(Int.max) ? Int(value) : nil }
}

extension Sequence where Element == UInt8 {
    /// Up to 16 bytes as hex, for error messages.
    var hexPrefix: String {
        prefix(16).map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined(separator: " ")
    }
}
