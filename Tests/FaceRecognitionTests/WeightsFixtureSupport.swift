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

    /// facenet-pytorch's MTCNN weights: `weights/<net>.pt` (fetched by weights/fetch_mtcnn_weights.sh)
    /// or an installed facenet-pytorch package's data directory.
    static func mtcnnWeights(_ net: String) -> URL? {
        var candidates = [TestPaths.packageRoot.appendingPathComponent("weights/\(net).pt")]
        if let dir = ProcessInfo.processInfo.environment["FACENET_PYTORCH_DATA"] {
            candidates.insert(URL(fileURLWithPath: dir).appendingPathComponent("\(net).pt"), at: 0)
        }
        let fm = FileManager.default
        for root in ["/root/.pyenv/versions", "/usr/local/lib", "/usr/lib"] {
            guard let versions = try? fm.contentsOfDirectory(atPath: root) else { continue }
            for version in versions.sorted() {
                let base = root.hasSuffix("versions") ? "\(root)/\(version)/lib" : root
                guard let pythons = try? fm.contentsOfDirectory(atPath: base) else { continue }
                for python in pythons where python.hasPrefix("python3") {
                    for site in ["site-packages", "dist-packages"] {
                        candidates.append(URL(fileURLWithPath: "\(base)/\(python)/\(site)/facenet_pytorch/data/\(net).pt"))
                    }
                }
                if !root.hasSuffix("versions") { break }
            }
        }
        return candidates.first { fm.fileExists(atPath: $0.path) }
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
