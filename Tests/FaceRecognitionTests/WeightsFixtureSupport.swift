import Foundation
import FaceRecognition

/// Fixtures written by Tests/Fixtures/make_weight_fixtures.py (torch is the ground truth) and the
/// goldens it printed into expected.json.
enum WeightsFixtures {
    static let directory = TestPaths.fixtures.appendingPathComponent("weights")

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    static func bytes(_ name: String) throws -> Data { try Data(contentsOf: url(name)) }

    struct TensorSpec: Decodable {
        var shape: [Int]
        var values: [Double]
        var dtype: String?
    }

    struct DataPT: Decodable {
        var count: Int
        var names: [String]
        var shape: [Int]
        var first4: [String: [Double]]
        var last: [String: Double]
        var sums: [Double]
        var norms: [Double]
    }

    struct NetTensor: Decodable {
        var shape: [Int]
        var sum: Double
        var first: [Double]
    }

    struct Net: Decodable {
        var sha256: String
        var tensors: [String: NetTensor]
    }

    struct PythonSafeTensors: Decodable {
        var tensors: [String: TensorSpec]
        var metadata: [String: String]
    }

    struct Expected: Decodable {
        var mixed: [String: TensorSpec]
        var bigendian: [String: TensorSpec]
        var data_pt: DataPT
        var mtcnn: [String: Net]
        var safetensors_python: PythonSafeTensors?
    }

    /// expected.json, decoded (a missing or stale file fails the test that asked for it).
    static func loadExpected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: try bytes("expected.json"))
    }

    /// facenet-pytorch's MTCNN weights, `<net>.pt`, where ``MTCNNTestSupport/weightsDirectory``
    /// finds them.
    static func mtcnnWeights(_ net: String) -> URL? {
        MTCNNTestSupport.weightsDirectory?.appendingPathComponent("\(net).pt")
    }

    /// A legacy-format file wrapping a hand-written main pickle, for malformed-input tests:
    /// magic, protocol version, an empty sys_info dict, `main`, and an empty storage key list.
    static func legacyFile(main: [UInt8], keys: [UInt8] = [0x80, 0x02, 0x5D, 0x2E], tail: [UInt8] = []) -> Data {
        let magic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
        let version: [UInt8] = [0x80, 0x02, 0x4D, 0xE9, 0x03, 0x2E]
        let sysInfo: [UInt8] = [0x80, 0x02, 0x7D, 0x2E]
        return Data(magic + version + sysInfo + main + keys + tail)
    }
}
