import Foundation

/// An at-least-once work queue with SQS semantics: the seam between the recognition service and
/// SQS (`AWS/`) or the embedded ``SQLiteMessageQueue`` (`Local/`).
///
/// Contract every backend follows (checked by the shared conformance suite):
/// - `receive` hides each returned message for the visibility timeout; if it is not deleted in
///   time it becomes visible again and is redelivered with ``ReceivedMessage/receiveCount``
///   one higher and a **new** receipt handle.
/// - `delete` and `changeVisibility` take the receipt handle of a receive. Deleting with a
///   handle from an *earlier* receive of a message that has since been redelivered succeeds
///   without error, but whether it removes the message is backend-defined (SQS: "might not be
///   deleted"; the SQLite queue: it does not). Callers must not rely on either outcome.
///   Deleting an already-deleted message succeeds. A handle the queue never issued throws
///   ``MessageQueueError/invalidReceiptHandle(_:)``.
/// - When a queue has a dead-letter queue and a receive would raise a message's receive count
///   above `maxReceiveCount`, the message moves to the dead-letter queue instead (as SQS does).
/// - `receive` with a non-zero `waitTime` long-polls: it returns as soon as at least one
///   message is available, or an empty array when the wait is over.
/// - Cancelling a `receive` never loses a message. A backend that can stop waiting without
///   having claimed anything does so at once (the SQLite queue returns what it has, usually
///   nothing); one that cannot tell (SQS: a long poll aborted in flight may already have been
///   handed messages, which would then stay hidden for their visibility timeout) lets the call
///   run to the end of its wait and returns what it received. A caller that no longer wants
///   those messages gives them back with `changeVisibility(receiptHandle:timeout: .zero)`.
///
/// Errors: conditions a caller is expected to handle are ``MessageQueueError``; transport or
/// storage failures may surface as the backend's own error types.
public protocol MessageQueue: Sendable {
    /// Enqueues `body` with string `attributes`; returns the new message's id.
    /// - Throws: ``MessageQueueError/invalidArgument(field:reason:)`` for an empty or oversized
    ///   body (limit ``MessageQueueLimits/maxBodyBytes``) or invalid attribute names.
    func send(_ body: String, attributes: [String: String]) async throws -> String

    /// Receives up to `maxMessages` (1...10) messages, waiting up to `waitTime` (0...20 s) for
    /// the first one. `visibilityTimeout` overrides the queue's default for these messages.
    func receive(maxMessages: Int, waitTime: Duration, visibilityTimeout: Duration?) async throws -> [ReceivedMessage]

    /// Deletes the message received with `receiptHandle` (see the type's contract for stale
    /// handles).
    func delete(receiptHandle: String) async throws

    /// Makes the message received with `receiptHandle` visible again after `timeout` from now
    /// (`.zero`: at once). Used to extend a lease on a long job or to give a job back early.
    /// - Throws: ``MessageQueueError/messageNotInFlight(_:)`` when the handle no longer
    ///   refers to an in-flight receive (message deleted, or redelivered with a newer handle),
    ///   on backends that can tell.
    func changeVisibility(receiptHandle: String, timeout: Duration) async throws

    /// Approximate counts of messages by state (exact for the SQLite queue).
    func depth() async throws -> QueueDepth

    /// The queue's own visibility timeout (what `setup` configured): a receive without
    /// `visibilityTimeout` hides messages for this long. Workers default to it, so that the
    /// queue and its consumers agree on when a lost job comes back.
    func defaultVisibilityTimeout() async throws -> Duration
}

extension MessageQueue {
    /// Enqueues `body` with no attributes.
    @discardableResult
    public func send(_ body: String) async throws -> String {
        try await send(body, attributes: [:])
    }

    /// Receives up to `maxMessages` with the queue's default visibility timeout.
    public func receive(maxMessages: Int = 1, waitTime: Duration = .zero) async throws -> [ReceivedMessage] {
        try await receive(maxMessages: maxMessages, waitTime: waitTime, visibilityTimeout: nil)
    }
}

