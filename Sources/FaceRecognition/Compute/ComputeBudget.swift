import CFaceNet
import COpenBLAS
import Foundation

/// The threads the library's compute may use at once: every MTCNN detection, FaceNet pass and
/// inference context of the models built with one budget draws from it, so N concurrent callers
/// share `threads` threads instead of starting N × cores.
///
/// A process sets the shared budget once, before it builds its models (the default is one
/// thread per active core), and models take ``shared`` unless given another:
///
/// ```swift
/// ComputeBudget.configureShared(threads: 4)        // at start-up, once
/// let facenet = try FaceNet(contentsOf: weightsURL) // draws from ComputeBudget.shared
/// ```
///
/// How it bounds the threads:
/// - A pass asks for up to ``threadsPerPass`` threads and gets what is free (at least one);
///   when none is free it waits. The threads it was granted return when it ends.
/// - Each model keeps at most ``threads`` inference contexts (workspaces); a caller beyond
///   that waits for one instead of allocating another.
/// - FaceNet's helper threads sleep as soon as their pass ends (they spin only between the
///   matrix products of a pass).
/// - OpenBLAS runs on the calling thread (`openblas_set_num_threads(1)` once any budget
///   exists): its own threads, which the budget cannot see, stay idle.
/// - The `async` APIs run their compute on the budget's own threads (``run(_:)``), never on
///   Swift's cooperative pool.
public final class ComputeBudget: @unchecked Sendable {
    /// Threads the compute may use at once (at least 1).
    public let threads: Int
    /// Counts the threads that are computing (see ``runningThreads``).
    let gauge: OpaquePointer
    private let condition = NSCondition()
    private var free: Int
    private var perPass: Int
    private let executor: ComputeExecutor

    /// A budget of `threads` threads (at least 1; default: the active cores), of which one pass
    /// takes up to `threadsPerPass` (default: all of them).
    public init(threads: Int = ProcessInfo.processInfo.activeProcessorCount, threadsPerPass: Int? = nil) {
        self.threads = max(1, threads)
        free = self.threads
        perPass = min(max(1, threadsPerPass ?? self.threads), self.threads)
        guard let gauge = cfn_thread_gauge_create() else { fatalError("out of memory creating a thread gauge") }
        self.gauge = gauge
        executor = ComputeExecutor(threads: self.threads)
        Self.pinBLASToCaller
    }

    deinit {
        executor.shutdown()
        // The models built on this budget hold it, so no context counts on the gauge any more.
        cfn_thread_gauge_destroy(gauge)
    }

    /// OpenBLAS's own threads are outside any budget: its products run on the calling thread,
    /// which holds a share of the budget.
    private static let pinBLASToCaller: Void = openblas_set_num_threads(1)

    // MARK: The shared budget

    private static let sharedLock = NSLock()
    nonisolated(unsafe) private static var sharedBudget: ComputeBudget?

    /// The process's budget: the one ``configureShared(threads:threadsPerPass:)`` set, else one
    /// thread per active core, with `OPENBLAS_NUM_THREADS` (when set) threads per pass. Models
    /// use it unless built with another.
    public static var shared: ComputeBudget {
        sharedLock.withLock {
            if let budget = sharedBudget { return budget }
            let perPass = ProcessInfo.processInfo.environment[BLASThreads.environmentVariable].flatMap { Int($0) }
            let budget = ComputeBudget(threadsPerPass: perPass)
            sharedBudget = budget
            return budget
        }
    }

    /// Sets ``shared`` once, before anything uses it. False (and no change) when it was already
    /// set or used: a budget that models draw from cannot be swapped under them.
    @discardableResult
    public static func configureShared(threads: Int, threadsPerPass: Int? = nil) -> Bool {
        sharedLock.withLock {
            guard sharedBudget == nil else { return false }
            sharedBudget = ComputeBudget(threads: threads, threadsPerPass: threadsPerPass)
            return true
        }
    }

    // MARK: Threads

