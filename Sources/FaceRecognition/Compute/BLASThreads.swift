import Foundation

/// The threads of one call, as ``ComputeBudget/threadsPerPass`` of the shared budget: FaceNet
/// spreads a batch over this many threads (as passes side by side where the batch divides
/// evenly, see ``FaceNet/embed(standardized:count:height:width:concurrentPasses:)``) and
/// MTCNN's stages split between at most ``MTCNNOptions/threads``, all drawn from
/// ``ComputeBudget/shared``. OpenBLAS itself runs on the calling thread (the budget pins it to
/// one thread), so one setting sizes everything.
///
/// One call uses every core by default. Callers that already run one call per core
/// (`facerec identify`'s parallel batches, a worker's analysis lanes) should give each pass a
/// single thread: nested threading oversubscribes the cores. Measured with `facerec identify`
/// on 300 images, 2 cores, 2 parallel batches: 10.35 images/s with OpenBLAS's default threads,
/// 14.33 with one thread per pass.
public enum BLASThreads {
    /// The environment variable with which an operator fixes the count; when it is set,
    /// ``configure(parallelCallers:cores:environment:)`` leaves the count alone.
    public static let environmentVariable = "OPENBLAS_NUM_THREADS"

    /// Threads per pass now (``ComputeBudget/threadsPerPass`` of ``ComputeBudget/shared``).
    public static var count: Int { ComputeBudget.shared.threadsPerPass }

    /// Sets the threads per pass (1 … the shared budget's threads). Process-wide.
    public static func set(_ count: Int) {
        ComputeBudget.shared.threadsPerPass = count
    }

    /// Shares the cores between `parallelCallers` forward passes running at once: each gets
    /// `cores / parallelCallers` threads (at least 1). Does nothing when
    /// ``environmentVariable`` is set. Returns the count in force.
    @discardableResult
    public static func configure(parallelCallers: Int,
                                 cores: Int = ProcessInfo.processInfo.activeProcessorCount,
                                 environment: [String: String] = ProcessInfo.processInfo.environment) -> Int {
        if environment[environmentVariable] == nil {
            set(max(1, cores / max(1, parallelCallers)))
        }
        return count
    }
}
