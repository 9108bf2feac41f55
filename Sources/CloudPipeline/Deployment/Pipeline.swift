import Foundation
import Logging

/// Where the pipeline's queues and buckets live.
public enum PipelineBackend: Sendable, Hashable, CustomStringConvertible {
    /// The embedded default: a directory store and a SQLite queue file under one data directory.
    case local(LocalPipelineLayout)
    /// S3 and SQS (or an endpoint that speaks their protocols), from the environment.
    case aws(CloudConfiguration)

    /// The variables whose presence selects AWS; with none of them set the embedded default is used.
    public static let cloudVariables = ["INPUT_QUEUE_URL", "OUTPUT_QUEUE_URL", "INPUT_BUCKET", "OUTPUT_BUCKET"]

    /// AWS when any of ``cloudVariables`` is set, else the local layout under `dataDirectory`.
    public static func from(environment: [String: String] = ProcessInfo.processInfo.environment,
                            dataDirectory: URL) throws(CloudConfigurationError) -> PipelineBackend {
        let usesCloud = cloudVariables.contains { !(environment[$0] ?? "").trimmingCharacters(in: .whitespaces).isEmpty }
        guard usesCloud else { return .local(LocalPipelineLayout(dataDirectory: dataDirectory)) }
        return .aws(try CloudConfiguration(environment: environment))
    }

    public var description: String {
        switch self {
        case .local(let layout): return "local (\(layout.dataDirectory.path))"
        case .aws(let configuration): return "AWS \(configuration)"
        }
    }
}

/// The embedded default's files: `<data>/queues.sqlite` holds the queues, `<data>/buckets/<name>`
/// the stores.
public struct LocalPipelineLayout: Sendable, Hashable {
    public let dataDirectory: URL
    public static let inputQueue = "input"
    public static let outputQueue = "output"
    public static let deadLetterQueue = "input-dead-letter"
    public static let inputBucket = "input"
    public static let outputBucket = "output"

    public init(dataDirectory: URL) {
        self.dataDirectory = dataDirectory.standardizedFileURL
    }

    public var queueDatabase: URL { dataDirectory.appendingPathComponent("queues.sqlite") }

    public func bucketDirectory(_ name: String) -> URL {
        dataDirectory.appendingPathComponent("buckets", isDirectory: true).appendingPathComponent(name, isDirectory: true)
    }
}

/// Deployment-wide settings that `setup` writes and everything else reads.
public struct PipelineSettings: Sendable, Hashable {
    /// The input queue's default visibility timeout: how long after a worker dies its jobs
    /// come back. Workers read it from the queue and renew it while a job runs, so it need not
    /// cover a slow job; the server's result wait is derived from it.
    public var visibilityTimeout: Duration
    /// 30 s: a crashed worker's jobs are redone within half a minute.
    public static let defaultVisibilityTimeout: Duration = .seconds(30)
    /// Receives before a message moves to the dead-letter queue.
    public var maxReceiveCount: Int

    public init(visibilityTimeout: Duration = PipelineSettings.defaultVisibilityTimeout, maxReceiveCount: Int = 3) {
        self.visibilityTimeout = visibilityTimeout
        self.maxReceiveCount = maxReceiveCount
    }
}

/// The pipeline's opened queues and stores, whatever the backend.
public struct Pipeline: Sendable {
    public let backend: PipelineBackend
    public let input: any MessageQueue
    public let output: any MessageQueue
    /// The input queue's dead-letter queue, when known.
    public let deadLetter: (any MessageQueue)?
    public let inputStore: any ObjectStore
    public let outputStore: any ObjectStore
    /// The input bucket's name (S3 events name it).
    public let inputBucket: String
    /// True when the input bucket notifies the input queue itself (S3 events), so an uploader
    /// must not also enqueue the key (`FACEREC_S3_NOTIFICATIONS=1`; never for the local backend).
    public let bucketNotifiesQueue: Bool

    public init(backend: PipelineBackend, input: any MessageQueue, output: any MessageQueue, deadLetter: (any MessageQueue)?,
                inputStore: any ObjectStore, outputStore: any ObjectStore, inputBucket: String, bucketNotifiesQueue: Bool) {
        self.backend = backend
        self.input = input
        self.output = output
        self.deadLetter = deadLetter
        self.inputStore = inputStore
        self.outputStore = outputStore
        self.inputBucket = inputBucket
        self.bucketNotifiesQueue = bucketNotifiesQueue
    }

    /// Opens the backend's resources (creating the local files if needed, without changing any
    /// queue's stored settings: that is ``PipelineSetup``'s job).
    /// - Throws: ``CloudConfigurationError`` naming a missing variable, or the backend's error.
    public static func open(_ backend: PipelineBackend, environment: [String: String] = ProcessInfo.processInfo.environment,
                            logger: Logger = Logger(label: "facerec.pipeline")) throws -> Pipeline {
        switch backend {
        case .local(let layout):
            try FileManager.default.createDirectory(at: layout.dataDirectory, withIntermediateDirectories: true)
            let path = layout.queueDatabase.path
            return Pipeline(
                backend: backend,
                input: try SQLiteMessageQueue(path: path, name: LocalPipelineLayout.inputQueue),
                output: try SQLiteMessageQueue(path: path, name: LocalPipelineLayout.outputQueue),
                deadLetter: try SQLiteMessageQueue(path: path, name: LocalPipelineLayout.deadLetterQueue),
                inputStore: try DirectoryObjectStore(root: layout.bucketDirectory(LocalPipelineLayout.inputBucket)),
                outputStore: try DirectoryObjectStore(root: layout.bucketDirectory(LocalPipelineLayout.outputBucket)),
                inputBucket: LocalPipelineLayout.inputBucket, bucketNotifiesQueue: false)
        case .aws(let configuration):
            let inputQueueURL = try configuration.require(\.inputQueueURL, "INPUT_QUEUE_URL")
            let outputQueueURL = try configuration.require(\.outputQueueURL, "OUTPUT_QUEUE_URL")
            let inputBucket = try configuration.require(\.inputBucket, "INPUT_BUCKET")
            let outputBucket = try configuration.require(\.outputBucket, "OUTPUT_BUCKET")
            let credentials = configuration.credentialsProvider()
            let sqs = SQSClient(configuration: configuration.clientConfiguration(for: .sqs, credentials: credentials, logger: logger))
            let s3 = S3Client(configuration: configuration.clientConfiguration(for: .s3, credentials: credentials, logger: logger))
            let deadLetter = environment["DEAD_LETTER_QUEUE_URL"].flatMap { $0.isEmpty ? nil : SQSMessageQueue(client: sqs, queueUrl: $0) }
            let notifies = ["1", "true", "yes"].contains((environment["FACEREC_S3_NOTIFICATIONS"] ?? "").lowercased())
            return Pipeline(
                backend: backend,
                input: SQSMessageQueue(client: sqs, queueUrl: inputQueueURL),
                output: SQSMessageQueue(client: sqs, queueUrl: outputQueueURL),
                deadLetter: deadLetter,
                inputStore: S3ObjectStore(client: s3, bucket: inputBucket),
                outputStore: S3ObjectStore(client: s3, bucket: outputBucket),
                inputBucket: inputBucket, bucketNotifiesQueue: notifies)
        }
    }
}