    /// Threads one forward pass asks for (1 … ``threads``). Lower it when callers already run
    /// one pass per core, so that each pass keeps to its own core.
    public var threadsPerPass: Int {
        get { condition.withLock { perPass } }
        set { condition.withLock { perPass = min(max(1, newValue), threads) } }
    }

    /// Threads computing right now: callers inside a pass and the helper threads they woke.
    public var runningThreads: Int { Int(cfn_thread_gauge_running(gauge)) }

    /// The most threads seen computing at once since the budget was made or
    /// ``resetPeakRunningThreads()`` was called; never more than ``threads``.
    public var peakRunningThreads: Int { Int(cfn_thread_gauge_peak(gauge)) }

    /// Restarts ``peakRunningThreads`` from the current count.
    public func resetPeakRunningThreads() { cfn_thread_gauge_reset_peak(gauge) }

    /// Takes between 1 and `want` threads, waiting while none is free.
    func acquire(upTo want: Int) -> Int {
        condition.withLock {
            while free == 0 { condition.wait() }
            let granted = min(max(1, want), free)
            free -= granted
            return granted
        }
    }

    func release(_ count: Int) {
        condition.withLock {
            free += count
            condition.broadcast()
        }
    }

    /// Runs `body` with between 1 and `want` threads of the budget, counting the calling thread
    /// as one of them while it runs.
    func withThreads<R, E: Error>(upTo want: Int, _ body: (Int) throws(E) -> R) throws(E) -> R {
        let granted = acquire(upTo: want)
        defer { release(granted) }
        return try body(granted)
    }

    /// Counts the calling thread as computing while `body` runs.
    func counting<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        cfn_thread_gauge_enter(gauge)
        defer { cfn_thread_gauge_exit(gauge) }
        return try body()
    }

    // MARK: Async

    /// Runs `body` on one of the budget's own threads and returns its result, leaving the
    /// calling task's thread (a cooperative one) free meanwhile. Throws `CancellationError`
    /// without running `body` when the task is already cancelled; once started, `body` runs to
    /// its end.
    public func run<R: Sendable>(_ body: @escaping @Sendable () throws -> R) async throws -> R {
        try Task.checkCancellation()
        return try await withCheckedThrowingContinuation { continuation in
            executor.enqueue { continuation.resume(with: Result { try body() }) }
        }
    }
}

/// The budget's own threads for `async` calls: started on first use, one per budget thread,
/// waiting on a condition (no spinning) when there is no job.
final class ComputeExecutor: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var head = 0
    private var started = 0
    private var idle = 0
    private var stopping = false
    private let limit: Int
    /// The name of the executor's threads (in `top -H`, debuggers, crash reports).
    static let threadName = "facerec-compute"
    /// Set on the executor's threads.
    private static let marker: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Whether the calling thread is one of an executor's (of any budget).
    static var isCurrentThreadCompute: Bool { pthread_getspecific(marker) != nil }

    init(threads: Int) { limit = threads }

    func enqueue(_ job: @escaping @Sendable () -> Void) {
        condition.withLock {
            jobs.append(job)
            if idle == 0 && started < limit {
                started += 1
                Thread { [self] in
                    Thread.current.name = Self.threadName
                    pthread_setspecific(Self.marker, UnsafeRawPointer(bitPattern: 1))
                    work()
                }.start()
            } else {
                condition.signal()
            }
        }
    }

    private func work() {
        while let job = next() { job() }
    }

    private func next() -> (@Sendable () -> Void)? {
        condition.withLock {
            while head == jobs.count && !stopping {
                idle += 1
                condition.wait()
                idle -= 1
            }
            guard head < jobs.count else { return nil }
            let job = jobs[head]
            head += 1
            if head > 64 && head * 2 > jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            return job
        }
    }

    /// Lets the threads finish the queued jobs and end.
    func shutdown() {
        condition.withLock {
            stopping = true
            condition.broadcast()
        }
    }
}
