// FaceRecBenchmarks: `swift run -c release FaceRecBenchmarks <suite> [options]`.
// Each suite lives in its own file and prints a table; Benchmarks/*.py time the references.
import Foundation

let suites: [String: ([String]) throws -> Void] = [
    "detection": runDetectionBenchmark,
    "facenet": runFaceNetBenchmark,
    "facenet-int8": runFaceNetInt8Benchmark,
    "facenet-int8-accuracy": runFaceNetInt8Accuracy,
    "facenet-int8-layers": runFaceNetInt8Layers,
    "idle": runIdleBenchmark,
    "matching": runMatchingBenchmark,
    "synthetic-weights": runSyntheticWeights,
]

let arguments = Array(CommandLine.arguments.dropFirst())
guard let name = arguments.first, let suite = suites[name] else {
    let known = suites.keys.sorted().joined(separator: ", ")
    FileHandle.standardError.write(Data("usage: FaceRecBenchmarks <suite> [options]; suites: \(known)\n".utf8))
    exit(2)
}
do {
    try suite(Array(arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
