import Foundation

/// Reads `torch.save` checkpoints, in the zip format (PyTorch ≥ 1.6 default) and the legacy
/// format (`_use_new_zipfile_serialization=False`, e.g. facenet-pytorch's MTCNN weights), into
/// a `PickleValue` tree with tensors materialised as float32. No Python is involved.
public enum TorchCheckpoint {
    /// Loads any Python object saved with `torch.save`, e.g. `data.pt` = `[[tensors], [names]]`.
    public static func load(contentsOf url: URL) throws -> PickleValue {
        try load(bytes: try readFile(url), name: url.lastPathComponent)
    }

    /// Loads from bytes already in memory; `name` is used in error messages.
    public static func load(data: Data, name: String) throws -> PickleValue {
        try load(bytes: [UInt8](data), name: name)
    }

    static func load(bytes: [UInt8], name: String) throws -> PickleValue {
        switch WeightsLoader.detectFormat(bytes) {
        case .torchZip: return try loadZip(bytes, name: name)
        case .torchLegacy: return try loadLegacy(bytes, name: name)
        case .safetensors:
            throw WeightsError.unsupported(file: name, offset: 0,
                                           what: "a safetensors file holds no pickle; use WeightsLoader.load or SafeTensors.read")
        case nil:
            throw WeightsError.unrecognisedFormat(file: name, firstBytes: bytes.hexPrefix)
        }
    }

    static func readFile(_ url: URL) throws -> [UInt8] { try FileBytes.read(url) }

    // MARK: zip format

    static func loadZip(_ bytes: [UInt8], name: String) throws -> PickleValue {
        let archive = try ZipArchive(bytes: bytes, file: name)
        // The record prefix is the archive name torch chose (the file stem, or "archive").
        guard let pickle = archive.entries.first(where: {
            $0.name.hasSuffix("/data.pkl") && $0.name.split(separator: "/", omittingEmptySubsequences: false).count == 2
        }) else {
            throw WeightsError.missingRecord(file: name, record: "zip entry '<archive>/data.pkl'")
        }
        let prefix = String(pickle.name.dropLast("data.pkl".count))
        var bigEndian = false
        if let order = archive.entry(named: prefix + "byteorder") {
            let text = String(decoding: bytes[try archive.dataRange(of: order)], as: UTF8.self)
            switch text.trimmingCharacters(in: .whitespacesAndNewlines) {
            case "little": bigEndian = false
            case "big": bigEndian = true
            default:
                throw WeightsError.malformed(file: name, offset: order.localHeaderOffset,
                                             reason: "byteorder record says '\(text)', expected 'little' or 'big'")
            }
        }
        let pickleRange = try archive.dataRange(of: pickle)
        let storages = StorageCollector()
        var machine = PickleMachine(
            reader: ByteReader(bytes: bytes, file: name, start: pickleRange.lowerBound, end: pickleRange.upperBound),
            persistentLoad: { pid, offset, machine in
                // ('storage', storage_type, key, location, numel)
                let fields = try storages.fields(of: pid, file: name, offset: offset, expected: 5)
                guard let type = TorchGlobals.storageType(fields[1]) else {
                    throw WeightsError.unsupported(file: name, offset: offset, what: "storage type in persistent id")
                }
                guard case let .leaf(.string(key)) = fields[2], case let .leaf(.int(count)) = fields[4], count >= 0 else {
                    throw WeightsError.malformed(file: name, offset: offset, reason: "persistent id needs a string key and a count")
                }
                return .storage(try storages.record(key: key, type: type, count: count, file: name, offset: offset))
            })
        let root = try machine.run()
        var table = StorageTable(bytes: bytes, file: name, bigEndian: bigEndian)
        for key in storages.keys {
            guard let entry = archive.entry(named: prefix + "data/" + key) else {
                throw WeightsError.missingRecord(file: name, record: "zip entry '\(prefix)data/\(key)' for storage '\(key)'")
            }
            table.ranges[key] = try archive.dataRange(of: entry)
        }
        return try machine.value(of: root, tensor: table.tensor)
    }

