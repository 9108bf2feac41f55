import CloudPipeline
import Foundation
import Logging

/// Hands results from the output queue to the requests waiting for them.
///
/// One consumer loop long-polls the output queue; each message carries the input key in its
/// `inputKey` attribute (`RecognitionWorker.OutputAttribute.inputKey`) and resolves the
/// request waiting on that key. The result objects are the durable record, so a message nobody
/// waits for (a request that timed out, an upload from another client) is simply deleted, and a
/// waiter also looks at the output store every ``storePollInterval``: it finds its result even if
/// another consumer took the message.
public actor ResultWaiter {
    /// A result as the worker reported it.
    public struct Result: Sendable, Equatable {
        /// `STEM:NAME`.
        public let line: String
        /// False for error results (`STEM:Error`).
        public let succeeded: Bool
        public let errorReason: String?
    }

    private let output: any MessageQueue
    private let outputStore: any ObjectStore
    private let logger: Logger
    public let storePollInterval: Duration
    /// Long-poll wait of each output-queue receive. A shutdown waits for the poll under way to
    /// end (see `MessageQueue`: an aborted SQS poll could hide results), so at most this long.
    public let receiveWaitTime: Duration
    /// Told of every result read from the output queue, awaited or not (the server passes
    /// ``ServiceMetrics/recordResult(inputKey:result:)``).
    private let onResult: (@Sendable (_ inputKey: String, _ result: Result) -> Void)?
    private var waiters: [String: [UUID: CheckedContinuation<Result?, Never>]] = [:]
    /// Results that arrived before their waiter registered (kept briefly, bounded).
    private var early: [String: Result] = [:]
    private var earlyOrder: [String] = []

    public init(output: any MessageQueue, outputStore: any ObjectStore, storePollInterval: Duration = .seconds(2),
                receiveWaitTime: Duration = .seconds(20), logger: Logger = Logger(label: "facerec.server.results"),
                onResult: (@Sendable (_ inputKey: String, _ result: Result) -> Void)? = nil) {
        self.onResult = onResult
        self.output = output
        self.outputStore = outputStore
        self.storePollInterval = storePollInterval
        self.receiveWaitTime = receiveWaitTime
        self.logger = logger
    }

    /// Consumes the output queue until cancelled.
    public func run() async {
        while !Task.isCancelled {
            let messages: [ReceivedMessage]
            do {
                messages = try await output.receive(maxMessages: 10, waitTime: receiveWaitTime, visibilityTimeout: .seconds(30))
            } catch {
                if Task.isCancelled { break }
                logger.warning("output queue receive failed", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            if Task.isCancelled {
                // Shutting down: another replica's waiter (or this server after a restart)
                // takes these; none of them was handed to a request yet.
                for message in messages {
                    try? await Task { try await output.changeVisibility(receiptHandle: message.receiptHandle, timeout: .zero) }.value
                }
                break
            }
            for message in messages {
                if let key = message.attributes[RecognitionWorker.OutputAttribute.inputKey] {
                    let status = message.attributes[RecognitionWorker.OutputAttribute.status] ?? "ok"
                    let result = Result(line: message.body, succeeded: status == "ok",
                                        errorReason: message.attributes[RecognitionWorker.OutputAttribute.error])
                    onResult?(key, result)
                    deliver(key: key, result: result)
                }
                do {
                    try await output.delete(receiptHandle: message.receiptHandle)
                } catch {
                    logger.warning("output message delete failed", metadata: ["error": "\(error)", "message-id": "\(message.id)"])
                }
            }
        }
    }

    /// Waits for the result of `inputKey` (whose result object is `resultKey`, stem `stem`), at
    /// most `timeout`. Returns nil on timeout.
    public func wait(inputKey: String, resultKey: String, stem: String, timeout: Duration) async -> Result? {
        if let result = early.removeValue(forKey: inputKey) { return result }
        let token = UUID()
        let deadline = ContinuousClock.now + timeout
        // The store poller resolves the waiter if the queue message never comes (it runs on
        // this actor: `Task {}` inherits the isolation).
        let poller = Task { [outputStore, storePollInterval] in
            while ContinuousClock.now < deadline {
                try await Task.sleep(for: min(storePollInterval, deadline - ContinuousClock.now))
                if let data = try? await outputStore.get(key: resultKey) {
                    let text = String(decoding: data, as: UTF8.self)
                    let failed = text.hasPrefix("error: ")
                    self.deliver(key: inputKey, result: Result(
                        line: "\(stem):\(failed ? RecognitionWorker.errorLabel : text)", succeeded: !failed,
                        errorReason: failed ? String(text.dropFirst("error: ".count)) : nil))
                    return
                }
            }
            self.expire(key: inputKey, token: token)
        }
        let result = await withCheckedContinuation { continuation in
            waiters[inputKey, default: [:]][token] = continuation
        }
        poller.cancel()
        return result
    }

    /// Registers interest before the job is enqueued, so a very fast result is not missed.
    public func expect(inputKey: String) {
        if waiters[inputKey] == nil { waiters[inputKey] = [:] }
    }

    /// Drops interest registered by ``expect(inputKey:)`` for a job that was never queued.
    public func forget(inputKey: String) {
        if waiters[inputKey]?.isEmpty == true { waiters.removeValue(forKey: inputKey) }
        early.removeValue(forKey: inputKey)
    }

    private func deliver(key: String, result: Result) {
        if let pending = waiters.removeValue(forKey: key) {
            if pending.isEmpty {
                remember(key: key, result: result)
            }
            for continuation in pending.values { continuation.resume(returning: result) }
        }
    }

    private func remember(key: String, result: Result) {
        early[key] = result
        earlyOrder.append(key)
        if earlyOrder.count > 10_000 {
            early.removeValue(forKey: earlyOrder.removeFirst())
        }
    }

    private func expire(key: String, token: UUID) {
        guard let continuation = waiters[key]?.removeValue(forKey: token) else { return }
        if waiters[key]?.isEmpty == true { waiters.removeValue(forKey: key) }
        continuation.resume(returning: nil)
    }

    /// Requests currently waiting.
    public var waitingCount: Int { waiters.values.reduce(0) { $0 + $1.count } }
}
