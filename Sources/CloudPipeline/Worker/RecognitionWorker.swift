import Foundation
import Logging

/// Takes recognition jobs from the input queue until cancelled: the app tier of the pipeline.
///
/// For each message: parse the body (``JobMessage``), fetch the image from the input store,
/// recognise it, write the result object (key: the image key without its extension; body: the
/// label) to the output store, send `STEM:NAME` to the output queue, then delete the message.
/// Writing the result before deleting the message makes the job at-least-once: a worker that
/// dies at any point loses nothing, the message comes back after its visibility timeout, and
/// the redelivery writes the same result again (recognition is deterministic, so redelivery is
/// idempotent; the output queue may see the answer twice).
///
/// - **Concurrency**: ``Configuration/concurrency`` receive loops, one job each; a recognizer
///   such as FaceRecognitionService's engine batches the images of the jobs in hand.
/// - **Long jobs**: while a job runs its lease is renewed every
///   ``Configuration/leaseRenewalInterval``, so a slow image is not handed to a second worker.
/// - **Drain** (cancelling ``run()``; the executables do it on SIGTERM and on an Auto Scaling
///   scale-in): no new receive starts; a receive under way is not aborted (on SQS that could
///   hide the messages it was handed for their whole visibility timeout) but returns at the
///   end of its wait, at most ``Configuration/receiveWaitTime``, and the messages it brings are
///   jobs in hand like the others: they finish and their results are written before ``run()``
///   returns. Nothing stays hidden behind a worker that has gone. (They are not given back:
///   making a message visible again spends one of its `maxReceiveCount` receives without a
///   try, so a message passed between draining workers, or delivered twice by SQS's
///   at-least-once receive, could reach the dead-letter queue without ever being processed.)
/// - **Heartbeats** (``Configuration/heartbeat``): `ready` when it starts and every interval,
///   `draining` when told to stop, `stopped` when it returns; the auto-scaler replaces
///   instances whose worker never started or went silent (``FleetHealthCheck``).
/// - **Permanent failures** (a body that is not a job, a missing object, bytes that are not an
///   image): `STEM:Error` is sent, then an error result `error: <reason>` written when there
///   is a key to write it under (a redelivery that finds that result sends nothing more, one
///   that does not — the earlier delivery was cut short — sends the line), and the message is made visible
///   again after ``Configuration/failedJobRetryDelay`` without being deleted, so the queue's
///   redrive policy moves it to the dead-letter queue after `maxReceiveCount` receives (it is
///   never retried forever, and it stays inspectable).
/// - **Transient failures** (store or queue errors, anything else the recognizer throws): no
///   result is written; the message comes back after ``Configuration/transientRetryDelay``.
public struct RecognitionWorker: Sendable {
    public struct Configuration: Sendable {
        /// Jobs held at once (receive loops). More than one lets receiving, fetching and
        /// writing overlap the recognition of other jobs, and lets a batching recognizer fill
        /// its batches.
        public var concurrency: Int

        /// The executables' default: enough jobs in hand to fill a batch of 8.
        public static let defaultConcurrency = 8
        /// Lease taken by each receive and renewed while the job runs.
        public var visibilityTimeout: Duration
        /// How often a running job's lease is renewed (default: a third of the timeout).
        public var leaseRenewalInterval: Duration
        /// Long-poll wait per receive.
        public var receiveWaitTime: Duration
        /// When a permanently failing message becomes visible again (on its way to the DLQ).
        public var failedJobRetryDelay: Duration
        /// When a transiently failing message becomes visible again.
        public var transientRetryDelay: Duration
        /// The input bucket's name: S3 events naming another bucket are refused. `nil`: not checked.
        public var inputBucket: String?
        /// Where and how often to publish heartbeats. `nil`: none.
        public var heartbeat: HeartbeatSettings?

        public init(concurrency: Int = 1, visibilityTimeout: Duration = .seconds(60), leaseRenewalInterval: Duration? = nil,
                    receiveWaitTime: Duration = .seconds(20), failedJobRetryDelay: Duration = .seconds(1),
                    transientRetryDelay: Duration = .seconds(5), inputBucket: String? = nil,
                    heartbeat: HeartbeatSettings? = nil) {
            self.concurrency = max(1, concurrency)
            self.visibilityTimeout = visibilityTimeout
            self.leaseRenewalInterval = leaseRenewalInterval ?? visibilityTimeout / 3
            self.receiveWaitTime = receiveWaitTime
            self.failedJobRetryDelay = failedJobRetryDelay
            self.transientRetryDelay = transientRetryDelay
            self.inputBucket = inputBucket
            self.heartbeat = heartbeat
        }
    }

