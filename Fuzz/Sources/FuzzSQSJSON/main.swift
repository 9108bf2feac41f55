import CloudPipeline
import Foundation
import FuzzAWSSupport
import FuzzDriver

// SQS's AWS JSON 1.0 answers through the public client: ReceiveMessage (messages, MD5 check,
// attributes, base64 binary attributes), Send/SendBatch/DeleteBatch results, CreateQueue,
// GetQueueAttributes; non-2xx statuses go through AWSServiceError's `__type`/XML reading.
runFuzzer { start, count in
    let data = fuzzData(start, count)
    let input = FuzzedResponse(data)
    let client = SQSClient(configuration: fuzzConfiguration(CannedTransport(input.response)))
    let queue = "http://127.0.0.1:5000/123456789012/jobs"
    blockOn {
        switch input.selector % 7 {
        case 0: _ = try await client.receiveMessage(queueUrl: queue, maxMessages: 10)
        case 1: _ = try await client.sendMessage(queueUrl: queue, body: "hello")
        case 2: _ = try await client.sendMessageBatch(queueUrl: queue, entries: [SQSBatchMessage(id: "0", body: "a")])
        case 3: _ = try await client.deleteMessageBatch(queueUrl: queue, entries: [(id: "0", receiptHandle: "r")])
        case 4: _ = try await client.createQueue(name: "jobs")
        case 5: _ = try await client.getQueueAttributes(queueUrl: queue)
        default: _ = try await client.getQueueUrl(name: "jobs")
        }
    }
    return 0
}
