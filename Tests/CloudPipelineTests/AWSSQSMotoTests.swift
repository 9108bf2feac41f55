@testable import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Testing

/// SQSClient (AWS JSON 1.0) against a real moto server with SigV4 checking on.
@Suite("AWS SQS on moto")
struct AWSSQSMotoTests {
    func client(_ moto: MotoEnvironment) -> SQSClient { SQSClient(configuration: moto.configuration()) }

    @Test("CreateQueue with a RedrivePolicy; GetQueueUrl; GetQueueAttributes")
    func queues() async throws {
        let moto = try await MotoEnvironment.shared()
        let sqs = client(moto)
        let dlqName = MotoEnvironment.uniqueName("dlq")
        let dlq = try await sqs.createQueue(name: dlqName)
        let dlqArn = try #require(try await sqs.getQueueAttributes(queueUrl: dlq)["QueueArn"])
        let name = MotoEnvironment.uniqueName("jobs")
        let url = try await sqs.createQueue(name: name, attributes: [
            "VisibilityTimeout": "45",
            "RedrivePolicy": SQSRedrivePolicy(deadLetterTargetArn: dlqArn, maxReceiveCount: 3).attributeValue,
        ])
        #expect(url.hasSuffix("/" + name))
        #expect(try await sqs.getQueueUrl(name: name) == url)
        let attributes = try await sqs.getQueueAttributes(queueUrl: url)
        #expect(attributes["VisibilityTimeout"] == "45")
        let redrive = try JSONSerialization.jsonObject(with: Data(try #require(attributes["RedrivePolicy"]).utf8)) as? [String: Any]
        #expect(redrive?["deadLetterTargetArn"] as? String == dlqArn)
        #expect("\(redrive?["maxReceiveCount"] ?? "")" == "3")
        do {
            _ = try await sqs.getQueueUrl(name: MotoEnvironment.uniqueName("absent"))
            Issue.record("GetQueueUrl of a missing queue must fail")
        } catch let error as AWSServiceError {
            #expect(error.statusCode == 400)
            #expect(["QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"].contains(error.code))
        }
    }

    @Test("long polls wait side by side and hold up no other request: 8 receives of 20 s end together; a send meanwhile answers at once")
    func longPollsDoNotBlockOtherRequests() async throws {
        let moto = try await MotoEnvironment.shared()
        let sqs = client(moto)
        let idle = try await sqs.createQueue(name: MotoEnvironment.uniqueName("idle"))
        let busy = try await sqs.createQueue(name: MotoEnvironment.uniqueName("busy"))
        let pollsStarted = ContinuousClock.now
        let finishedPolls = PollCounter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {  // a worker's receive loops, more than this machine's cores
                group.addTask {
                    // SQS's longest wait: the send below has 19.5 s to be answered, so a loaded
                    // machine (the whole suite at once, load ~11 on 2 cores) cannot make the
                    // ordering look wrong, as a 6 s wait once did.
                    _ = try await sqs.receiveMessage(queueUrl: idle, maxMessages: 1, waitTimeSeconds: 20)
                    finishedPolls.increment()
                }
            }
            try await Task.sleep(for: .milliseconds(500))
            _ = try await sqs.sendMessage(queueUrl: busy, body: "not queued behind the polls")
            // Ordering, not speed: the send was answered while every poll was still waiting.
            #expect(finishedPolls.value == 0, "the send waited for a long poll to end")
            try await group.waitForAll()
        }
        // One after another (a pool of a few threads) they would take 8 × 20 = 160 s; two at a
        // time 80 s; side by side about 20 s. The bound between leaves a loaded machine 40 s of slack.
        #expect(ContinuousClock.now - pollsStarted < .seconds(60), "the long polls did not wait side by side")
    }

    @Test("SendMessage with attributes; ReceiveMessage with attribute names; DeleteMessage")
    func sendReceiveDelete() async throws {
        let moto = try await MotoEnvironment.shared()
        let sqs = client(moto)
        let url = try await sqs.createQueue(name: MotoEnvironment.uniqueName("msgs"))
        let body = #"{"key":"uploads/é 1.jpg"}"# + "\nline 2 🙂"
        let sent = try await sqs.sendMessage(queueUrl: url, body: body, attributes: [
            "kind": SQSMessageAttribute(string: "recognise"), "attempt": SQSMessageAttribute(number: "2"),
            "blob": SQSMessageAttribute(binary: Data([0, 1, 2, 255])),
        ])
        let messages = try await sqs.receiveMessage(queueUrl: url, maxMessages: 10, waitTimeSeconds: 2,
                                                    attributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
                                                    messageAttributeNames: ["All"])
        let message = try #require(messages.first)
        #expect(messages.count == 1)
        #expect(message.messageId == sent.messageId)
        #expect(message.body == body)
        #expect(message.approximateReceiveCount == 1)
        #expect(message.attributes["SentTimestamp"] != nil)
        #expect(message.messageAttributes["kind"] == SQSMessageAttribute(string: "recognise"))
        #expect(message.messageAttributes["attempt"] == SQSMessageAttribute(number: "2"))
        #expect(message.messageAttributes["blob"] == SQSMessageAttribute(binary: Data([0, 1, 2, 255])))
        try await sqs.deleteMessage(queueUrl: url, receiptHandle: message.receiptHandle)
        #expect(try await sqs.receiveMessage(queueUrl: url, waitTimeSeconds: 1).isEmpty)
        let depth = try await sqs.getQueueAttributes(queueUrl: url, names: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
        #expect(depth["ApproximateNumberOfMessages"] == "0" && depth["ApproximateNumberOfMessagesNotVisible"] == "0")
    }

    @Test("SendMessageBatch and DeleteMessageBatch of 10; receive returns at most 10")
    func batches() async throws {
        let moto = try await MotoEnvironment.shared()
        let sqs = client(moto)
        let url = try await sqs.createQueue(name: MotoEnvironment.uniqueName("batch"))
        let entries = (0..<10).map { SQSBatchMessage(id: "e\($0)", body: "job \($0)", attributes: ["n": SQSMessageAttribute(number: "\($0)")]) }
        let sent = try await sqs.sendMessageBatch(queueUrl: url, entries: entries)
        #expect(sent.failed.isEmpty)
        #expect(Set(sent.successful.keys) == Set(entries.map(\.id)))
        var received: [SQSMessage] = []
        for _ in 0..<5 where received.count < 10 {
            let batch = try await sqs.receiveMessage(queueUrl: url, maxMessages: 10, waitTimeSeconds: 1, visibilityTimeout: 60)
            #expect(batch.count <= 10)
            received += batch
        }
        #expect(Set(received.map(\.messageId)) == Set(sent.successful.values))
        #expect(Set(received.map(\.body)) == Set(entries.map(\.body)))
        let deleted = try await sqs.deleteMessageBatch(queueUrl: url, entries: received.enumerated().map { ("d\($0.offset)", $0.element.receiptHandle) })
        #expect(deleted.failed.isEmpty && deleted.successful.count == 10)
        #expect(try await sqs.getQueueAttributes(queueUrl: url, names: ["ApproximateNumberOfMessagesNotVisible"])["ApproximateNumberOfMessagesNotVisible"] == "0")
        await #expect(throws: AWSClientError.self) { _ = try await sqs.sendMessageBatch(queueUrl: url, entries: []) }
    }

    @Test("VisibilityTimeout hides a message; ChangeMessageVisibility(0) releases it; receive count grows")
    func visibility() async throws {
        let moto = try await MotoEnvironment.shared()
        let sqs = client(moto)
        let url = try await sqs.createQueue(name: MotoEnvironment.uniqueName("vis"))
        _ = try await sqs.sendMessage(queueUrl: url, body: "lease")
        let first = try #require(try await sqs.receiveMessage(queueUrl: url, waitTimeSeconds: 2, visibilityTimeout: 60).first)
        #expect(try await sqs.receiveMessage(queueUrl: url).isEmpty)
        try await sqs.changeMessageVisibility(queueUrl: url, receiptHandle: first.receiptHandle, visibilityTimeout: 0)
        let second = try #require(try await sqs.receiveMessage(queueUrl: url, waitTimeSeconds: 2, visibilityTimeout: 60).first)
        #expect(second.messageId == first.messageId)
        #expect(second.approximateReceiveCount == 2)
        #expect(second.receiptHandle != first.receiptHandle)
    }

    @Test("RedrivePolicy moves a message to the dead-letter queue after maxReceiveCount")
    func deadLetter() async throws {
        let moto = try await MotoEnvironment.shared()
        let sqs = client(moto)
        let dlq = try await sqs.createQueue(name: MotoEnvironment.uniqueName("dead"))
        let dlqArn = try #require(try await sqs.getQueueAttributes(queueUrl: dlq, names: ["QueueArn"])["QueueArn"])
        let url = try await sqs.createQueue(name: MotoEnvironment.uniqueName("live"), attributes: [
            "RedrivePolicy": SQSRedrivePolicy(deadLetterTargetArn: dlqArn, maxReceiveCount: 2).attributeValue,
        ])
        let sent = try await sqs.sendMessage(queueUrl: url, body: "poison")
        for _ in 0..<2 {
            let message = try #require(try await sqs.receiveMessage(queueUrl: url, waitTimeSeconds: 2, visibilityTimeout: 30).first)
            try await sqs.changeMessageVisibility(queueUrl: url, receiptHandle: message.receiptHandle, visibilityTimeout: 0)
        }
        #expect(try await sqs.receiveMessage(queueUrl: url, waitTimeSeconds: 1).isEmpty)
        let dead = try #require(try await sqs.receiveMessage(queueUrl: dlq, waitTimeSeconds: 2).first)
        #expect(dead.messageId == sent.messageId)
        #expect(dead.body == "poison")
    }

    @Test("long polling returns when a message arrives during the wait")
    func longPoll() async throws {
        let moto = try await MotoEnvironment.shared()
        let sqs = client(moto)
        let url = try await sqs.createQueue(name: MotoEnvironment.uniqueName("poll"))
        async let received = sqs.receiveMessage(queueUrl: url, waitTimeSeconds: 10)
        try await Task.sleep(for: .seconds(1))
        _ = try await sqs.sendMessage(queueUrl: url, body: "late")
        #expect(try await received.map(\.body) == ["late"])
    }

    @Test("messages sent by us are received by boto3 and vice versa")
    func interoperability() async throws {
        let moto = try await MotoEnvironment.shared()
        let sqs = client(moto)
        let url = try await sqs.createQueue(name: MotoEnvironment.uniqueName("interop"))
        _ = try await sqs.sendMessage(queueUrl: url, body: "from swift ✓", attributes: ["origin": SQSMessageAttribute(string: "swift")])
        let seen = try await Boto3.json("""
            sqs = client("sqs")
            r = sqs.receive_message(QueueUrl=sys.argv[1], WaitTimeSeconds=2, MessageAttributeNames=["All"])
            m = r["Messages"][0]
            sqs.delete_message(QueueUrl=sys.argv[1], ReceiptHandle=m["ReceiptHandle"])
            sqs.send_message(QueueUrl=sys.argv[1], MessageBody="from boto3 ✓", MessageAttributes={"origin": {"DataType": "String", "StringValue": "boto3"}})
            print(json.dumps({"body": m["Body"], "origin": m["MessageAttributes"]["origin"]["StringValue"]}))
            """, [url], moto: moto) as? [String: String]
        #expect(seen == ["body": "from swift ✓", "origin": "swift"])
        let reply = try #require(try await sqs.receiveMessage(queueUrl: url, waitTimeSeconds: 2).first)
        #expect(reply.body == "from boto3 ✓")
        #expect(reply.messageAttributes["origin"]?.stringValue == "boto3")
    }

    @Test("a wrong secret is rejected with 403 and the XML error code")
    func authentication() async throws {
        let moto = try await MotoEnvironment.shared()
        let bad = SQSClient(configuration: moto.configuration(
            credentials: AWSCredentials(accessKeyId: moto.accessKeyId, secretAccessKey: "not-the-secret")))
        do {
            _ = try await bad.createQueue(name: MotoEnvironment.uniqueName("denied"))
            Issue.record("a wrong secret must be rejected")
        } catch let error as AWSServiceError {
            #expect(error.service == "sqs" && error.statusCode == 403 && error.code == "SignatureDoesNotMatch")
        }
    }
}

/// Counts finished polls across the task group's tasks.
private final class PollCounter: @unchecked Sendable {
    // @unchecked: `count` is only touched under `lock`.
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
