import Foundation
@testable import FaceRecognition

/// Where the MTCNN tests find weights and goldens.
enum MTCNNTestSupport {
    static let goldens = TestPaths.fixtures.appendingPathComponent("mtcnn")

    /// The one place the tests look for MTCNN's weights: `FACEREC_MTCNN_WEIGHTS`, else
    /// `weights/` in the package (where `weights/fetch_mtcnn_weights.sh` puts them).
    static let weightsDirectory: URL? = {
        var candidates: [URL] = []
        if let path = ProcessInfo.processInfo.environment["FACEREC_MTCNN_WEIGHTS"], !path.isEmpty {
            candidates.append(URL(fileURLWithPath: path))
        }
        candidates.append(TestPaths.packageRoot.appendingPathComponent("weights"))
        return candidates.first { dir in
            ["pnet.pt", "rnet.pt", "onet.pt"].allSatisfy {
                FileManager.default.fileExists(atPath: dir.appendingPathComponent($0).path)
            }
        }
    }()

    static func stateDict(_ name: String) throws -> StateDict {
        guard let dir = weightsDirectory else { throw MTCNNError.weightsNotFound(file: name) }
        return try WeightsLoader.load(contentsOf: dir.appendingPathComponent(name))
    }

    /// The three networks built from the fetched weights.
    static func networks() throws -> MTCNNNetworks {
        try MTCNNNetworks(pnet: stateDict("pnet.pt"), rnet: stateDict("rnet.pt"), onet: stateDict("onet.pt"))
    }

    static func detector(_ options: MTCNNOptions = MTCNNOptions()) throws -> MTCNN {
        guard let dir = weightsDirectory else { throw MTCNNError.weightsNotFound(file: "weights/pnet.pt") }
        return try MTCNN(weightsDirectory: dir, options: options)
    }

    static func json(_ name: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: goldens.appendingPathComponent(name)))
    }

    static func floats(_ value: Any?) -> [Float] {
        (value as? [Any] ?? []).map { Float(($0 as? NSNumber)?.doubleValue ?? .nan) }
    }

    /// The deterministic input of make_mtcnn_goldens.py's `formula_input`.
    static func formulaInput(n: Int, height: Int, width: Int, seed: Int) -> [Float] {
        var out = [Float](repeating: 0, count: n * 3 * height * width)
        var k = 0
        for i in 0..<n {
            for c in 0..<3 {
                for y in 0..<height {
                    for x in 0..<width {
                        let v = (i * 31 + c * 7 + y * 13 + x * 29 + seed) % 255
                        out[k] = Float((Double(v) - 127.5) * 0.0078125)
                        k += 1
                    }
                }
            }
        }
        return out
    }

    static func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "length \(a.count) vs \(b.count)")
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }
}
