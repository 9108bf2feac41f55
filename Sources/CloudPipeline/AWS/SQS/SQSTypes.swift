import Foundation

/// A message attribute value (`String`, `Number` or `Binary` data types).
public struct SQSMessageAttribute: Sendable, Hashable {
    /// `String`, `Number`, `Binary`, optionally with a custom suffix (`String.json`).
    public var dataType: String
    public var stringValue: String?
    public var binaryValue: Data?

    public init(string: String) {
        dataType = "String"
        stringValue = string
        binaryValue = nil
    }

    public init(number: String) {
        dataType = "Number"
        stringValue = number
        binaryValue = nil
    }

    public init(binary: Data) {
        dataType = "Binary"
        stringValue = nil
        binaryValue = binary
    }

    init(dataType: String, stringValue: String?, binaryValue: Data?) {
        self.dataType = dataType
        self.stringValue = stringValue
        self.binaryValue = binaryValue
    }
}

/// One message from ReceiveMessage.
public struct SQSMessage: Sendable, Hashable {
    public let messageId: String
    public let receiptHandle: String
    public let body: String
    /// System attributes asked for (`ApproximateReceiveCount`, `SentTimestamp`, ...).
    public let attributes: [String: String]
    public let messageAttributes: [String: SQSMessageAttribute]

    /// `ApproximateReceiveCount` as a number, when it was requested.
    public var approximateReceiveCount: Int? { attributes["ApproximateReceiveCount"].flatMap { Int($0) } }
}

/// What SendMessage returns.
public struct SQSSendResult: Sendable, Hashable {
    public let messageId: String
    public let md5OfMessageBody: String?
}

/// One entry of SendMessageBatch.
public struct SQSBatchMessage: Sendable, Hashable {
    /// Unique within the batch; echoed in the result.
    public var id: String
    public var body: String
    public var attributes: [String: SQSMessageAttribute]
    public var delaySeconds: Int?

    public init(id: String, body: String, attributes: [String: SQSMessageAttribute] = [:], delaySeconds: Int? = nil) {
        self.id = id
        self.body = body
        self.attributes = attributes
        self.delaySeconds = delaySeconds
    }
}

/// A failed entry of a batch call.
public struct SQSBatchFailure: Sendable, Hashable {
    public let id: String
    public let code: String
    public let message: String?
    public let senderFault: Bool
}

/// What a batch call returns: ids that worked (with message ids for sends) and failures.
public struct SQSBatchResult: Sendable, Hashable {
    /// Entry id → message id (SendMessageBatch) or entry id → entry id (DeleteMessageBatch).
    public let successful: [String: String]
    public let failed: [SQSBatchFailure]
}

/// The dead-letter redrive of a queue.
public struct SQSRedrivePolicy: Sendable, Hashable {
    public var deadLetterTargetArn: String
    public var maxReceiveCount: Int

    public init(deadLetterTargetArn: String, maxReceiveCount: Int) {
        self.deadLetterTargetArn = deadLetterTargetArn
        self.maxReceiveCount = maxReceiveCount
    }

    /// The JSON text SQS expects in the `RedrivePolicy` attribute.
    public var attributeValue: String {
        let object: [String: Any] = ["deadLetterTargetArn": deadLetterTargetArn, "maxReceiveCount": String(maxReceiveCount)]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