/// Limits shared by every backend, chosen to match SQS so that code tested against the local
/// queue does not break on AWS.
public enum MessageQueueLimits {
    /// Largest body in UTF-8 bytes (SQS: 256 KiB, attributes included there; the body alone here).
    public static let maxBodyBytes = 262_144
    /// Most messages one receive returns.
    public static let maxMessagesPerReceive = 10
    /// Longest long-poll wait.
    public static let maxWaitTime: Duration = .seconds(20)
    /// Longest visibility timeout (12 hours).
    public static let maxVisibilityTimeout: Duration = .seconds(43_200)
    /// Most attributes on one message.
    public static let maxAttributes = 10

    /// Checks a body and its attributes against SQS's rules, so that every backend rejects the
    /// same mistakes before any I/O: body 1...``maxBodyBytes`` UTF-8 bytes of the characters
    /// SQS accepts (tab, LF, CR, U+0020...U+D7FF, U+E000...U+FFFD, U+10000...U+10FFFF);
    /// at most ``maxAttributes`` attributes; names 1...256 of `A-Z a-z 0-9 - _ .` without a
    /// leading, trailing or doubled `.` and not starting with `AWS.` or `Amazon.`
    /// (case-insensitive); values non-empty, of the same characters as bodies.
    /// - Throws: ``MessageQueueError/invalidArgument(field:reason:)`` naming `body`,
    ///   `attributes` or `attributes["name"]`.
    public static func validate(body: String, attributes: [String: String]) throws(MessageQueueError) {
        let bytes = body.utf8.count
        guard bytes >= 1, bytes <= maxBodyBytes else {
            throw .invalidArgument(field: "body", reason: "\(bytes) UTF-8 bytes is not in 1...\(maxBodyBytes)")
        }
        if let (offset, scalar) = body.unicodeScalars.enumerated().first(where: { !isAllowed($0.element) }) {
            throw .invalidArgument(field: "body", reason: "character U+\(hex(scalar.value)) at offset \(offset) is not allowed by SQS")
        }
        guard attributes.count <= maxAttributes else {
            throw .invalidArgument(field: "attributes", reason: "\(attributes.count) attributes, at most \(maxAttributes)")
        }
        for name in attributes.keys.sorted() {
            let field = "attributes[\(name.debugDescription)]"
            let allowed = name.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || byte == 0x2D || byte == 0x5F || byte == 0x2E
            }
            let lowered = name.lowercased()
            guard (1...256).contains(name.utf8.count), allowed, !name.hasPrefix("."), !name.hasSuffix("."),
                  !name.contains(".."), !lowered.hasPrefix("aws."), !lowered.hasPrefix("amazon.") else {
                throw .invalidArgument(field: field, reason: "name must be 1-256 characters of A-Z a-z 0-9 - _ . without a leading, trailing or doubled '.', and must not start with AWS. or Amazon.")
            }
            let value = attributes[name] ?? ""
            guard !value.isEmpty else {
                throw .invalidArgument(field: field, reason: "value is empty (SQS rejects empty values)")
            }
            if let (offset, scalar) = value.unicodeScalars.enumerated().first(where: { !isAllowed($0.element) }) {
                throw .invalidArgument(field: field, reason: "character U+\(hex(scalar.value)) at offset \(offset) of the value is not allowed by SQS")
            }
        }
    }

    /// Checks `receive` arguments: `maxMessages` in 1...``maxMessagesPerReceive``, `waitTime`
    /// in 0...``maxWaitTime``, `visibilityTimeout` (when given) in 0...``maxVisibilityTimeout``.
    public static func validateReceive(maxMessages: Int, waitTime: Duration, visibilityTimeout: Duration?) throws(MessageQueueError) {
        guard (1...maxMessagesPerReceive).contains(maxMessages) else {
            throw .invalidArgument(field: "maxMessages", reason: "\(maxMessages) is not in 1...\(maxMessagesPerReceive)")
        }
        guard waitTime >= .zero, waitTime <= maxWaitTime else {
            throw .invalidArgument(field: "waitTime", reason: "\(waitTime) is not in 0...\(maxWaitTime)")
        }
        if let visibilityTimeout { try validate(visibilityTimeout: visibilityTimeout, field: "visibilityTimeout") }
    }

    /// Checks a visibility timeout is in 0...``maxVisibilityTimeout``; `field` names it in the error.
    public static func validate(visibilityTimeout: Duration, field: String) throws(MessageQueueError) {
        guard visibilityTimeout >= .zero, visibilityTimeout <= maxVisibilityTimeout else {
            throw .invalidArgument(field: field, reason: "\(visibilityTimeout) is not in 0...\(maxVisibilityTimeout)")
        }
    }

    private static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x9, 0xA, 0xD, 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: return true
        default: return false
        }
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

