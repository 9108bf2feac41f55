import CFaceNet
import COpenBLAS
import FaceRecognition
import Foundation

/// `FaceRecBenchmarks facenet [--weights FILE] [--seconds S] [--sizes 160,240] [--batches 1,8]
/// [--json]`: FaceNet forward passes at 160×160 and 240×240, batch 1 and 8 (or the sizes and
/// batches named), with OpenBLAS's own large-SGEMM rate measured in the same run as the
/// practical ceiling. Without --weights the deterministic synthetic weights are used
/// (timing does not depend on the values).
func runFaceNetBenchmark(_ arguments: [String]) throws {
    var options = BenchmarkOptions(arguments)
    let weightsPath = options.value("--weights")
    let seconds = Double(options.value("--seconds") ?? "3") ?? 3
    let json = options.flag("--json")
    func list(_ name: String, _ defaults: [Int]) -> [Int] {
        options.value(name).map { $0.split(separator: ",").compactMap { Int($0) } } ?? defaults
    }
    let sizes = list("--sizes", [160, 240]), batches = Set(list("--batches", [1, 8]))

    let facenet: FaceNet
    if let weightsPath {
        facenet = try FaceNet(contentsOf: URL(fileURLWithPath: weightsPath))
    } else {
        let stats = try SafeTensors.read(contentsOf: URL(fileURLWithPath: "Tests/Fixtures/facenet/bn_statistics.safetensors"))
        facenet = try FaceNet(stateDict: try SyntheticFaceNetWeights.make(runningStatistics: stats))
    }

    let ceiling = sgemmGFLOPS(size: 2048, seconds: seconds)
    // The kernels OpenBLAS picked: a CPU newer than the library falls back to generic ones
    // (PRESCOTT), and the ceiling is then no ceiling; OPENBLAS_CORETYPE overrides the choice.
    let core = openblas_get_corename().map { String(cString: $0) } ?? "unknown"
    report(json: json, ["suite": "facenet", "impl": "openblas-sgemm", "gflops": ceiling, "core": core],
           text: String(format: "OpenBLAS sgemm 2048³ (%@ kernels): %.1f GFLOPS (ceiling)", core, ceiling))

    // Each batch runs in FaceNet's automatic layout (a batch the threads share evenly runs as
    // that many passes side by side) and, where that splits it, as one pass on all the
    // threads too (concurrentPasses: 1).
    // "portable" without AVX2 + FMA, or under FACEREC_DISABLE_AVX2: one SGEMM per layer.
    let kernels = String(cString: cfn_kernels_name())
    let threads = BLASThreads.count
    let layouts: [(batch: Int, requested: Int?)] = batches.sorted().flatMap { batch in
        PassLayout(count: batch, granted: threads).passes > 1 ? [(batch, nil), (batch, 1)] : [(batch, nil)]
    }
    for size in sizes {
        for (batch, requested) in layouts {
            let layout = PassLayout(count: batch, granted: threads, requested: requested).description(count: batch)
                + (requested == nil ? ", automatic" : "")
            var input = [Float](repeating: 0, count: batch * 3 * size * size)
            var seed: UInt32 = 12345
            for i in input.indices {
                seed = seed &* 1_664_525 &+ 1_013_904_223
                input[i] = Float(seed >> 8) / Float(1 << 24) * 2 - 1
            }
            _ = try facenet.embed(standardized: input, count: batch, height: size, width: size, concurrentPasses: requested) // warm-up
            var runs = 0
            let start = DispatchTime.now().uptimeNanoseconds
            var elapsed = 0.0
            repeat {
                _ = try facenet.embed(standardized: input, count: batch, height: size, width: size,
                                      concurrentPasses: requested)
                runs += 1
                elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            } while elapsed < seconds || runs < 3
            let faces = Double(runs * batch)
            let msPerFace = elapsed * 1000 / faces
            let gflops = 2 * Double(FaceNetArchitecture.multiplyAccumulates(height: size, width: size)) * faces / elapsed / 1e9
            report(json: json,
                   ["suite": "facenet", "impl": "cfacenet", "size": size, "batch": batch, "layout": layout,
                    "kernels": kernels,
                    "ms_per_face": msPerFace, "faces_per_s": 1000 / msPerFace, "gflops": gflops,
                    "ceiling_fraction": gflops / ceiling],
                   text: String(format: "CFaceNet %d×%d batch %d (%@, %@ kernels): %.2f ms/face, %.1f faces/s, %.1f GFLOPS (%.0f%% of sgemm)",
                                size, size, batch, layout, kernels, msPerFace, 1000 / msPerFace, gflops, 100 * gflops / ceiling))
        }
    }
    let peak = peakResidentMegabytes()
    report(json: json, ["suite": "facenet", "impl": "cfacenet", "peak_rss_mb": peak,
                        "weights_mb": Double(facenet.weightBytes) / 1_048_576],
           text: String(format: "peak RSS %.0f MB (weights %.0f MB)", peak, Double(facenet.weightBytes) / 1_048_576))
}

/// GFLOPS of one n×n×n SGEMM, repeated for about `seconds`.
private func sgemmGFLOPS(size n: Int, seconds: Double) -> Double {
    let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
    var c = [Float](repeating: 0, count: n * n)
    func once() {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0, &c, Int32(n))
    }
    once()
    var runs = 0
    let start = DispatchTime.now().uptimeNanoseconds
    var elapsed = 0.0
    repeat {
        once()
        runs += 1
        elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    } while elapsed < seconds / 2 || runs < 3
    return 2 * Double(n * n * n) * Double(runs) / elapsed / 1e9
}
