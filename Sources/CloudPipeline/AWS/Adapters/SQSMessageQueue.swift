import Foundation

/// ``MessageQueue`` on one SQS queue.
///
/// Arguments are checked against ``MessageQueueLimits`` before any request so that the same
/// mistakes fail the same way as on the local queue. Message attributes travel as SQS
/// `String` attributes. Waits are whole seconds on SQS: a fractional `waitTime` or
/// `visibilityTimeout` is rounded up.
public struct SQSMessageQueue: MessageQueue {
    public let client: SQSClient
    public let queueUrl: String

    public init(client: SQSClient, queueUrl: String) {
        self.client = client
        self.queueUrl = queueUrl
    }

    public func send(_ body: String, attributes: [String: String]) async throws -> String {
        if body.isEmpty { throw MessageQueueError.invalidArgument(field: "body", reason: "is empty") }
        let bytes = body.utf8.count
        if bytes > MessageQueueLimits.maxBodyBytes {
            throw MessageQueueError.invalidArgument(field: "body", reason: "\(bytes) bytes, more than \(MessageQueueLimits.maxBodyBytes)")
        }
        if let offset = Self.firstInvalidCharacter(body) {
            throw MessageQueueError.invalidArgument(field: "body", reason: "character at offset \(offset) is not allowed in SQS messages")
        }
        if attributes.count > MessageQueueLimits.maxAttributes {
            throw MessageQueueError.invalidArgument(field: "attributes", reason: "\(attributes.count) attributes, more than \(MessageQueueLimits.maxAttributes)")
        }
        for name in attributes.keys.sorted() {
            if let reason = Self.invalidAttributeName(name) {
                throw MessageQueueError.invalidArgument(field: "attributes[\(name)]", reason: reason)
            }
            let value = attributes[name] ?? ""
            if value.isEmpty {
                throw MessageQueueError.invalidArgument(field: "attributes[\(name)]", reason: "value is empty (SQS requires one)")
            }
            if let offset = Self.firstInvalidCharacter(value) {
                throw MessageQueueError.invalidArgument(field: "attributes[\(name)]", reason: "character at offset \(offset) is not allowed")
            }
        }
        return try await map("send") {
            try await client.sendMessage(queueUrl: queueUrl, body: body,
                                         attributes: attributes.mapValues { SQSMessageAttribute(string: $0) }).messageId
        }
    }

    public func receive(maxMessages: Int, waitTime: Duration, visibilityTimeout: Duration?) async throws -> [ReceivedMessage] {
        guard (1...MessageQueueLimits.maxMessagesPerReceive).contains(maxMessages) else {
            throw MessageQueueError.invalidArgument(field: "maxMessages", reason: "\(maxMessages) is outside 1...\(MessageQueueLimits.maxMessagesPerReceive)")
        }
        guard waitTime >= .zero, waitTime <= MessageQueueLimits.maxWaitTime else {
            throw MessageQueueError.invalidArgument(field: "waitTime", reason: "\(waitTime) is outside 0...20 s")
        }
        if let visibilityTimeout, visibilityTimeout < .zero || visibilityTimeout > MessageQueueLimits.maxVisibilityTimeout {
            throw MessageQueueError.invalidArgument(field: "visibilityTimeout", reason: "\(visibilityTimeout) is outside 0...43200 s")
        }
        // Not interrupted by cancellation: SQS may already have handed messages to a long poll,
        // and an aborted request would leave them hidden for their whole visibility timeout
        // (the SDKs lose them the same way). The call runs to the end of its wait in a task that
        // does not inherit cancellation and returns what SQS returned; the caller decides what
        // to do with messages it no longer wants (a draining worker gives them back).
        let (client, queueUrl) = (self.client, self.queueUrl)
        let messages = try await Task {
            try await Self.map("receive", queueUrl: queueUrl) {
                try await client.receiveMessage(queueUrl: queueUrl, maxMessages: maxMessages,
                                                waitTimeSeconds: Self.wholeSeconds(waitTime),
                                                visibilityTimeout: visibilityTimeout.map(Self.wholeSeconds),
                                                attributeNames: ["ApproximateReceiveCount"], messageAttributeNames: ["All"])
            }
        }.value
        return messages.map { message in
            ReceivedMessage(id: message.messageId, body: message.body, receiptHandle: message.receiptHandle,
                            receiveCount: message.approximateReceiveCount ?? 1,
                            attributes: message.messageAttributes.compactMapValues(\.stringValue))
        }
    }