    /// How one delivery ended.
    public enum Outcome: Sendable, Hashable {
        /// Every object recognised; results written; the message deleted.
        case completed([JobResult])
        /// Nothing to do (S3's test event); the message deleted.
        case ignored(reason: String)
        /// Can never succeed; error results written where possible; left for the DLQ.
        case failed(reason: String)
        /// Failed for now; the message will be redelivered.
        case willRetry(reason: String)
    }

    /// One result written.
    public struct JobResult: Sendable, Hashable {
        public let inputKey: String
        public let resultKey: String
        /// The `STEM:NAME` line sent to the output queue.
        public let line: String

        public init(inputKey: String, resultKey: String, line: String) {
            self.inputKey = inputKey
            self.resultKey = resultKey
            self.line = line
        }
    }

    /// Message attribute names on output messages.
    public enum OutputAttribute {
        /// The input object's key (lets an uploader match answers to requests).
        public static let inputKey = "inputKey"
        /// `ok` or `error`.
        public static let status = "status"
        /// The reason of an error result.
        public static let error = "error"
    }

    /// The label of an error result line (`STEM:Error`).
    public static let errorLabel = "Error"

    public let input: any MessageQueue
    public let output: any MessageQueue
    public let inputStore: any ObjectStore
    public let outputStore: any ObjectStore
    public let recognizer: any ImageRecognizing
    public let configuration: Configuration
    public let statistics = WorkerStatistics()
    private let logger: Logger

    public init(input: any MessageQueue, output: any MessageQueue, inputStore: any ObjectStore,
                outputStore: any ObjectStore, recognizer: any ImageRecognizing,
                configuration: Configuration = Configuration(), logger: Logger = Logger(label: "facerec.worker")) {
        self.input = input
        self.output = output
        self.inputStore = inputStore
        self.outputStore = outputStore
        self.recognizer = recognizer
        self.configuration = configuration
        self.logger = logger
    }

    /// Receives and processes jobs until the calling task is cancelled, then drains (see the
    /// type's documentation) and returns.
    public func run() async {
        logger.info("worker started", metadata: ["concurrency": "\(configuration.concurrency)"])
        let started = configuration.heartbeat?.clock() ?? Date()
        await withTaskGroup(of: Void.self) { group in
            for slot in 0..<configuration.concurrency {
                group.addTask { await self.receiveLoop(slot: slot) }
            }
            if let heartbeat = configuration.heartbeat {
                group.addTask { await self.publishHeartbeats(heartbeat, startedAt: started) }
            }
            await group.next()
            // Whichever child ends first, the others are ending too: all of them run until
            // cancelled. Say so once, while the jobs in hand finish.
            if Task.isCancelled { logger.info("draining: no new jobs; finishing the jobs in hand") }
        }
        if let heartbeat = configuration.heartbeat {
            await publish(heartbeat, state: .stopped, startedAt: started)
        }
        logger.info("worker stopped", metadata: ["jobs": "\(statistics.snapshot())"])
    }

