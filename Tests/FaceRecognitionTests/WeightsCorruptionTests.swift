import Foundation
import Testing
import FaceRecognition

/// Damaged and hostile inputs: every one must throw a descriptive WeightsError, never trap.
@Suite("Weights: corrupt input", .ownThreads)
struct WeightsCorruptionTests {
    /// Loads through the public entry point and returns the error (nil if it loaded).
    private func loadError(_ data: Data, name: String = "bad.pt") -> (any Error)? {
        do {
            _ = try WeightsLoader.load(data: data, name: name)
            return nil
        } catch {
            return error
        }
    }

    private func description(_ data: Data, name: String = "bad.pt") -> String {
        loadError(data, name: name).map { String(describing: $0) } ?? "loaded without error"
    }

    @Test("empty and tiny files")
    func empty() {
        #expect(throws: WeightsError.self) { try WeightsLoader.load(data: Data(), name: "empty.pt") }
        #expect(description(Data(), name: "empty.pt").contains("empty.pt"))
        #expect(description(Data([0x50, 0x4B, 0x03, 0x04])).contains("bad.pt"))
        #expect(throws: WeightsError.self) { try TorchCheckpoint.load(data: Data([0x80, 0x02]), name: "x") }
        #expect(description(Data("not weights at all".utf8)).contains("first bytes"))
    }

    @Test("every truncation of each fixture throws a WeightsError",
          arguments: ["mixed_legacy.pt", "mixed_zip.pt", "python.safetensors", "nested_legacy.pt", "zip64.pt"])
    func truncations(file: String) throws {
        let full = try WeightsFixtures.bytes(file)
        _ = try WeightsLoader.load(data: full, name: file)  // the intact file loads
        var failures: [Int] = []
        for length in 0..<full.count {
            let error = loadError(full.prefix(length), name: file)
            if !(error is WeightsError) { failures.append(length) }
        }
        #expect(failures.isEmpty, "prefixes of \(file) that did not throw a WeightsError: \(failures.prefix(20))")
    }

    @Test("a legacy file cut inside a storage names that storage")
    func truncatedStorageMessage() throws {
        let full = try WeightsFixtures.bytes("mixed_legacy.pt")
        let message = description(full.prefix(full.count - 3), name: "mixed_legacy.pt")
        #expect(message.contains("mixed_legacy.pt: truncated at byte"))
        #expect(message.contains("of storage '"))
    }

    @Test("flipped bytes in a zip checkpoint: an error, or (in fields the format ignores) identical tensors")
    func zipFlips() throws {
        let full = try WeightsFixtures.bytes("mixed_zip.pt")
        let reference = try WeightsLoader.load(data: full, name: "mixed_zip.pt").tensors
        var wrong: [Int] = []
        for position in 0..<full.count {
            var damaged = full
            damaged[position] ^= 0xFF
            do {
                let tensors = try WeightsLoader.load(data: damaged, name: "mixed_zip.pt").tensors
                // CRC-32 guards data.pkl and every storage, so a successful load must be exact.
                if tensors != reference { wrong.append(position) }
            } catch is WeightsError {
            } catch {
                wrong.append(position)
            }
        }
        #expect(wrong.isEmpty, "flips that loaded different data or threw a non-WeightsError: \(wrong.prefix(20))")
    }

    @Test("flipped bytes in legacy and safetensors files never trap", arguments: ["mixed_legacy.pt", "python.safetensors"])
    func otherFlips(file: String) throws {
        let full = try WeightsFixtures.bytes(file)
        var foreign: [Int] = []
        for position in 0..<full.count {
            for mask: UInt8 in [0xFF, 0x01] {
                var damaged = full
                damaged[position] ^= mask
                if let error = loadError(damaged, name: file), !(error is WeightsError) { foreign.append(position) }
            }
        }
        #expect(foreign.isEmpty)
    }

    @Test("a flipped byte in a zip storage is reported as a CRC mismatch naming the entry")
    func crcMessage() throws {
        var data = try WeightsFixtures.bytes("renamed_prefix.pt")
        // The storage "archive/data/0" holds [9.0, -9.0]; find 9.0f (0x41100000 LE) and damage it.
        let nine: [UInt8] = [0x00, 0x00, 0x10, 0x41]
        let start = try #require(data.firstRange(of: Data(nine))?.lowerBound)
        data[start + 3] ^= 0x01
        let message = description(data, name: "renamed_prefix.pt")
        #expect(message.contains("CRC-32 mismatch in zip entry 'archive/data/0'"), "\(message)")
    }

