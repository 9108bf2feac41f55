import Foundation
import Testing
import FaceRecognition

/// Reading PyTorch checkpoints (zip and legacy) against torch's own values.
@Suite("Weights: PyTorch checkpoints", .ownThreads)
struct WeightsTorchTests {
    let expected: WeightsFixtures.Expected

    init() throws { expected = try WeightsFixtures.loadExpected() }

    @Test("data.pt (course gallery) loads as [90 tensors [1,512], 90 names] with torch's values")
    func dataPT() throws {
        let url = TestPaths.data("data.pt")
        let value = try TorchCheckpoint.load(contentsOf: url)
        let top = try #require(value.elements)
        #expect(top.count == 2)
        let embeddings = try #require(top.first?.elements)
        let names = try #require(top.last?.elements).compactMap(\.stringValue)
        let golden = expected.data_pt
        #expect(embeddings.count == golden.count)
        #expect(names == golden.names)
        for (index, item) in embeddings.enumerated() {
            let tensor = try #require(item.tensorValue, "element \(index) is \(item.kindDescription)")
            #expect(tensor.shape == golden.shape)
            let sum = tensor.scalars.reduce(0.0) { $0 + Double($1) }
            #expect(abs(sum - golden.sums[index]) < 1e-5, "sum of embedding \(index)")
            let norm = tensor.scalars.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(abs(norm - golden.norms[index]) < 1e-6)
            #expect(abs(norm - 1) < 1e-4, "embedding \(index) is not unit length")
        }
        for (key, values) in golden.first4 {
            let index = try #require(Int(key))
            let tensor = try #require(embeddings[index].tensorValue)
            #expect(Array(tensor.scalars.prefix(4)) == values.map(Float.init), "first elements of embedding \(key)")
        }
        for (key, value) in golden.last {
            let index = try #require(Int(key))
            let tensor = try #require(embeddings[index].tensorValue)
            #expect(tensor.scalars.last == Float(value))
        }
    }

    @Test("data.pt is not a state dict: WeightsLoader says so and names the file")
    func dataPTIsNotAStateDict() throws {
        let url = TestPaths.data("data.pt")
        let error = try #require(throws: WeightsError.self) { try WeightsLoader.load(contentsOf: url) }
        #expect(String(describing: error).contains("data.pt"))
        #expect(String(describing: error).contains("a list of 2"))
    }

    @Test("mixed state dict matches torch exactly", arguments: ["mixed_zip.pt", "mixed_legacy.pt"])
    func mixedStateDict(file: String) throws {
        let dict = try WeightsLoader.load(contentsOf: WeightsFixtures.url(file))
        let expectedKeys = Set(expected.mixed.keys.filter { !$0.hasSuffix("num_batches_tracked") })
        #expect(Set(dict.tensors.keys) == expectedKeys)
        #expect(dict.metadata.isEmpty)
        for key in expectedKeys.sorted() {
            let spec = try #require(expected.mixed[key])
            let tensor = try #require(dict[key])
            #expect(tensor.shape == spec.shape, "\(file) \(key)")
            #expect(tensor.scalars == spec.values.map(Float.init), "\(file) \(key) (\(spec.dtype ?? ""))")
        }
        // The non-contiguous views really are materialised in row-major order.
        #expect(dict["transposed"]?.scalars.prefix(4) == [-3.0, 0.0, 3.0, 6.0])
        #expect(dict["expanded"]?.scalars == [1, 2, 3, 1, 2, 3])
    }

    @Test("the pickle tree: nested containers, ints beyond 64 bits, bytes, unicode", arguments: ["nested_zip.pt", "nested_legacy.pt"])
    func nestedCheckpoint(file: String) throws {
        let value = try TorchCheckpoint.load(contentsOf: WeightsFixtures.url(file))
        #expect(value["epoch"] == .int(3))
        let meta = try #require(value["meta"])
        #expect(meta["list"] == .list([.int(1), .float(2.5), .string("x"), .tuple([.bool(true), .none])]))
        #expect(meta["bytes"] == .bytes([0x00, 0x01, 0xFF]))
        // 2**70 as little-endian two's complement: bit 70 = byte 8, bit 6.
        #expect(meta["big"] == .bigInt([0, 0, 0, 0, 0, 0, 0, 0, 0x40]))
        #expect(meta["neg"] == .int(-5))
        #expect(meta["unicode"] == .string("Gesicht éß"))
        // WeightsLoader takes the "state_dict" entry of a training checkpoint.
        let dict = try WeightsLoader.load(contentsOf: WeightsFixtures.url(file))
        #expect(Set(dict.tensors.keys) == ["conv.weight", "conv.bias", "f64"])
        #expect(dict["conv.bias"]?.scalars == [0.5, -1.25])
    }