    private func receiveLoop(slot: Int) async {
        var backoff: Duration = .milliseconds(200)
        while !Task.isCancelled {
            let messages: [ReceivedMessage]
            do {
                messages = try await input.receive(maxMessages: 1, waitTime: configuration.receiveWaitTime,
                                                   visibilityTimeout: configuration.visibilityTimeout)
                backoff = .milliseconds(200)
            } catch {
                if Task.isCancelled { break }
                logger.warning("receive failed; retrying", metadata: ["error": "\(error)", "backoff": "\(backoff)"])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(10))
                continue
            }
            let draining = Task.isCancelled
            statistics.recordReceived(messages.count, whileDraining: draining)
            for message in messages {
                // A receive that was under way when the drain began brought these: they are jobs
                // in hand now (see the type's documentation for why they are not given back).
                if draining { logger.info("finishing a job received while draining", metadata: ["message-id": "\(message.id)"]) }
                // An unstructured task does not inherit cancellation: a SIGTERM lets the job in
                // hand finish (and its result be written) instead of abandoning it half done.
                _ = await Task { await self.process(message) }.value
            }
        }
    }

    private func publishHeartbeats(_ settings: HeartbeatSettings, startedAt: Date) async {
        while !Task.isCancelled {
            await publish(settings, state: .ready, startedAt: startedAt)
            do { try await Task.sleep(for: settings.interval) } catch { break }
        }
        await publish(settings, state: .draining, startedAt: startedAt)
    }

    private func publish(_ settings: HeartbeatSettings, state: WorkerHeartbeat.State, startedAt: Date) async {
        let counts = statistics.snapshot()
        let heartbeat = WorkerHeartbeat(worker: settings.worker, state: state, startedAt: startedAt, at: settings.clock(),
                                        completed: counts.completed, failed: counts.failed)
        do {
            // Not cancelled with the drain: the scaler should learn that this worker is draining.
            try await Task { try await settings.store.publish(heartbeat) }.value
            logger.debug("heartbeat", metadata: ["state": "\(state.rawValue)"])
        } catch {
            logger.warning("could not publish a heartbeat", metadata: ["error": "\(error)"])
        }
    }

    /// Processes one delivery: the whole job, lease renewal included. Public so that tests and
    /// embedders can drive a worker one message at a time.
    @discardableResult
    public func process(_ message: ReceivedMessage) async -> Outcome {
        var jobLogger = self.logger
        jobLogger[metadataKey: "message-id"] = "\(message.id)"
        jobLogger[metadataKey: "receive-count"] = "\(message.receiveCount)"
        let logger = jobLogger
        let started = ContinuousClock.now
        let outcome = await withLeaseRenewed(message, logger: logger) {
            await self.execute(message, logger: logger)
        }
        let elapsed = ContinuousClock.now - started
        statistics.record(outcome, seconds: elapsed.seconds)
        await settle(message, outcome: outcome, logger: logger)
        switch outcome {
        case .completed(let results):
            logger.info("job completed", metadata: ["results": "\(results.map(\.line))", "seconds": "\(elapsed.seconds)"])
        case .ignored(let reason):
            logger.info("message ignored", metadata: ["reason": "\(reason)"])
        case .failed(let reason):
            logger.error("job failed permanently", metadata: ["reason": "\(reason)"])
        case .willRetry(let reason):
            logger.warning("job will be retried", metadata: ["reason": "\(reason)"])
        }
        return outcome
    }

    private func execute(_ message: ReceivedMessage, logger: Logger) async -> Outcome {
        let job: JobMessage
        do {
            job = try JobMessage.parse(message.body)
        } catch {
            return .failed(reason: error.description)
        }
        guard case .objects(let objects) = job else {
            if case .ignorable(let reason) = job { return .ignored(reason: reason) }
            return .ignored(reason: "nothing to do")
        }
        var results: [JobResult] = []
        var failures: [String] = []
        for object in objects {
            var logger = logger
            logger[metadataKey: "key"] = "\(object.key)"
            do {
                results.append(try await recognizeAndStore(object, message: message))
            } catch let failure as PermanentFailure {
                failures.append("\(object.key): \(failure.reason)")
                do {
                    try await storeError(failure.reason, for: object, firstDelivery: message.receiveCount <= 1)
                } catch {
                    return .willRetry(reason: "cannot write the error result for \(object.key): \(error)")
                }
            } catch {
                return .willRetry(reason: "\(object.key): \(error)")
            }
        }
        if !failures.isEmpty { return .failed(reason: failures.joined(separator: "; ")) }
        return .completed(results)
    }

    private struct PermanentFailure: Error { let reason: String }

    private func recognizeAndStore(_ object: JobObject, message: ReceivedMessage) async throws -> JobResult {
        if let expected = configuration.inputBucket, let bucket = object.bucket, bucket != expected {
            throw PermanentFailure(reason: "the event is for bucket \(bucket.debugDescription), this worker reads \(expected.debugDescription)")
        }
        let data: Data
        do {
            data = try await inputStore.get(key: object.key)
        } catch let error as ObjectStoreError {
            switch error {
            case .notFound, .invalidKey: throw PermanentFailure(reason: error.description)
            case .backend: throw error
            }
        }
        let answer: RecognitionAnswer
        do {
            answer = try await recognizer.recognize(imageData: data, key: object.key)
        } catch let error as UnprocessableImage {
            throw PermanentFailure(reason: error.reason)
        }
        try await outputStore.put(Data(answer.label.utf8), key: object.resultKey, contentType: "text/plain; charset=utf-8")
        let line = "\(object.stem):\(answer.label)"
        _ = try await output.send(line, attributes: [OutputAttribute.inputKey: object.key, OutputAttribute.status: "ok"])
        return JobResult(inputKey: object.key, resultKey: object.resultKey, line: line)
    }

    private func storeError(_ reason: String, for object: JobObject, firstDelivery: Bool) async throws {
        let text = Data(("error: " + reason).utf8)
        // The Error line is sent *before* the error result is written, so a later delivery that
        // finds that result knows the line went out. A delivery cut short before that point (a
        // worker killed, a transient S3 failure on the first try) is thus made good by the next
        // one instead of leaving the uploader without an answer; one cut between the send and
        // the write repeats the line (at least once, like results).
        if !firstDelivery {
            do {
                if try await outputStore.get(key: object.resultKey) == text { return }
            } catch ObjectStoreError.notFound {
            } catch ObjectStoreError.invalidKey {
                return  // no result can be stored under it: the first delivery reported it
            }
        }
        try await sendErrorLine(reason, for: object)
        // A key the store refuses cannot hold a result either; the line above still reports it.
        do {
            try await outputStore.put(text, key: object.resultKey, contentType: "text/plain; charset=utf-8")
        } catch ObjectStoreError.invalidKey {}
    }

    private func sendErrorLine(_ reason: String, for object: JobObject) async throws {
        _ = try await output.send("\(object.stem):\(Self.errorLabel)", attributes: [
            OutputAttribute.inputKey: object.key, OutputAttribute.status: "error",
            OutputAttribute.error: Self.attributeSafe(reason),
        ])
    }

    /// Deletes, releases or leaves the message according to the outcome.
    private func settle(_ message: ReceivedMessage, outcome: Outcome, logger: Logger) async {
        do {
            switch outcome {
            case .completed, .ignored:
                try await input.delete(receiptHandle: message.receiptHandle)
            case .failed:
                try await input.changeVisibility(receiptHandle: message.receiptHandle, timeout: configuration.failedJobRetryDelay)
            case .willRetry:
                try await input.changeVisibility(receiptHandle: message.receiptHandle, timeout: configuration.transientRetryDelay)
            }
        } catch {
            // Not fatal: an undeleted message is redelivered and its job redone idempotently.
            logger.warning("could not settle the message", metadata: ["error": "\(error)"])
        }
    }

    /// Runs `body` while renewing the message's lease in the background.
    private func withLeaseRenewed(_ message: ReceivedMessage, logger: Logger,
                                  _ body: @Sendable @escaping () async -> Outcome) async -> Outcome {
        await withTaskGroup(of: Outcome?.self) { group in
            group.addTask { await body() }
            group.addTask {
                while true {
                    do { try await Task.sleep(for: configuration.leaseRenewalInterval) } catch { return nil }
                    do {
                        try await input.changeVisibility(receiptHandle: message.receiptHandle,
                                                         timeout: configuration.visibilityTimeout)
                        logger.debug("lease renewed")
                    } catch {
                        logger.warning("lease renewal failed", metadata: ["error": "\(error)"])
                    }
                }
            }
            var outcome: Outcome = .willRetry(reason: "no outcome")
            for await result in group {
                if let result {
                    outcome = result
                    group.cancelAll()
                }
            }
            return outcome
        }
    }

    /// SQS attribute values: printable, at most 256 characters.
    static func attributeSafe(_ text: String) -> String {
        let cleaned = String(text.unicodeScalars.map { $0.value < 0x20 ? " " : Character($0) }.prefix(256))
        return cleaned.isEmpty ? "unknown" : cleaned
    }
}