    // MARK: safetensors headers

    private func safetensors(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
        let json = Array(header.utf8)
        var length = (declaredLength ?? UInt64(json.count)).littleEndian
        var out = Data(bytes: &length, count: 8)
        out.append(contentsOf: json)
        out.append(contentsOf: data)
        return out
    }

    @Test("bad safetensors headers throw errors naming the problem", arguments: [
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}"#, "lie outside"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, "lie outside"),
        (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}"#, "needs 4"),
        (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}"#, "overlap"),
        (#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, "no valid shape"),
        (#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}"#, "overflows"),
        (#"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, "no valid shape"),
        (#"{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}"#, "no valid shape"),
        (#"{"a":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}"#, "no valid shape"),
        (#"{"a":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4]}}"#, "no valid shape"),
        (#"{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#, "dtype 'C64'"),
        (#"{"a":{"shape":[1],"data_offsets":[0,4]}}"#, "no string dtype"),
        (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#, "data_offsets"),
        (#"{"__metadata__":{"k":1}}"#, "not a string"),
        (#"[1,2]"#, "not a JSON object"),
        (#"{"a":"#, "not valid JSON"),
    ])
    func badHeaders(header: String, fragment: String) {
        let message: String
        do {
            _ = try SafeTensors.read(data: safetensors(header: header, data: [UInt8](repeating: 0, count: 8)), name: "bad.safetensors")
            message = "loaded without error"
        } catch {
            #expect(error is WeightsError)
            message = String(describing: error)
        }
        #expect(message.contains(fragment), "\(message)")
        #expect(message.contains("bad.safetensors"))
    }

    @Test("huge declared safetensors header lengths")
    func hugeHeaderLength() {
        for declared: UInt64 in [UInt64.max, 1 << 40, 100_000_001, 64] {
            let data = safetensors(header: #"{"a":1}     "#, declaredLength: declared)
            #expect(throws: WeightsError.self) { try SafeTensors.read(data: data, name: "h.safetensors") }
        }
    }

    // MARK: hand-written pickles (wrapped in a legacy container)

    @Test("unknown opcode: error with its byte offset")
    func unknownOpcode() {
        // PROTO 2, then 0xFF.
        let message = description(WeightsFixtures.legacyFile(main: [0x80, 0x02, 0xFF]))
        #expect(message.contains("unsupported at byte 27"), "\(message)")
        #expect(message.contains("opcode 0xff"))
    }

    @Test("unknown global: refused by name, never called")
    func unknownGlobal() {
        let main: [UInt8] = [0x80, 0x02] + Array("cos\nsystem\n".utf8) + [0x58, 2, 0, 0, 0] + Array("ls".utf8) + [0x85, 0x52, 0x2E]
        let message = description(WeightsFixtures.legacyFile(main: main))
        #expect(message.contains("pickle global os.system"), "\(message)")
    }

    @Test("huge declared lengths inside a pickle")
    func hugeLengths() {
        let cases: [[UInt8]] = [
            [0x80, 0x02, 0x58, 0xFF, 0xFF, 0xFF, 0xFF],                          // BINUNICODE 4 GiB
            [0x80, 0x04, 0x8D] + [UInt8](repeating: 0xFF, count: 8),             // BINUNICODE8 2^64-1
            [0x80, 0x02, 0x8B, 0xFF, 0xFF, 0xFF, 0xFF],                          // LONG4 negative length
            [0x80, 0x02, 0x42, 0x00, 0x00, 0x00, 0x80],                          // BINBYTES 2 GiB
            [0x80, 0x02, 0x72, 0xFF, 0xFF, 0xFF, 0xFF],                          // LONG_BINPUT on empty stack
            [0x80, 0x02, 0x6A, 0xFF, 0xFF, 0xFF, 0x7F],                          // LONG_BINGET missing
        ]
        for main in cases {
            #expect(throws: WeightsError.self, "\(main)") { try TorchCheckpoint.load(data: WeightsFixtures.legacyFile(main: main), name: "p.pt") }
        }
    }

    @Test("stack underflow, missing MARK, odd SETITEMS, self-reference, deep nesting")
    func structuralErrors() {
        let cases: [([UInt8], String)] = [
            ([0x80, 0x02, 0x2E], "stack underflow"),                          // STOP on empty stack
            ([0x80, 0x02, 0x7D, 0x4B, 0x01, 0x75, 0x2E], "without a MARK"),   // SETITEMS without MARK
            ([0x80, 0x02, 0x7D, 0x28, 0x4B, 0x01, 0x75, 0x2E], "odd number"),
            ([0x80, 0x02, 0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2E], "contains itself"),
            ([0x80, 0x02, 0x4E] + [UInt8](repeating: 0x85, count: 10_000) + [0x2E], "nested deeper"),
            ([0x80, 0x02, 0x4B, 0x01, 0x4B, 0x01, 0x61, 0x2E], "not a list"),
        ]
        for (main, fragment) in cases {
            let message = description(WeightsFixtures.legacyFile(main: main))
            #expect(message.contains(fragment), "\(message)")
        }
    }

    @Test("tensor views reaching past their storage are rejected")
    func viewOutOfBounds() throws {
        // OrderedDict {"w": _rebuild_tensor_v2(storage(FloatStorage, "0", numel 2), offset 1, size (2,), stride (1,))}
        var main: [UInt8] = [0x80, 0x02, 0x7D, 0x58, 1, 0, 0, 0, UInt8(ascii: "w")]
        main += Array("ctorch._utils\n_rebuild_tensor_v2\n".utf8) + [0x28]
        main += [0x28, 0x58, 7, 0, 0, 0] + Array("storage".utf8) + Array("ctorch\nFloatStorage\n".utf8)
        main += [0x58, 1, 0, 0, 0, UInt8(ascii: "0"), 0x58, 3, 0, 0, 0] + Array("cpu".utf8) + [0x4B, 2, 0x4E, 0x74, 0x51]
        main += [0x4B, 1, 0x4B, 2, 0x85, 0x4B, 1, 0x85, 0x89, 0x4E, 0x74, 0x52, 0x73, 0x2E]
        let keys: [UInt8] = [0x80, 0x02, 0x5D, 0x58, 1, 0, 0, 0, UInt8(ascii: "0"), 0x61, 0x2E]
        let storage: [UInt8] = [2, 0, 0, 0, 0, 0, 0, 0] + [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40]
        let message = description(WeightsFixtures.legacyFile(main: main, keys: keys, tail: storage))
        #expect(message.contains("reaches element 2 of a 2-element storage"), "\(message)")
        // The same pickle with offset 0 is valid: [1, 2].
        main[main.count - 13] = 0
        let dict = try WeightsLoader.load(data: WeightsFixtures.legacyFile(main: main, keys: keys, tail: storage), name: "ok.pt")
        #expect(dict["w"] == Tensor(shape: [2], scalars: [1, 2]))
        // A storage element count that disagrees with the pickle.
        var wrongCount = storage
        wrongCount[0] = 3
        #expect(description(WeightsFixtures.legacyFile(main: main, keys: keys, tail: wrongCount)).contains("holds 3 elements"))
    }
}

/// File-level failures: missing files and directories are reported with the path and the reason.
@Suite("Weights: file access", .ownThreads)
struct WeightsFileTests {
    @Test("a missing file, a directory, and an empty file")
    func fileErrors() throws {
        let missing = #expect(throws: WeightsError.self) {
            try WeightsLoader.load(contentsOf: URL(fileURLWithPath: "/nonexistent/dir/model.pt"))
        }
        #expect(missing.map(String.init(describing:)) == "/nonexistent/dir/model.pt: cannot open: No such file or directory")
        let directory = #expect(throws: WeightsError.self) { try WeightsLoader.load(contentsOf: WeightsFixtures.directory) }
        #expect(directory.map(String.init(describing:))?.contains("not a regular file") == true)
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("weights-empty-\(UUID().uuidString).pt")
        try Data().write(to: empty)
        defer { try? FileManager.default.removeItem(at: empty) }
        let error = #expect(throws: WeightsError.self) { try WeightsLoader.load(contentsOf: empty) }
        #expect(error.map(String.init(describing:))?.contains("(empty)") == true)
    }
}