    // MARK: legacy format

    /// The 80-bit magic number legacy checkpoints start with, as pickle LONG1 stores it.
    static let legacyMagic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    static func loadLegacy(_ bytes: [UInt8], name: String) throws -> PickleValue {
        var reader = ByteReader(bytes: bytes, file: name)
        func plainPickle(_ what: String) throws -> PickleValue {
            var machine = PickleMachine(reader: reader)
            let node = try machine.run()
            reader = machine.reader
            return try machine.value(of: node) { _ in
                throw WeightsError.malformed(file: name, offset: reader.offset, reason: "unexpected tensor in \(what)")
            }
        }
        guard case let .bigInt(magic) = try plainPickle("magic number"), magic == legacyMagic else {
            throw WeightsError.malformed(file: name, offset: 0, reason: "legacy checkpoint magic number mismatch")
        }
        let versionOffset = reader.offset
        guard case let .int(version) = try plainPickle("protocol version"), version == 1001 else {
            throw WeightsError.unsupported(file: name, offset: versionOffset, what: "legacy protocol version (expected 1001)")
        }
        let sysInfo = try plainPickle("sys_info")
        var bigEndian = false
        if case let .bool(little)? = sysInfo["little_endian"] { bigEndian = !little }

        let storages = StorageCollector()
        var machine = PickleMachine(reader: reader, persistentLoad: { pid, offset, machine in
            // ('storage', storage_type, root_key, location, numel, view_metadata)
            let fields = try storages.fields(of: pid, file: name, offset: offset, expected: 6)
            guard let type = TorchGlobals.storageType(fields[1]) else {
                throw WeightsError.unsupported(file: name, offset: offset, what: "storage type in persistent id")
            }
            guard case let .leaf(.string(key)) = fields[2], case let .leaf(.int(count)) = fields[4], count >= 0 else {
                throw WeightsError.malformed(file: name, offset: offset, reason: "persistent id needs a string key and a count")
            }
            var ref = try storages.record(key: key, type: type, count: count, file: name, offset: offset)
            switch fields[5] {
            case .leaf(.none): break
            case let .tuple(view, _):
                // (view_key, offset, size) in elements of the storage's dtype.
                guard view.count == 3, case let .leaf(.int(viewOffset)) = view[1], case let .leaf(.int(viewSize)) = view[2],
                      viewOffset >= 0, viewSize >= 0 else {
                    throw WeightsError.malformed(file: name, offset: offset, reason: "bad storage view metadata")
                }
                ref.viewOffset = viewOffset
                ref.declaredCount = viewSize
            default:
                throw WeightsError.malformed(file: name, offset: offset, reason: "bad storage view metadata")
            }
            return .storage(ref)
        })
        let root = try machine.run()
        reader = machine.reader

        let keysOffset = reader.offset
        guard let keyValues = try plainPickle("storage key list").elements else {
            throw WeightsError.malformed(file: name, offset: keysOffset, reason: "storage key list is not a list")
        }
        var table = StorageTable(bytes: bytes, file: name, bigEndian: bigEndian)
        for keyValue in keyValues {
            guard let key = keyValue.stringValue, let type = storages.types[key], let declared = storages.counts[key] else {
                throw WeightsError.malformed(file: name, offset: reader.offset,
                                             reason: "storage key list names \(keyValue.kindDescription) that no tensor uses")
            }
            let countOffset = reader.offset
            let stored = try reader.i64("element count of storage '\(key)'")
            guard stored == Int64(declared) else {
                throw WeightsError.malformed(file: name, offset: countOffset,
                                             reason: "storage '\(key)' holds \(stored) elements, the pickle declared \(declared)")
            }
            guard let length = Checked.mul(declared, type.byteWidth) else {
                throw WeightsError.malformed(file: name, offset: countOffset, reason: "storage '\(key)' size overflows")
            }
            table.ranges[key] = try reader.range(length, "data of storage '\(key)'")
        }
        for key in storages.keys where table.ranges[key] == nil {
            throw WeightsError.missingRecord(file: name, record: "data of storage '\(key)' (not in the storage key list)")
        }
        return try machine.value(of: root, tensor: table.tensor)
    }
}