/// One delivery of a message.
public struct ReceivedMessage: Sendable, Hashable {
    /// The message's id, stable across redeliveries (and across a move to the dead-letter queue).
    public let id: String
    /// The body as sent.
    public let body: String
    /// Identifies *this* delivery; pass it to `delete` or `changeVisibility`.
    public let receiptHandle: String
    /// How many times the message has been received, this delivery included (1 on the first).
    public let receiveCount: Int
    /// The attributes given to `send`.
    public let attributes: [String: String]

    public init(id: String, body: String, receiptHandle: String, receiveCount: Int, attributes: [String: String]) {
        self.id = id
        self.body = body
        self.receiptHandle = receiptHandle
        self.receiveCount = receiveCount
        self.attributes = attributes
    }
}

/// Message counts by state, for monitoring and the auto-scaler.
public struct QueueDepth: Sendable, Hashable, CustomStringConvertible {
    /// Messages that a receive could return now.
    public let visible: Int
    /// Messages received and neither deleted nor timed out.
    public let inFlight: Int
    /// Messages sent with a delay that has not yet passed (0 on backends without delays).
    public let delayed: Int

    public init(visible: Int, inFlight: Int, delayed: Int = 0) {
        self.visible = visible
        self.inFlight = inFlight
        self.delayed = delayed
    }

    /// Everything not yet deleted.
    public var total: Int { visible + inFlight + delayed }

    public var description: String { "visible \(visible), in flight \(inFlight), delayed \(delayed)" }
}

/// Conditions a ``MessageQueue`` caller is expected to handle.
public enum MessageQueueError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The receipt handle was never issued by this queue (malformed or foreign).
    case invalidReceiptHandle(String)
    /// The receipt handle is well formed but its delivery is over: the message was deleted or
    /// has been received again with a newer handle.
    case messageNotInFlight(String)
    /// An argument is out of range; `field` names it (e.g. `"maxMessages"`, `"body"`,
    /// `"attributes[name]"`).
    case invalidArgument(field: String, reason: String)
    /// The named queue does not exist (or its dead-letter queue does not).
    case queueNotFound(String)
    /// The backend failed; `operation` is e.g. `"receive"`, `detail` the underlying cause.
    case backend(operation: String, detail: String)

    public var description: String {
        switch self {
        case .invalidReceiptHandle(let handle):
            return "receipt handle \(handle.debugDescription) was not issued by this queue"
        case .messageNotInFlight(let handle):
            return "receipt handle \(handle.debugDescription) no longer refers to an in-flight message"
        case .invalidArgument(let field, let reason):
            return "invalid \(field): \(reason)"
        case .queueNotFound(let name):
            return "queue \(name.debugDescription) does not exist"
        case .backend(let operation, let detail):
            return "queue \(operation) failed: \(detail)"
        }
    }
}

extension Duration {
    /// The duration in (fractional) seconds.
    var cpSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }

    /// The duration in whole milliseconds, rounded towards zero.
    var cpMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