    public func delete(receiptHandle: String) async throws {
        try await map("delete", handle: receiptHandle) { try await client.deleteMessage(queueUrl: queueUrl, receiptHandle: receiptHandle) }
    }

    public func changeVisibility(receiptHandle: String, timeout: Duration) async throws {
        guard timeout >= .zero, timeout <= MessageQueueLimits.maxVisibilityTimeout else {
            throw MessageQueueError.invalidArgument(field: "timeout", reason: "\(timeout) is outside 0...43200 s")
        }
        try await map("changeVisibility", handle: receiptHandle) {
            try await client.changeMessageVisibility(queueUrl: queueUrl, receiptHandle: receiptHandle,
                                                     visibilityTimeout: Self.wholeSeconds(timeout))
        }
    }

    public func defaultVisibilityTimeout() async throws -> Duration {
        let attributes = try await map("defaultVisibilityTimeout") {
            try await client.getQueueAttributes(queueUrl: queueUrl, names: ["VisibilityTimeout"])
        }
        guard let seconds = attributes["VisibilityTimeout"].flatMap({ Int($0) }) else {
            throw MessageQueueError.backend(operation: "defaultVisibilityTimeout", detail: "GetQueueAttributes returned no VisibilityTimeout for \(queueUrl)")
        }
        return .seconds(seconds)
    }

    public func depth() async throws -> QueueDepth {
        let attributes = try await map("depth") {
            try await client.getQueueAttributes(queueUrl: queueUrl, names: [
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed",
            ])
        }
        func count(_ name: String) -> Int { attributes[name].flatMap { Int($0) } ?? 0 }
        return QueueDepth(visible: count("ApproximateNumberOfMessages"), inFlight: count("ApproximateNumberOfMessagesNotVisible"),
                          delayed: count("ApproximateNumberOfMessagesDelayed"))
    }

    /// The scalar offset of the first character SQS refuses (it allows `#x9 #xA #xD`,
    /// `#x20-#xD7FF`, `#xE000-#xFFFD`, `#x10000-#x10FFFF`), or `nil`.
    static func firstInvalidCharacter(_ text: String) -> Int? {
        for (offset, scalar) in text.unicodeScalars.enumerated() {
            let v = scalar.value
            let allowed = v == 0x9 || v == 0xA || v == 0xD || (0x20...0xD7FF).contains(v)
                || (0xE000...0xFFFD).contains(v) || v >= 0x10000
            if !allowed { return offset }
        }
        return nil
    }

    static func wholeSeconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) + (attoseconds > 0 ? 1 : 0)
    }

    /// SQS's attribute-name rules: 1...256 of `A-Z a-z 0-9 _ - .`, no leading/trailing or
    /// doubled `.`, no `AWS.`/`Amazon.` prefix.
    static func invalidAttributeName(_ name: String) -> String? {
        if name.isEmpty || name.utf8.count > 256 { return "name must be 1...256 characters" }
        if !name.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_-.".unicodeScalars.contains($0)) }) {
            return "name may only contain A-Z, a-z, 0-9, '_', '-' and '.'"
        }
        if name.hasPrefix(".") || name.hasSuffix(".") || name.contains("..") { return "name has a leading, trailing or doubled '.'" }
        let lower = name.lowercased()
        if lower.hasPrefix("aws.") || lower.hasPrefix("amazon.") { return "names starting with AWS. or Amazon. are reserved" }
        return nil
    }

    private func map<T>(_ operation: String, handle: String? = nil, _ body: () async throws -> T) async throws -> T {
        try await Self.map(operation, queueUrl: queueUrl, handle: handle, body)
    }

    private static func map<T>(_ operation: String, queueUrl: String, handle: String? = nil,
                               _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as AWSServiceError {
            switch error.code {
            case "ReceiptHandleIsInvalid", "AWS.SimpleQueueService.ReceiptHandleIsInvalid":
                throw MessageQueueError.invalidReceiptHandle(handle ?? "")
            case "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight":
                throw MessageQueueError.messageNotInFlight(handle ?? "")
            case "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue":
                throw MessageQueueError.queueNotFound(queueUrl)
            default:
                throw MessageQueueError.backend(operation: operation, detail: error.description)
            }
        } catch let error as AWSClientError {
            throw MessageQueueError.backend(operation: operation, detail: error.description)
        }
    }
}
