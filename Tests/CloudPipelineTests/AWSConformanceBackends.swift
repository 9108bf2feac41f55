@testable import CloudPipeline
import CloudPipelineTestSupport
import Foundation

// moto-backed entries for the shared conformance suites (`Conformance/Backends.swift` lists
// them in `QueueBackends.all` / `StoreBackends.all`).

extension QueueBackend {
    /// A fresh SQS queue (and dead-letter queue) on the authenticating moto server.
    static let sqsMoto = QueueBackend(name: "SQSMessageQueue (moto)") { spec in
        let moto = try await MotoEnvironment.shared()
        let client = SQSClient(configuration: moto.configuration())
        let seconds = SQSMessageQueue.wholeSeconds(spec.visibilityTimeout)
        var attributes = ["VisibilityTimeout": String(seconds)]
        var deadLetterURL: String?
        if let maxReceiveCount = spec.maxReceiveCount {
            let url = try await client.createQueue(name: MotoEnvironment.uniqueName("conf-dlq"))
            let arn = try await client.getQueueAttributes(queueUrl: url, names: ["QueueArn"])["QueueArn"] ?? ""
            attributes["RedrivePolicy"] = SQSRedrivePolicy(deadLetterTargetArn: arn, maxReceiveCount: maxReceiveCount).attributeValue
            deadLetterURL = url
        }
        let url = try await client.createQueue(name: MotoEnvironment.uniqueName("conf"), attributes: attributes)
        let dlq = deadLetterURL
        return QueueUnderTest(queue: SQSMessageQueue(client: client, queueUrl: url),
                              deadLetter: dlq.map { SQSMessageQueue(client: client, queueUrl: $0) }) {
            try? await client.deleteQueue(queueUrl: url)
            if let dlq { try? await client.deleteQueue(queueUrl: dlq) }
        }
    }
}

extension StoreBackend {
    /// A fresh bucket on the moto server with authentication **off**: the suite's keys and
    /// prefixes (`p/é.jpg`, `prefix=p/`) trip moto's own signature check (boto3's requests
    /// fail the same way), so the seam's behaviour is checked here and signing elsewhere
    /// (`AWSS3MotoTests`, `SigV4BotocoreGoldenTests`).
    static let s3Moto = StoreBackend(name: "S3ObjectStore (moto, auth off)") {
        let moto = try await MotoEnvironment.shared()
        let client = S3Client(configuration: moto.configuration(endpoint: moto.noAuthEndpoint))
        let bucket = MotoEnvironment.uniqueName("conf")
        try await client.createBucket(bucket)
        return StoreUnderTest(store: S3ObjectStore(client: client, bucket: bucket)) {
            if let objects = try? await client.listAllObjects(bucket: bucket) {
                for object in objects { try? await client.deleteObject(bucket: bucket, key: object.key) }
            }
            try? await client.deleteBucket(bucket)
        }
    }
}
