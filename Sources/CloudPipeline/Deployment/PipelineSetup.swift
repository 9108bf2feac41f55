import Foundation
import Logging

/// Creates the pipeline's resources idempotently: the input and output buckets, the input queue
/// with its dead-letter queue and redrive policy, the output queue and, on AWS when asked, the
/// input bucket's S3 → SQS notification (with the queue policy that lets S3 send). Running it
/// again changes nothing but settings that differ.
public struct PipelineSetup: Sendable {
    public let settings: PipelineSettings
    /// Configure the S3 → SQS notification on the input bucket (AWS only).
    public let s3Notifications: Bool
    private let logger: Logger

    public init(settings: PipelineSettings = PipelineSettings(), s3Notifications: Bool = false,
                logger: Logger = Logger(label: "facerec.setup")) {
        self.settings = settings
        self.s3Notifications = s3Notifications
        self.logger = logger
    }

    /// What setup made, as `NAME=value` lines a shell can `export`.
    public struct Report: Sendable, Hashable {
        public var variables: [(String, String)] { orderedVariables }
        fileprivate var orderedVariables: [(String, String)] = []
        public var actions: [String] = []

        public static func == (lhs: Report, rhs: Report) -> Bool {
            lhs.actions == rhs.actions && lhs.orderedVariables.map { "\($0)=\($1)" } == rhs.orderedVariables.map { "\($0)=\($1)" }
        }
        public func hash(into hasher: inout Hasher) { hasher.combine(actions) }
    }

    public func run(_ backend: PipelineBackend) async throws -> Report {
        switch backend {
        case .local(let layout): return try setUpLocal(layout)
        case .aws(let configuration): return try await setUpAWS(configuration)
        }
    }

    private func setUpLocal(_ layout: LocalPipelineLayout) throws -> Report {
        var report = Report()
        try FileManager.default.createDirectory(at: layout.dataDirectory, withIntermediateDirectories: true)
        for bucket in [LocalPipelineLayout.inputBucket, LocalPipelineLayout.outputBucket] {
            _ = try DirectoryObjectStore(root: layout.bucketDirectory(bucket))
            report.actions.append("bucket \(bucket) at \(layout.bucketDirectory(bucket).path)")
        }
        let path = layout.queueDatabase.path
        let input = try SQLiteMessageQueue(path: path, name: LocalPipelineLayout.inputQueue, configuration: .init(
            visibilityTimeout: settings.visibilityTimeout,
            deadLetter: .init(queueName: LocalPipelineLayout.deadLetterQueue, maxReceiveCount: settings.maxReceiveCount)))
        input.close()
        SQLiteMessageQueue.closeAll(try [SQLiteMessageQueue(path: path, name: LocalPipelineLayout.outputQueue)])
        report.actions.append("queues \(LocalPipelineLayout.inputQueue) (visibility \(settings.visibilityTimeout), dead-letter \(LocalPipelineLayout.deadLetterQueue) after \(settings.maxReceiveCount) receives) and \(LocalPipelineLayout.outputQueue) in \(path)")
        report.orderedVariables.append(("FACEREC_DATA_DIR", layout.dataDirectory.path))
        return report
    }