/// Storages named by persistent ids while the pickle runs: the dtype and element count of each
/// root key (the first declaration wins, as in `torch.load`).
final class StorageCollector {
    private(set) var keys: [String] = []
    private(set) var types: [String: ScalarType] = [:]
    private(set) var counts: [String: Int] = [:]

    func fields(of pid: PickleNode, file: String, offset: Int, expected: Int) throws -> [PickleNode] {
        guard case let .tuple(fields, _) = pid, fields.count == expected,
              case .leaf(.string("storage")) = fields[0] else {
            throw WeightsError.malformed(file: file, offset: offset,
                                         reason: "persistent id is not a \(expected)-tuple starting with 'storage'")
        }
        return fields
    }

    func record(key: String, type: ScalarType, count: Int, file: String, offset: Int) throws -> StorageRef {
        if let known = counts[key] {
            guard known == count, types[key]?.byteWidth == type.byteWidth else {
                throw WeightsError.malformed(file: file, offset: offset,
                                             reason: "storage '\(key)' declared twice with different sizes")
            }
        } else {
            keys.append(key)
            types[key] = type
            counts[key] = count
        }
        return StorageRef(key: key, type: type, viewOffset: 0, declaredCount: count)
    }
}

/// Storage bytes by key, and the conversion of lazy tensors over them.
struct StorageTable {
    /// Largest tensor materialised (elements): far above any face model, well below what would
    /// exhaust memory when a stride-0 (expanded) tensor declares a huge shape.
    static let maxElements = 1 << 28

    let bytes: [UInt8]
    let file: String
    let bigEndian: Bool
    var ranges: [String: Range<Int>] = [:]

    init(bytes: [UInt8], file: String, bigEndian: Bool) {
        self.bytes = bytes
        self.file = file
        self.bigEndian = bigEndian
    }

    func tensor(_ lazy: LazyTensor) throws -> Tensor {
        let ref = lazy.storage
        func bad(_ reason: String) -> WeightsError { .badTensor(file: file, storage: ref.key, reason: reason) }
        guard let range = ranges[ref.key] else {
            throw WeightsError.missingRecord(file: file, record: "data of storage '\(ref.key)'")
        }
        let width = ref.type.byteWidth
        guard let viewEnd = Checked.add(ref.viewOffset, ref.declaredCount), viewEnd <= range.count / width else {
            throw bad("storage holds \(range.count) bytes, fewer than its \(ref.declaredCount) declared \(ref.type) elements")
        }
        guard let count = Tensor.elementCount(of: lazy.shape) else { throw bad("shape \(lazy.shape) overflows") }
        guard count <= Self.maxElements else { throw bad("shape \(lazy.shape) has more than \(Self.maxElements) elements") }
        if count == 0 { return Tensor(shape: lazy.shape, scalars: []) }
        var last = lazy.offset
        for (size, stride) in zip(lazy.shape, lazy.stride) {
            guard let step = Checked.mul(size - 1, stride), let sum = Checked.add(last, step) else {
                throw bad("strides \(lazy.stride) overflow")
            }
            last = sum
        }
        guard last < ref.declaredCount else {
            throw bad("view (offset \(lazy.offset), shape \(lazy.shape), stride \(lazy.stride)) reaches element \(last) of a \(ref.declaredCount)-element storage")
        }
        let base = range.lowerBound + ref.viewOffset * width
        let scalars = bytes.withUnsafeBytes { all in
            materialize(UnsafeRawBufferPointer(rebasing: all[base..<(base + ref.declaredCount * width)]),
                        type: ref.type, bigEndian: bigEndian, offset: lazy.offset,
                        shape: lazy.shape, stride: lazy.stride, count: count)
        }
        return Tensor(shape: lazy.shape, scalars: scalars)
    }
}
