import FaceRecognition
import Foundation

/// `FaceRecBenchmarks synthetic-weights --out FILE [--statistics FILE]`: writes the deterministic
/// synthetic FaceNet weights the tests use (the real vggface2 weights cannot be downloaded
/// everywhere), so that service benchmarks run the full network on any machine.
func runSyntheticWeights(_ arguments: [String]) throws {
    var options = BenchmarkOptions(arguments)
    guard let out = options.value("--out") else { throw BenchmarkArgumentError(message: "--out FILE is required") }
    let statistics = options.value("--statistics") ?? "Tests/Fixtures/facenet/bn_statistics.safetensors"
    let stats = try SafeTensors.read(contentsOf: URL(fileURLWithPath: statistics))
    try SafeTensors.write(try SyntheticFaceNetWeights.make(runningStatistics: stats), to: URL(fileURLWithPath: out))
    print("wrote \(out)")
}