    private func setUpAWS(_ configuration: CloudConfiguration) async throws -> Report {
        var report = Report()
        let inputBucket = try configuration.require(\.inputBucket, "INPUT_BUCKET")
        let outputBucket = try configuration.require(\.outputBucket, "OUTPUT_BUCKET")
        let credentials = configuration.credentialsProvider()
        let s3 = S3Client(configuration: configuration.clientConfiguration(for: .s3, credentials: credentials, logger: logger))
        let sqs = SQSClient(configuration: configuration.clientConfiguration(for: .sqs, credentials: credentials, logger: logger))

        for bucket in [inputBucket, outputBucket] {
            do {
                try await s3.createBucket(bucket)
                report.actions.append("created bucket \(bucket)")
            } catch let error as AWSServiceError where error.code == "BucketAlreadyOwnedByYou" {
                report.actions.append("bucket \(bucket) exists")
            }
        }

        let inputName = Self.queueName(from: configuration.inputQueueURL) ?? "facerec-input"
        let outputName = Self.queueName(from: configuration.outputQueueURL) ?? "facerec-output"
        let deadLetterName = inputName + "-dead-letter"

        let deadLetterURL = try await ensureQueue(sqs, name: deadLetterName, attributes: [:], report: &report)
        let deadLetterArn = try await queueArn(sqs, deadLetterURL)
        var inputAttributes = [
            "VisibilityTimeout": String(Int(settings.visibilityTimeout.components.seconds)),
            "RedrivePolicy": SQSRedrivePolicy(deadLetterTargetArn: deadLetterArn, maxReceiveCount: settings.maxReceiveCount).attributeValue,
        ]
        let inputURL = try await ensureQueue(sqs, name: inputName, attributes: [:], report: &report)
        let inputArn = try await queueArn(sqs, inputURL)
        if s3Notifications {
            inputAttributes["Policy"] = Self.s3SendPolicy(queueArn: inputArn, bucket: inputBucket)
        }
        try await sqs.setQueueAttributes(queueUrl: inputURL, attributes: inputAttributes)
        report.actions.append("input queue \(inputName): visibility \(settings.visibilityTimeout), dead-letter \(deadLetterName) after \(settings.maxReceiveCount) receives")
        let outputURL = try await ensureQueue(sqs, name: outputName, attributes: [:], report: &report)

        if s3Notifications {
            try await s3.putBucketNotificationConfiguration(bucket: inputBucket, queues: [
                S3QueueNotification(id: "facerec-input", queueArn: inputArn, events: ["s3:ObjectCreated:*"]),
            ])
            report.actions.append("bucket \(inputBucket) notifies \(inputName) of created objects")
        }
        report.orderedVariables = [
            ("INPUT_BUCKET", inputBucket), ("OUTPUT_BUCKET", outputBucket),
            ("INPUT_QUEUE_URL", inputURL), ("OUTPUT_QUEUE_URL", outputURL), ("DEAD_LETTER_QUEUE_URL", deadLetterURL),
        ]
        if s3Notifications { report.orderedVariables.append(("FACEREC_S3_NOTIFICATIONS", "1")) }
        return report
    }

    private func ensureQueue(_ sqs: SQSClient, name: String, attributes: [String: String], report: inout Report) async throws -> String {
        let url = try await sqs.createQueue(name: name, attributes: attributes)
        report.actions.append("queue \(name) at \(url)")
        return url
    }

    private func queueArn(_ sqs: SQSClient, _ url: String) async throws -> String {
        let attributes = try await sqs.getQueueAttributes(queueUrl: url, names: ["QueueArn"])
        guard let arn = attributes["QueueArn"] else {
            throw AWSClientError.invalidResponse(service: "sqs", operation: "GetQueueAttributes", detail: "QueueArn is missing for \(url)")
        }
        return arn
    }

    /// The last path segment of a queue URL.
    static func queueName(from url: String?) -> String? {
        guard let url, let last = URL(string: url)?.lastPathComponent, !last.isEmpty, last != "/" else { return nil }
        return last
    }

    /// The queue policy S3 needs to deliver the bucket's events.
    static func s3SendPolicy(queueArn: String, bucket: String) -> String {
        let policy: [String: Any] = [
            "Version": "2012-10-17",
            "Statement": [[
                "Sid": "facerec-s3-notifications",
                "Effect": "Allow",
                "Principal": ["Service": "s3.amazonaws.com"],
                "Action": "sqs:SendMessage",
                "Resource": queueArn,
                "Condition": ["ArnLike": ["aws:SourceArn": "arn:aws:s3:::\(bucket)"]],
            ]],
        ]
        let data = (try? JSONSerialization.data(withJSONObject: policy, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

extension SQLiteMessageQueue {
    static func closeAll(_ queues: [SQLiteMessageQueue]) { queues.forEach { $0.close() } }
}
