import Crypto
import Foundation

/// A small SQS client on the AWS JSON 1.0 protocol (`X-Amz-Target: AmazonSQS.<Op>`).
///
/// Retries: ReceiveMessage, DeleteMessage(Batch), ChangeMessageVisibility, GetQueueUrl,
/// GetQueueAttributes and CreateQueue (same name + attributes returns the same queue) are
/// retried. SendMessage and SendMessageBatch are **not**: if a response is lost after SQS
/// stored the message, a retry would enqueue it twice, and the pipeline prefers a visible
/// error to a silent duplicate job.
///
/// Errors come back as ``AWSServiceError``; both JSON (`__type`) and XML bodies are read,
/// because moto answers SQS errors in XML whatever the request protocol.
public struct SQSClient: Sendable {
    let core: AWSServiceCore

    public init(configuration: AWSClientConfiguration) {
        core = AWSServiceCore(service: "sqs", configuration: configuration)
    }

    /// Creates (or returns the existing) queue `name` with `attributes` (`VisibilityTimeout`,
    /// `RedrivePolicy` — see ``SQSRedrivePolicy/attributeValue`` — ...). Returns its URL.
    public func createQueue(name: String, attributes: [String: String] = [:]) async throws -> String {
        var body: [String: Any] = ["QueueName": name]
        if !attributes.isEmpty { body["Attributes"] = attributes }
        let json = try await call("CreateQueue", body, idempotent: true)
        return try string(json, "QueueUrl", operation: "CreateQueue")
    }

    /// Deletes the queue and its messages.
    public func deleteQueue(queueUrl: String) async throws {
        _ = try await call("DeleteQueue", ["QueueUrl": queueUrl], idempotent: true)
    }

    /// The URL of queue `name`.
    public func getQueueUrl(name: String) async throws -> String {
        let json = try await call("GetQueueUrl", ["QueueName": name], idempotent: true)
        return try string(json, "QueueUrl", operation: "GetQueueUrl")
    }

    /// Queue attributes (`All` by default): `QueueArn`, `ApproximateNumberOfMessages`, ...
    public func getQueueAttributes(queueUrl: String, names: [String] = ["All"]) async throws -> [String: String] {
        let json = try await call("GetQueueAttributes", ["QueueUrl": queueUrl, "AttributeNames": names], idempotent: true)
        return (json["Attributes"] as? [String: String]) ?? [:]
    }

    /// Sets queue attributes (`VisibilityTimeout`, `RedrivePolicy`, `Policy`, ...).
    public func setQueueAttributes(queueUrl: String, attributes: [String: String]) async throws {
        _ = try await call("SetQueueAttributes", ["QueueUrl": queueUrl, "Attributes": attributes], idempotent: true)
    }

    /// Sends one message; checks the MD5 SQS reports against the body sent.
    public func sendMessage(queueUrl: String, body: String, attributes: [String: SQSMessageAttribute] = [:],
                            delaySeconds: Int? = nil) async throws -> SQSSendResult {
        var request: [String: Any] = ["QueueUrl": queueUrl, "MessageBody": body]
        if !attributes.isEmpty { request["MessageAttributes"] = Self.encode(attributes) }
        if let delaySeconds { request["DelaySeconds"] = delaySeconds }
        let json = try await call("SendMessage", request, idempotent: false)
        let id = try string(json, "MessageId", operation: "SendMessage")
        let md5 = json["MD5OfMessageBody"] as? String
        if let md5, md5 != Self.md5Hex(body) {
            throw AWSClientError.invalidResponse(service: "sqs", operation: "SendMessage",
                                                 detail: "MD5OfMessageBody \(md5) does not match the body sent")
        }
        return SQSSendResult(messageId: id, md5OfMessageBody: md5)
    }

    /// Sends up to 10 messages in one call.
    public func sendMessageBatch(queueUrl: String, entries: [SQSBatchMessage]) async throws -> SQSBatchResult {
        guard (1...10).contains(entries.count) else {
            throw AWSClientError.invalidArgument(operation: "SendMessageBatch", field: "entries", reason: "\(entries.count) entries (must be 1...10)")
        }
        let list: [[String: Any]] = entries.map { entry in
            var item: [String: Any] = ["Id": entry.id, "MessageBody": entry.body]
            if !entry.attributes.isEmpty { item["MessageAttributes"] = Self.encode(entry.attributes) }
            if let delay = entry.delaySeconds { item["DelaySeconds"] = delay }
            return item
        }
        let json = try await call("SendMessageBatch", ["QueueUrl": queueUrl, "Entries": list], idempotent: false)
        return Self.batchResult(json, valueKey: "MessageId")
    }

