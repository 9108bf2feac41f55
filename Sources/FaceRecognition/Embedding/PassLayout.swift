/// How one ``FaceNet`` call spreads a batch over the threads it was granted: ``passes``
/// forward passes run at once, each on its own workspace with ``threadsPerPass`` threads, the
/// images shared out in order.
public struct PassLayout: Equatable, Sendable {
    /// Forward passes run side by side.
    public let passes: Int
    /// Threads each pass spreads over.
    public let threadsPerPass: Int

    /// The layout for a batch.
    ///
    /// Automatic: as many passes as the images and the threads share evenly (their greatest
    /// common divisor), the threads split equally between them. Passes side by side meet at
    /// no barrier between layers and each keeps its products whole, so they beat one pass
    /// spread over the same threads (160×160 batch 8 on 2 cores: 2 passes of 4 median 1.03× the
    /// faster of ONNX Runtime and OpenVINO, one pass 0.90×, `compare.py facenet --batches 8
    /// --rounds 5`); an uneven split leaves a thread idle for a whole image (batch 3 on 2
    /// threads: 17.8 ms/face as passes of 1 and 2, 13.3 as one pass), so it is one pass then.
    ///
    /// - Parameters:
    ///   - count: the images in the batch (at least 1).
    ///   - granted: the threads the call was granted (at least 1).
    ///   - requested: the passes the caller asked for, or nil for the automatic layout.
    public init(count: Int, granted: Int, requested: Int? = nil) {
        let passes: Int
        if let requested {
            passes = max(1, min(requested, count, granted))
        } else {
            passes = Self.greatestCommonDivisor(max(1, count), max(1, granted))
        }
        self.passes = passes
        threadsPerPass = max(1, granted / passes)
    }

    init(passes: Int, threadsPerPass: Int) {
        self.passes = passes
        self.threadsPerPass = threadsPerPass
    }

    /// The threads to ask the budget for: `requested` passes of the budget's `threadsPerPass`
    /// each, or one pass's worth when automatic (the automatic layout divides what it gets).
    static func threadsWanted(count: Int, requested: Int?, threadsPerPass: Int) -> Int {
        guard let requested else { return threadsPerPass }
        return max(1, min(requested, count)) * threadsPerPass
    }

    /// The images of one pass: the batch split into ``passes`` consecutive runs whose sizes
    /// differ by at most one.
    /// - Parameters:
    ///   - index: the pass, 0 ..< ``passes``.
    ///   - count: the images in the batch.
    /// - Returns: the indices of that pass's images.
    public func images(ofPass index: Int, count: Int) -> Range<Int> {
        (count * index / passes)..<(count * (index + 1) / passes)
    }

    /// The layout in words, as the benchmarks print it ("2 passes of 4, 1 thread each").
    /// - Parameter count: the images in the batch.
    /// - Returns: the passes, their images and their threads.
    public func description(count: Int) -> String {
        if passes == 1 { return "one pass, \(threadsPerPass) thread\(threadsPerPass == 1 ? "" : "s")" }
        let smallest = count / passes, largest = (count + passes - 1) / passes
        let sizes = smallest == largest ? "\(smallest)" : "\(smallest)–\(largest)"
        return "\(passes) passes of \(sizes), \(threadsPerPass) thread\(threadsPerPass == 1 ? "" : "s") each"
    }

    private static func greatestCommonDivisor(_ a: Int, _ b: Int) -> Int {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }
}
