import Foundation
import Testing
import FaceRecognition

/// safetensors: files written by the Python `safetensors` package, and our own writer.
@Suite("Weights: safetensors", .ownThreads)
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

/// `WeightsConversion` (behind `facerec convert`).
@Suite("Weights: conversion to safetensors", .ownThreads)
struct WeightsConversionTests {
    private func temporaryURL(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("weights-\(UUID().uuidString)-\(name)")
    }

    @Test("a legacy checkpoint converts losslessly, with format/source metadata", arguments: ["mixed_legacy.pt", "mixed_zip.pt"])
    func lossless(file: String) throws {
        let input = WeightsFixtures.url(file)
        let output = temporaryURL("out.safetensors")
        defer { try? FileManager.default.removeItem(at: output) }
        let result = try WeightsConversion.convert(input, to: output)
        let original = try WeightsLoader.load(contentsOf: input)
        let converted = try SafeTensors.read(contentsOf: output)
        #expect(converted.tensors == original.tensors)
        #expect(converted.metadata == ["format": "pt", "source": file])
        #expect(result.sourceFormat == WeightsLoader.detectFormat(try Data(contentsOf: input)))
        #expect(result.tensors.map(\.key) == original.sortedKeys)
        #expect(result.parameterCount == original.tensors.values.reduce(0) { $0 + $1.count })
        #expect(result.bytesWritten == (try Data(contentsOf: output)).count)
    }

    @Test("an existing output is kept unless overwrite is set; the input is never the output")
    func neverLosesData() throws {
        let input = WeightsFixtures.url("renamed_prefix.pt")
        let output = temporaryURL("existing.safetensors")
        defer { try? FileManager.default.removeItem(at: output) }
        try Data("precious".utf8).write(to: output)
        let error = try #require(throws: WeightsError.self) { try WeightsConversion.convert(input, to: output) }
        #expect(String(describing: error).contains("refusing to replace"))
        #expect(try Data(contentsOf: output) == Data("precious".utf8))
        _ = try WeightsConversion.convert(input, to: output, overwrite: true)
        #expect(try SafeTensors.read(contentsOf: output)["w"] == Tensor(shape: [2], scalars: [9, -9]))
        let same = try #require(throws: WeightsError.self) {
            try WeightsConversion.convert(output, to: output, overwrite: true)
        }
        #expect(String(describing: same).contains("output is the input file"))
    }

    @Test("a file that is not a checkpoint fails without creating the output")
    func badInput() throws {
        let input = temporaryURL("notes.txt")
        let output = temporaryURL("never.safetensors")
        defer { try? FileManager.default.removeItem(at: input) }
        try Data("just some text, not weights".utf8).write(to: input)
        #expect(throws: WeightsError.self) { try WeightsConversion.convert(input, to: output) }
        #expect(!FileManager.default.fileExists(atPath: output.path))
        #expect(throws: WeightsError.self) { try WeightsConversion.convert(self.temporaryURL("missing.pt"), to: output) }
    }
}
