// `FaceRecBenchmarks detection [--weights-dir DIR] [--data DIR] [--iterations N] [--images A,B]
// [--threads T] [--json]`: MTCNN
// detection + extraction (facenet-pytorch's MTCNN.forward) per image, median of N runs after a
// half-second warm-up. Compare with `python3 Benchmarks/reference_detection.py` (torch, 2
// threads), or run both with `python3 Benchmarks/compare.py detection`. --threads sets MTCNNOptions.threads
// (0, the default: one per core).
// MTCNN's GEMMs are small: on a busy 2-core machine OPENBLAS_NUM_THREADS=1 was measured 1.5-3x
// faster in wall time than OpenBLAS's default 2 threads, so report both settings.
import FaceRecognition
import Foundation

/// The images both benchmarks time, relative to the shared data folder.
let detectionBenchmarkImages = [
    "face_images_100/test_00.jpg",   // 64×64 course image
    "photos/multiface.jpg",          // 1200×630, six faces
    "photos/kate_siegel.jpg",        // 1125×1612 (~1.8 MP) portrait
]

func runDetectionBenchmark(_ arguments: [String]) throws {
    var weights = ProcessInfo.processInfo.environment["FACEREC_MTCNN_WEIGHTS"] ?? "weights"
    var data = ProcessInfo.processInfo.environment["FACEREC_TEST_DATA"] ?? "../shared/data"
    var iterations = 20
    var images = detectionBenchmarkImages
    var threads = 0
    let json = arguments.contains("--json")
    let arguments = arguments.filter { $0 != "--json" }
    var index = 0
    while index < arguments.count {
        let flag = arguments[index]
        guard index + 1 < arguments.count else { throw BenchmarkArgumentError(message: "\(flag) needs a value") }
        let value = arguments[index + 1]
        switch flag {
        case "--weights-dir": weights = value
        case "--data": data = value
        case "--images": images = value.split(separator: ",").map(String.init)
        case "--threads":
            guard let n = Int(value), n >= 0 else { throw BenchmarkArgumentError(message: "bad --threads \(value)") }
            threads = n
        case "--iterations":
            guard let n = Int(value), n > 0 else { throw BenchmarkArgumentError(message: "bad --iterations \(value)") }
            iterations = n
        default: throw BenchmarkArgumentError(message: "unknown option \(flag)")
        }
        index += 2
    }
    let mtcnn = try MTCNN(weightsDirectory: URL(fileURLWithPath: weights),
                          options: MTCNNOptions(minFaceSize: 20, imageSize: 240, margin: 0, threads: threads))
    if !json {
        print("suite: detection (MTCNN detect + extract_face, image_size=240, min_face_size=20), \(iterations) runs, median")
        print("(cpu ms: process CPU time per image, all threads; steadier than wall time on a busy machine)")
        print("image                              size        faces   ms/image   cpu ms/image")
    }
    for name in images {
        let url = URL(fileURLWithPath: data).appendingPathComponent(name)
        let image = try ImageDecoder.decode(contentsOf: url, options: DecodeOptions(applyEXIFOrientation: false))
        // Warm-up, the same on the reference side: at least one call (it sizes the workspace
        // arena) and at least half a second. On this VM kind the first ~0.1 s of calls after an
        // idle spell ran ~2x slower (64×64: 6.5 ms for 16 calls, then 3.4 ms), on both sides.
        var faces = 0
        let warmUpStart = DispatchTime.now().uptimeNanoseconds
        repeat {
            faces = try mtcnn.extractFaces(image).count
        } while DispatchTime.now().uptimeNanoseconds - warmUpStart < 500_000_000
        var times: [Double] = [], cpu: [Double] = []
        for _ in 0..<iterations {
            let start = DispatchTime.now().uptimeNanoseconds, cpuStart = processCPUMilliseconds()
            faces = try mtcnn.extractFaces(image).count
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            cpu.append(processCPUMilliseconds() - cpuStart)
        }
        times.sort()
        cpu.sort()
        let median = times[times.count / 2]
        report(json: json, ["suite": "detection", "impl": "cfacenet", "image": name,
                            "size": "\(image.width)x\(image.height)", "faces": faces, "iterations": iterations,
                            "ms": median, "cpu_ms": cpu[cpu.count / 2],
                            // The fastest run: on a machine shared with other work, the closest
                            // to the code's own cost (A/B comparisons of two builds).
                            "min_ms": times[0], "min_cpu_ms": cpu[0]],
               text: name.padding(toLength: 35, withPad: " ", startingAt: 0)
                   + "\(image.width)x\(image.height)".padding(toLength: 12, withPad: " ", startingAt: 0)
                   + "\(faces)".padding(toLength: 8, withPad: " ", startingAt: 0)
                   + String(format: "%8.2f   %12.2f", median, cpu[cpu.count / 2]))
    }
}

/// CPU time consumed by the whole process (every thread), in milliseconds.
func processCPUMilliseconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) * 1e3 + Double(ts.tv_nsec) / 1e6
}

struct BenchmarkArgumentError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
