import CFaceNet
import FaceRecognition
import Foundation

/// `FaceRecBenchmarks idle [--seconds 30] [--requests 3] [--batch 8] [--mtcnn-weights DIR]
/// [--image FILE] [--json]`: what a recognizer's process burns between requests. Each request
/// embeds a batch of crops with FaceNet on the default threads (its helper threads start with
/// the first) and, with MTCNN weights and an image, detects the faces of the image first; the
/// process then idles `--seconds` before the next one. Reports, per idle gap, the CPU seconds the
/// whole process used (getrusage: every thread, ours and OpenBLAS's), and how long after the
/// request returned the last other thread of the process stopped running (polled from
/// /proc/self/task; the poll itself takes some microseconds, so that is an upper bound).
func runIdleBenchmark(_ arguments: [String]) throws {
    var options = BenchmarkOptions(arguments)
    let seconds = Double(options.value("--seconds") ?? "30") ?? 30
    let requests = Int(options.value("--requests") ?? "3") ?? 3
    let batch = Int(options.value("--batch") ?? "8") ?? 8
    let json = options.flag("--json")
    let stats = try SafeTensors.read(contentsOf: URL(fileURLWithPath: "Tests/Fixtures/facenet/bn_statistics.safetensors"))
    let facenet = try FaceNet(stateDict: try SyntheticFaceNetWeights.make(runningStatistics: stats))
    var detection: (MTCNN, RGBImage)?
    if let weights = options.value("--mtcnn-weights") {
        let image = options.value("--image") ?? "../shared/data/photos/multiface.jpg"
        detection = (try MTCNN(weightsDirectory: URL(fileURLWithPath: weights)),
                     try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: image)))
    }
    var input = [Float](repeating: 0, count: batch * 3 * 160 * 160)
    var seed: UInt32 = 12345
    for i in input.indices {
        seed = seed &* 1_664_525 &+ 1_013_904_223
        input[i] = Float(seed >> 8) / Float(1 << 24) * 2 - 1
    }
    let kernels = String(cString: cfn_kernels_name())
    for request in 1...requests {
        if let (mtcnn, image) = detection { _ = try mtcnn.detect(image) }
        _ = try facenet.embed(standardized: input, count: batch, height: 160, width: 160)
        let settled = microsecondsUntilOtherThreadsSleep()
        let before = processCPUSeconds()
        Thread.sleep(forTimeInterval: seconds)
        let used = processCPUSeconds() - before
        report(json: json,
               ["suite": "idle", "request": request, "idle_s": seconds, "cpu_s": used,
                "threads": threadCount(), "settled_us": settled, "batch": batch, "kernels": kernels,
                "detection": detection != nil],
               text: String(format: "after request %d (batch %d%@, %@ kernels): other threads asleep within %.0f µs; %.0f s idle used %.4f CPU s (%d threads)",
                            request, batch, detection != nil ? " + detection" : "", kernels, settled,
                            seconds, used, threadCount()))
    }
}

/// User + system CPU seconds of every thread of the process so far.
private func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The process's threads other than the main one (the caller) that the kernel has running or runnable ("R").
private func otherRunningThreads() -> Int {
    let me = String(getpid()) // the suites run on the main thread, whose thread id is the pid
    guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return 0 }
    var running = 0
    for task in tasks where task != me {
        guard let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { continue }
        // After "pid (comm) ", the state letter.
        let state = stat[stat.index(close, offsetBy: 2)]
        if state == "R" { running += 1 }
    }
    return running
}

private func threadCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
}

/// Microseconds from now until no other thread of the process is running (at most 1 s).
private func microsecondsUntilOtherThreadsSleep() -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    while otherRunningThreads() > 0 {
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1000
        if elapsed > 1_000_000 { return elapsed }
    }
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1000
}