/// Counters of a worker's jobs, readable while it runs.
public final class WorkerStatistics: Sendable {
    public struct Snapshot: Sendable, Hashable, CustomStringConvertible {
        /// Deliveries ``RecognitionWorker/run()`` took from the queue. Once it has returned, every
        /// one of them has an outcome: `received == settled` (jobs passed to
        /// ``RecognitionWorker/process(_:)`` directly are settled without being received).
        public var received = 0
        /// Of those, the deliveries a receive under way when the drain began brought (processed
        /// like the others).
        public var receivedWhileDraining = 0
        public var completed = 0
        public var ignored = 0
        public var failed = 0
        public var retried = 0
        /// Seconds spent in completed jobs.
        public var busySeconds = 0.0
        /// Deliveries with an outcome.
        public var settled: Int { completed + ignored + failed + retried }
        public var description: String {
            "received \(received) (\(receivedWhileDraining) while draining), completed \(completed), ignored \(ignored), failed \(failed), retried \(retried)"
        }
    }

    private let state = LockedValue(Snapshot())

    public init() {}

    public func snapshot() -> Snapshot { state.withLock { $0 } }

    func recordReceived(_ count: Int, whileDraining: Bool) {
        state.withLock { value in
            value.received += count
            if whileDraining { value.receivedWhileDraining += count }
        }
    }

    func record(_ outcome: RecognitionWorker.Outcome, seconds: Double) {
        state.withLock { value in
            switch outcome {
            case .completed: value.completed += 1; value.busySeconds += seconds
            case .ignored: value.ignored += 1
            case .failed: value.failed += 1
            case .willRetry: value.retried += 1
            }
        }
    }
}

/// A value behind a lock, for small shared counters.
final class LockedValue<Value: Sendable>: @unchecked Sendable {
    // @unchecked: `value` is only touched under `lock`.
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

extension Duration {
    /// The duration in fractional seconds.
    var seconds: Double { cpSeconds }
}
