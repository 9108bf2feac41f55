import COpenBLAS
import Foundation

/// The threads of one forward pass: FaceNet's own GEMM engine spreads each pass over this many
/// (its contexts follow the count at the time of the pass), and OpenBLAS, which MTCNN's linear
/// layers and FaceNet's portable path call, uses as many per matrix product.
///
/// One forward pass uses every core by default. Callers that already run one pass per core
/// (`facerec identify`'s parallel batches, a worker's analysis lanes) should give each pass a
/// single thread: nested threading oversubscribes the cores and the BLAS threads spin against
/// each other. Measured with `facerec identify` on 300 images, 2 cores, 2 parallel batches:
/// 10.35 images/s with OpenBLAS's default threads, 14.33 with one thread per pass.
public enum BLASThreads {
    /// The environment variable with which an operator fixes the count; when it is set,
    /// ``configure(parallelCallers:)`` leaves the count alone.
    public static let environmentVariable = "OPENBLAS_NUM_THREADS"

    /// Threads per pass now.
    public static var count: Int { Int(openblas_get_num_threads()) }

    /// Sets the threads per pass (at least 1). Process-wide.
    public static func set(_ count: Int) {
        openblas_set_num_threads(Int32(clamping: max(1, count)))
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
