/// Reads the Orientation tag from a TIFF-structured EXIF payload (what follows "Exif\0\0" in a
/// JPEG APP1 segment, or a PNG eXIf chunk). Malformed EXIF is common in the wild and never worth
/// failing a decode over, so every problem yields `nil` rather than an error; every offset read
/// is bounds-checked against the payload.
public enum EXIFParser {
    /// The Orientation (tag 0x0112 in IFD0) if present and in 1...8.
    public static func orientation(in exif: UnsafeRawBufferPointer) -> EXIFOrientation? {
        guard let raw = orientationValue(in: exif) else { return nil }
        return EXIFOrientation(rawValue: Int(raw))
    }

    /// Convenience for byte arrays.
    public static func orientation(in exif: [UInt8]) -> EXIFOrientation? {
        exif.withUnsafeBytes { orientation(in: $0) }
    }

    /// The raw Orientation value (any number), or nil if the structure is broken or the tag absent.
    static func orientationValue(in exif: UnsafeRawBufferPointer) -> UInt16? {
        let reader = TIFFReader(bytes: exif)
        guard let littleEndian = reader.byteOrder() else { return nil }
        guard reader.u16(at: 2, littleEndian) == 42 else { return nil }
        guard let ifd = reader.u32(at: 4, littleEndian).map(Int.init),
              let count = reader.u16(at: ifd, littleEndian).map(Int.init)
        else { return nil }
        for index in 0..<count {
            let entry = ifd + 2 + index * 12
            guard let tag = reader.u16(at: entry, littleEndian) else { return nil }
            guard tag == 0x0112 else { continue }
            // Type SHORT (3), count ≥ 1: the value sits in the first two bytes of the value field.
            guard reader.u16(at: entry + 2, littleEndian) == 3,
                  let n = reader.u32(at: entry + 4, littleEndian), n >= 1
            else { return nil }
            return reader.u16(at: entry + 8, littleEndian)
        }
        return nil
    }
}

/// Bounds-checked reads of TIFF integers at absolute offsets.
private struct TIFFReader {
    let bytes: UnsafeRawBufferPointer

    /// true for "II" (little-endian), false for "MM", nil otherwise.
    func byteOrder() -> Bool? {
        guard bytes.count >= 8 else { return nil }
        switch (bytes[0], bytes[1]) {
        case (0x49, 0x49): return true
        case (0x4D, 0x4D): return false
        default: return nil
        }
    }

    func u16(at offset: Int, _ littleEndian: Bool) -> UInt16? {
        guard offset >= 0, offset <= bytes.count - 2 else { return nil }
        let a = UInt16(bytes[offset]), b = UInt16(bytes[offset + 1])
        return littleEndian ? a | b << 8 : a << 8 | b
    }

    func u32(at offset: Int, _ littleEndian: Bool) -> UInt32? {
        guard offset >= 0, offset <= bytes.count - 4 else { return nil }
        var value: UInt32 = 0
        for i in 0..<4 {
            let byte = UInt32(bytes[offset + (littleEndian ? 3 - i : i)])
            value = value << 8 | byte
        }
        return value
    }
}
