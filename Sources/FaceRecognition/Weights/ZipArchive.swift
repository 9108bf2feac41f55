/// A read-only view of a zip archive's stored (uncompressed) entries: what `torch.save` writes.
/// Reads the central directory (with zip64 extensions), locates each entry's data through its
/// local header, and checks CRC-32 on access so a damaged storage is reported, not loaded.
struct ZipArchive {
    struct Entry {
        var name: String
        var method: Int
        var crc32: UInt32
        var compressedSize: Int
        var uncompressedSize: Int
        var localHeaderOffset: Int
    }

    let bytes: [UInt8]
    let file: String
    /// Entries in central-directory order.
    private(set) var entries: [Entry] = []
    private var byName: [String: Int] = [:]

    static let localSignature: UInt32 = 0x0403_4B50

    init(bytes: [UInt8], file: String) throws {
        self.bytes = bytes
        self.file = file
        let (count, directoryOffset, directorySize) = try Self.locateDirectory(bytes, file: file)
        var reader = ByteReader(bytes: bytes, file: file, start: directoryOffset)
        guard directoryOffset <= bytes.count, directorySize <= bytes.count - directoryOffset else {
            throw WeightsError.malformed(file: file, offset: directoryOffset,
                                         reason: "zip central directory (\(directorySize) bytes) extends past the end of the file")
        }
        guard count <= directorySize / 46 + 1 else {
            throw WeightsError.malformed(file: file, offset: directoryOffset,
                                         reason: "zip declares \(count) entries in a \(directorySize)-byte directory")
        }
        for _ in 0..<count {
            let at = reader.offset
            guard try reader.u32("zip central directory signature") == 0x0201_4B50 else {
                throw WeightsError.malformed(file: file, offset: at, reason: "bad zip central directory entry signature")
            }
            try reader.skip(4, "zip entry versions")
            let flags = try reader.u16("zip entry flags")
            let method = try reader.u16("zip entry method")
            try reader.skip(4, "zip entry time")
            let crc = UInt32(try reader.u32("zip entry CRC"))
            var compressed = try reader.u32("zip entry compressed size")
            var uncompressed = try reader.u32("zip entry size")
            let nameLength = try reader.u16("zip entry name length")
            let extraLength = try reader.u16("zip entry extra length")
            let commentLength = try reader.u16("zip entry comment length")
            try reader.skip(8, "zip entry attributes")
            var localOffset = try reader.u32("zip entry offset")
            let nameBytes = try reader.take(nameLength, "zip entry name")
            let extra = try reader.range(extraLength, "zip entry extra field")
            try reader.skip(commentLength, "zip entry comment")
            guard flags & 0x1 == 0 else {
                throw WeightsError.unsupported(file: file, offset: at, what: "encrypted zip entry")
            }
            // Zip64: 0xFFFFFFFF fields are stored in extra field 0x0001, in this order.
            var extraReader = ByteReader(bytes: bytes, file: file, start: extra.lowerBound, end: extra.upperBound)
            while extraReader.remaining >= 4 {
                let id = try extraReader.u16("zip extra id")
                let size = try extraReader.u16("zip extra size")
                let body = try extraReader.range(size, "zip extra data")
                guard id == 0x0001 else { continue }
                var z = ByteReader(bytes: bytes, file: file, start: body.lowerBound, end: body.upperBound)
                func wide(_ what: String) throws -> Int {
                    guard let value = Checked.int(try z.u64(what)) else {
                        throw WeightsError.malformed(file: file, offset: z.offset, reason: "\(what) out of range")
                    }
                    return value
                }
                if uncompressed == 0xFFFF_FFFF { uncompressed = try wide("zip64 size") }
                if compressed == 0xFFFF_FFFF { compressed = try wide("zip64 compressed size") }
                if localOffset == 0xFFFF_FFFF { localOffset = try wide("zip64 offset") }
            }
            let name = String(decoding: nameBytes, as: UTF8.self)
            byName[name] = entries.count
            entries.append(Entry(name: name, method: method, crc32: crc, compressedSize: compressed,
                                 uncompressedSize: uncompressed, localHeaderOffset: localOffset))
        }
    }