    /// Receives up to `maxMessages` (1...10), long-polling up to `waitTimeSeconds` (0...20).
    /// `attributeNames` are system attributes (`ApproximateReceiveCount`, `All`, ...);
    /// `messageAttributeNames` selects message attributes (`All` by default). Each body is
    /// checked against its `MD5OfBody`.
    public func receiveMessage(queueUrl: String, maxMessages: Int = 1, waitTimeSeconds: Int? = nil,
                               visibilityTimeout: Int? = nil, attributeNames: [String] = ["All"],
                               messageAttributeNames: [String] = ["All"]) async throws -> [SQSMessage] {
        guard (1...10).contains(maxMessages) else {
            throw AWSClientError.invalidArgument(operation: "ReceiveMessage", field: "maxMessages", reason: "\(maxMessages) (must be 1...10)")
        }
        if let waitTimeSeconds, !(0...20).contains(waitTimeSeconds) {
            throw AWSClientError.invalidArgument(operation: "ReceiveMessage", field: "waitTimeSeconds", reason: "\(waitTimeSeconds) (must be 0...20)")
        }
        var request: [String: Any] = ["QueueUrl": queueUrl, "MaxNumberOfMessages": maxMessages,
                                      "AttributeNames": attributeNames, "MessageAttributeNames": messageAttributeNames]
        if let waitTimeSeconds { request["WaitTimeSeconds"] = waitTimeSeconds }
        if let visibilityTimeout { request["VisibilityTimeout"] = visibilityTimeout }
        let json = try await call("ReceiveMessage", request, idempotent: true,
                                  extraTimeout: .seconds(waitTimeSeconds ?? 0))
        let messages = (json["Messages"] as? [[String: Any]]) ?? []
        return try messages.map { item in
            guard let id = item["MessageId"] as? String, let handle = item["ReceiptHandle"] as? String,
                  let body = item["Body"] as? String else {
                throw AWSClientError.invalidResponse(service: "sqs", operation: "ReceiveMessage",
                                                     detail: "a message lacks MessageId, ReceiptHandle or Body")
            }
            if let md5 = item["MD5OfBody"] as? String, md5 != Self.md5Hex(body) {
                throw AWSClientError.invalidResponse(service: "sqs", operation: "ReceiveMessage",
                                                     detail: "MD5OfBody of message \(id) does not match its body")
            }
            var attributes: [String: SQSMessageAttribute] = [:]
            for (name, value) in (item["MessageAttributes"] as? [String: [String: Any]]) ?? [:] {
                attributes[name] = SQSMessageAttribute(
                    dataType: value["DataType"] as? String ?? "String", stringValue: value["StringValue"] as? String,
                    binaryValue: (value["BinaryValue"] as? String).flatMap { Data(base64Encoded: $0) })
            }
            return SQSMessage(messageId: id, receiptHandle: handle, body: body,
                              attributes: (item["Attributes"] as? [String: String]) ?? [:], messageAttributes: attributes)
        }
    }

    /// Deletes the message received with `receiptHandle`.
    public func deleteMessage(queueUrl: String, receiptHandle: String) async throws {
        _ = try await call("DeleteMessage", ["QueueUrl": queueUrl, "ReceiptHandle": receiptHandle], idempotent: true)
    }

    /// Deletes up to 10 messages: `entries` maps an entry id to a receipt handle.
    public func deleteMessageBatch(queueUrl: String, entries: [(id: String, receiptHandle: String)]) async throws -> SQSBatchResult {
        guard (1...10).contains(entries.count) else {
            throw AWSClientError.invalidArgument(operation: "DeleteMessageBatch", field: "entries", reason: "\(entries.count) entries (must be 1...10)")
        }
        let list = entries.map { ["Id": $0.id, "ReceiptHandle": $0.receiptHandle] }
        let json = try await call("DeleteMessageBatch", ["QueueUrl": queueUrl, "Entries": list], idempotent: true)
        return Self.batchResult(json, valueKey: "Id")
    }

    /// Makes the message visible again `visibilityTimeout` seconds from now (0: at once).
    public func changeMessageVisibility(queueUrl: String, receiptHandle: String, visibilityTimeout: Int) async throws {
        _ = try await call("ChangeMessageVisibility",
                           ["QueueUrl": queueUrl, "ReceiptHandle": receiptHandle, "VisibilityTimeout": visibilityTimeout],
                           idempotent: true)
    }

    // MARK: Protocol

    private func call(_ operation: String, _ body: [String: Any], idempotent: Bool,
                      extraTimeout: Duration = .zero) async throws -> [String: Any] {
        let data: Data
        do {
            data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        } catch {
            throw AWSClientError.invalidArgument(operation: operation, field: "request", reason: "not JSON-serialisable")
        }
        let request = AWSHTTPRequest(method: "POST", endpoint: core.endpoint, path: "/", headers: [
            AWSHTTPHeader("Content-Type", "application/x-amz-json-1.0"),
            AWSHTTPHeader("X-Amz-Target", "AmazonSQS.\(operation)"),
        ], body: data)
        let response = try await core.execute(request, operation: operation, idempotent: idempotent, extraTimeout: extraTimeout)
        if response.body.isEmpty { return [:] }
        guard let json = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any] else {
            throw AWSClientError.invalidResponse(service: "sqs", operation: operation, detail: "body is not a JSON object")
        }
        return json
    }

    private func string(_ json: [String: Any], _ key: String, operation: String) throws -> String {
        guard let value = json[key] as? String else {
            throw AWSClientError.invalidResponse(service: "sqs", operation: operation, detail: "\(key) is missing")
        }
        return value
    }

    static func encode(_ attributes: [String: SQSMessageAttribute]) -> [String: [String: String]] {
        attributes.mapValues { value in
            var item = ["DataType": value.dataType]
            if let string = value.stringValue { item["StringValue"] = string }
            if let binary = value.binaryValue { item["BinaryValue"] = binary.base64EncodedString() }
            return item
        }
    }

    static func batchResult(_ json: [String: Any], valueKey: String) -> SQSBatchResult {
        var successful: [String: String] = [:]
        for entry in (json["Successful"] as? [[String: Any]]) ?? [] {
            if let id = entry["Id"] as? String { successful[id] = entry[valueKey] as? String ?? id }
        }
        let failed = ((json["Failed"] as? [[String: Any]]) ?? []).map { entry in
            SQSBatchFailure(id: entry["Id"] as? String ?? "", code: entry["Code"] as? String ?? "",
                            message: entry["Message"] as? String, senderFault: entry["SenderFault"] as? Bool ?? false)
        }
        return SQSBatchResult(successful: successful, failed: failed)
    }

    static func md5Hex(_ text: String) -> String {
        SigV4Signer.hex(Insecure.MD5.hash(data: Data(text.utf8)))
    }
}
