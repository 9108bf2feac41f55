import Foundation
import Testing
import FaceRecognition

/// safetensors: files written by the Python `safetensors` package, and our own writer.
@Suite("Weights: safetensors")
struct WeightsSafeTensorsTests {
    @Test("a file written by Python safetensors (F32/F16/BF16/F64, metadata) reads back identically")
    func pythonWritten() throws {
        let golden = try #require(try WeightsFixtures.loadExpected().safetensors_python,
                                  "expected.json lacks safetensors_python: pip install safetensors and rerun make_weight_fixtures.py")
        let dict = try SafeTensors.read(data: try WeightsFixtures.bytes("python.safetensors"), name: "python.safetensors")
        #expect(dict.metadata == golden.metadata)
        #expect(Set(dict.tensors.keys) == Set(golden.tensors.keys))
        for (key, spec) in golden.tensors {
            let tensor = try #require(dict[key])
            #expect(tensor.shape == spec.shape, "\(key)")
            #expect(tensor.scalars == spec.values.map(Float.init), "\(key)")
        }
        // WeightsLoader detects the format from the bytes.
        let viaLoader = try WeightsLoader.load(contentsOf: WeightsFixtures.url("python.safetensors"))
        #expect(viaLoader.tensors == dict.tensors)
    }

    @Test("write then read is lossless: a converted checkpoint keeps every tensor and the metadata")
    func roundTrip() throws {
        var dict = try WeightsLoader.load(contentsOf: WeightsFixtures.url("mixed_legacy.pt"))
        dict.metadata = ["source": "mixed_legacy.pt", "quote\"key": "line\nbreak"]
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("weights-roundtrip-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensors.write(dict, to: url)
        let back = try WeightsLoader.load(contentsOf: url)
        #expect(back.tensors == dict.tensors)
        #expect(back.metadata == dict.metadata)
        // Layout the reference reader relies on: 8-byte aligned data section, F32 entries.
        let data = try Data(contentsOf: url)
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(headerLength % 8 == 0)
        let header = try #require(String(data: data.subdata(in: 8..<(8 + headerLength)), encoding: .utf8))
        #expect(header.contains("\"scalar\":{\"dtype\":\"F32\",\"shape\":[]"))
        #expect(header.contains("\"empty\":{\"dtype\":\"F32\",\"shape\":[0,3]"))
    }

    @Test("encode is deterministic (sorted keys)")
    func deterministic() throws {
        let a = StateDict(tensors: ["b": Tensor(shape: [1], scalars: [1]), "a": Tensor(shape: [2], scalars: [2, 3])])
        let b = StateDict(tensors: ["a": Tensor(shape: [2], scalars: [2, 3]), "b": Tensor(shape: [1], scalars: [1])])
        #expect(SafeTensors.encode(a) == SafeTensors.encode(b))
        let back = try SafeTensors.read(data: SafeTensors.encode(a), name: "mem")
        #expect(back.tensors == a.tensors)
    }
}
