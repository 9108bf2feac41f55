/// Coalesces concurrent single requests into batches for a function that is cheaper per item
/// on a batch (FaceNet's forward pass: one GEMM per layer over every face of the batch).
///
/// Dynamic batching without a timer: up to ``lanes`` batches run at once; a request that finds
/// a lane free starts at once as a batch of one (an idle service adds no latency), and requests
/// that arrive while every lane is busy wait and leave together, up to ``maxBatchSize`` at a
/// time, when a lane frees. Under load the batches fill by themselves.
///
/// `process` gets the inputs of one batch and returns one result per input, in order; a
/// failure of one item is that item's alone.
public actor MicroBatcher<Input: Sendable, Output: Sendable> {
    public typealias Process = @Sendable ([Input]) async -> [Result<Output, any Error>]

    /// Batches run at once.
    public nonisolated let lanes: Int
    /// Most inputs per batch.
    public nonisolated let maxBatchSize: Int
    private let process: Process
    private var waiting: [(input: Input, continuation: CheckedContinuation<Output, any Error>)] = []
    private var busyLanes = 0
    /// How many batches of each size have started so far (for tests and the workers' logs).
    public private(set) var batchSizes: [Int: Int] = [:]
    /// Requests waiting for a lane.
    public var pendingCount: Int { waiting.count }

    public init(lanes: Int, maxBatchSize: Int, process: @escaping Process) {
        self.lanes = max(1, lanes)
        self.maxBatchSize = max(1, maxBatchSize)
        self.process = process
    }

    /// Processes `input` in the next batch with room and returns its result.
    public func submit(_ input: Input) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            waiting.append((input, continuation))
            startBatches()
        }
    }

    private func startBatches() {
        while busyLanes < lanes, !waiting.isEmpty {
            let batch = Array(waiting.prefix(maxBatchSize))
            waiting.removeFirst(batch.count)
            busyLanes += 1
            batchSizes[batch.count, default: 0] += 1
            let process = self.process
            Task {
                let results = await process(batch.map(\.input))
                self.finish(batch.map(\.continuation), results)
            }
        }
    }

    private func finish(_ continuations: [CheckedContinuation<Output, any Error>], _ results: [Result<Output, any Error>]) {
        for (index, continuation) in continuations.enumerated() {
            continuation.resume(with: index < results.count ? results[index] : .failure(MicroBatcherError.missingResult))
        }
        busyLanes -= 1
        startBatches()
    }
}

/// `process` returned fewer results than it was given inputs (a programming error, reported
/// to the callers left without a result instead of leaving them waiting forever).
public enum MicroBatcherError: Error, Sendable {
    case missingResult
}