    /// Finds the end-of-central-directory record (zip64 if present): entry count, offset, size.
    private static func locateDirectory(_ bytes: [UInt8], file: String) throws -> (Int, Int, Int) {
        guard bytes.count >= 22 else {
            throw WeightsError.truncated(file: file, offset: bytes.count, needed: 22 - bytes.count,
                                         what: "zip end-of-central-directory record")
        }
        var position = bytes.count - 22
        let lowest = max(0, bytes.count - 22 - 0xFFFF)
        while position >= lowest {
            if bytes[position] == 0x50, bytes[position + 1] == 0x4B, bytes[position + 2] == 0x05,
               bytes[position + 3] == 0x06 { break }
            position -= 1
        }
        guard position >= lowest else {
            throw WeightsError.missingRecord(file: file, record: "zip end-of-central-directory record (file truncated?)")
        }
        var reader = ByteReader(bytes: bytes, file: file, start: position + 10)
        var count = try reader.u16("zip entry count")
        var size = try reader.u32("zip directory size")
        var offset = try reader.u32("zip directory offset")
        if count == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF, position >= 20 {
            var locator = ByteReader(bytes: bytes, file: file, start: position - 20)
            if try locator.u32("zip64 locator signature") == 0x0706_4B50 {
                try locator.skip(4, "zip64 locator disk")
                guard let recordOffset = Checked.int(try locator.u64("zip64 record offset")) else {
                    throw WeightsError.malformed(file: file, offset: position - 12, reason: "zip64 record offset out of range")
                }
                var record = ByteReader(bytes: bytes, file: file, start: recordOffset)
                guard recordOffset < bytes.count, try record.u32("zip64 record signature") == 0x0606_4B50 else {
                    throw WeightsError.malformed(file: file, offset: recordOffset, reason: "bad zip64 end-of-directory signature")
                }
                try record.skip(28, "zip64 record header")
                guard let c = Checked.int(try record.u64("zip64 entry count")),
                      let s = Checked.int(try record.u64("zip64 directory size")),
                      let o = Checked.int(try record.u64("zip64 directory offset")) else {
                    throw WeightsError.malformed(file: file, offset: recordOffset, reason: "zip64 sizes out of range")
                }
                (count, size, offset) = (c, s, o)
            }
        }
        return (count, offset, size)
    }

    func entry(named name: String) -> Entry? { byName[name].map { entries[$0] } }

    /// The byte range of a stored entry's data, after checking its local header, bounds and CRC.
    func dataRange(of entry: Entry) throws -> Range<Int> {
        guard entry.method == 0 else {
            throw WeightsError.unsupported(
                file: file, offset: entry.localHeaderOffset,
                what: "zip entry '\(entry.name)' is compressed (method \(entry.method)); PyTorch checkpoints store entries uncompressed")
        }
        guard entry.compressedSize == entry.uncompressedSize else {
            throw WeightsError.malformed(file: file, offset: entry.localHeaderOffset,
                                         reason: "stored zip entry '\(entry.name)' has differing sizes")
        }
        var reader = ByteReader(bytes: bytes, file: file, start: entry.localHeaderOffset)
        guard entry.localHeaderOffset < bytes.count,
              UInt32(try reader.u32("zip local header signature")) == Self.localSignature else {
            throw WeightsError.malformed(file: file, offset: entry.localHeaderOffset,
                                         reason: "bad local header signature for zip entry '\(entry.name)'")
        }
        try reader.skip(22, "zip local header")
        let nameLength = try reader.u16("zip local name length")
        let extraLength = try reader.u16("zip local extra length")
        try reader.skip(nameLength, "zip local name")
        try reader.skip(extraLength, "zip local extra field")
        let range = try reader.range(entry.uncompressedSize, "data of zip entry '\(entry.name)'")
        let actual = CRC32.checksum(bytes[range])
        guard actual == entry.crc32 else {
            throw WeightsError.malformed(
                file: file, offset: range.lowerBound,
                reason: "CRC-32 mismatch in zip entry '\(entry.name)' (stored \(hex(entry.crc32)), computed \(hex(actual))): the file is damaged")
        }
        return range
    }

    private func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }
}

/// CRC-32 (IEEE 802.3, as zip uses), slicing-by-8 so checking a 100 MB checkpoint stays cheap.
enum CRC32 {
    static let tables: [[UInt32]] = {
        var tables = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            tables[0][i] = c
        }
        for i in 0..<256 {
            for t in 1..<8 { tables[t][i] = (tables[t - 1][i] >> 8) ^ tables[0][Int(tables[t - 1][i] & 0xFF)] }
        }
        return tables
    }()

    static func checksum(_ data: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        let tables = self.tables
        data.withUnsafeBufferPointer { buffer in
            tables[0].withUnsafeBufferPointer { t0 in
            tables[1].withUnsafeBufferPointer { t1 in
            tables[2].withUnsafeBufferPointer { t2 in
            tables[3].withUnsafeBufferPointer { t3 in
            tables[4].withUnsafeBufferPointer { t4 in
            tables[5].withUnsafeBufferPointer { t5 in
            tables[6].withUnsafeBufferPointer { t6 in
            tables[7].withUnsafeBufferPointer { t7 in
                var i = 0
                let n = buffer.count
                while i + 8 <= n {
                    let one = crc ^ (UInt32(buffer[i]) | UInt32(buffer[i + 1]) << 8
                                     | UInt32(buffer[i + 2]) << 16 | UInt32(buffer[i + 3]) << 24)
                    crc = t7[Int(one & 0xFF)] ^ t6[Int((one >> 8) & 0xFF)]
                        ^ t5[Int((one >> 16) & 0xFF)] ^ t4[Int(one >> 24)]
                        ^ t3[Int(buffer[i + 4])] ^ t2[Int(buffer[i + 5])]
                        ^ t1[Int(buffer[i + 6])] ^ t0[Int(buffer[i + 7])]
                    i += 8
                }
                while i < n {
                    crc = t0[Int((crc ^ UInt32(buffer[i])) & 0xFF)] ^ (crc >> 8)
                    i += 1
                }
            }}}}}}}}
        }
        return crc ^ 0xFFFF_FFFF
    }
}