    @Test("OrderedDict rebuilt from a list of (key, value) tuples or [key, value] lists")
    func orderedDictFromPairs() throws {
        var main: [UInt8] = [0x80, 0x02] + Array("ccollections\nOrderedDict\n".utf8) + [0x5D, 0x28]
        main += [0x58, 1, 0, 0, 0, UInt8(ascii: "a"), 0x4B, 1, 0x86]                    // ("a", 1)
        main += [0x5D, 0x28, 0x58, 1, 0, 0, 0, UInt8(ascii: "b"), 0x4B, 2, 0x65]        // ["b", 2]
        main += [0x65, 0x85, 0x52, 0x2E]
        let value = try TorchCheckpoint.load(data: WeightsFixtures.legacyFile(main: main), name: "pairs.pt")
        #expect(value == .dict([(.string("a"), .int(1)), (.string("b"), .int(2))]))
    }

    @Test("a legacy file holding a list of a tensor and strings")
    func legacyList() throws {
        let value = try TorchCheckpoint.load(contentsOf: WeightsFixtures.url("list_legacy.pt"))
        #expect(value == .list([.tensor(Tensor(shape: [2], scalars: [1, 2])), .list([.string("a"), .string("b")])]))
    }

    @Test("zip records under any archive prefix")
    func archivePrefix() throws {
        let dict = try WeightsLoader.load(contentsOf: WeightsFixtures.url("renamed_prefix.pt"))
        #expect(dict.tensors == ["w": Tensor(shape: [2], scalars: [9, -9])])
    }

    @Test("zip variants torch reads: big-endian byteorder record (byte-swapped), zip64 records",
          arguments: ["bigendian_zip.pt", "zip64.pt"])
    func zipVariants(file: String) throws {
        let dict = try WeightsLoader.load(contentsOf: WeightsFixtures.url(file))
        #expect(Set(dict.tensors.keys) == Set(expected.bigendian.keys))
        for (key, spec) in expected.bigendian {
            #expect(dict[key]?.shape == spec.shape, "\(key)")
            #expect(dict[key]?.scalars == spec.values.map(Float.init), "\(key)")
        }
    }

    @Test("deflated zip entries are rejected with a message naming the entry")
    func deflated() throws {
        let error = try #require(throws: WeightsError.self) {
            try WeightsLoader.load(contentsOf: WeightsFixtures.url("deflated_zip.pt"))
        }
        let message = String(describing: error)
        #expect(message.contains("deflated_zip.pt"))
        #expect(message.contains("/data/0' is compressed (method 8)"), "\(message)")
    }

    @Test("format detection from bytes")
    func detection() throws {
        #expect(WeightsLoader.detectFormat(try WeightsFixtures.bytes("mixed_zip.pt")) == .torchZip)
        #expect(WeightsLoader.detectFormat(try WeightsFixtures.bytes("mixed_legacy.pt")) == .torchLegacy)
        #expect(WeightsLoader.detectFormat(try WeightsFixtures.bytes("python.safetensors")) == .safetensors)
        #expect(WeightsLoader.detectFormat(Data("hello world".utf8)) == nil)
    }

    @Test("facenet-pytorch MTCNN weights (legacy format) load with torch's keys, shapes and values",
          arguments: ["pnet", "rnet", "onet"])
    func mtcnnWeights(net: String) throws {
        let url = try #require(WeightsFixtures.mtcnnWeights(net),
                               "\(net).pt not found: run weights/fetch_mtcnn_weights.sh (or install facenet-pytorch)")
        #expect(WeightsLoader.detectFormat(try Data(contentsOf: url)) == .torchLegacy)
        let dict = try WeightsLoader.load(contentsOf: url)
        let golden = try #require(expected.mtcnn[net])
        #expect(Set(dict.tensors.keys) == Set(golden.tensors.keys))
        for (key, spec) in golden.tensors {
            let tensor = try dict.require(key, shape: spec.shape)
            let sum = tensor.scalars.reduce(0.0) { $0 + Double($1) }
            #expect(abs(sum - spec.sum) <= 1e-6 * max(1, abs(spec.sum)), "\(net) \(key) sum")
            #expect(Array(tensor.scalars.prefix(3)) == spec.first.map(Float.init), "\(net) \(key) first values")
        }
        if net == "pnet" {
            #expect(dict["conv1.weight"]?.shape == [10, 3, 3, 3])
            #expect(dict["prelu1.weight"]?.shape == [10])
        }
    }
}
