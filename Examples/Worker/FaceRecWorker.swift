import ArgumentParser
import CloudPipeline
import Foundation
import ServiceKit

/// `facerec-worker`: takes recognition jobs from the input queue until SIGTERM.
@main
struct FaceRecWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "facerec-worker",
        abstract: "Recognise queued images: input queue → recognition → result object + output queue.",
        discussion: """
            Uses S3/SQS when INPUT_QUEUE_URL, OUTPUT_QUEUE_URL, INPUT_BUCKET and OUTPUT_BUCKET are set, \
            else the embedded default under --data-dir. SIGTERM or SIGINT: finish the jobs in hand, then exit 0.
            """)

    @OptionGroup var recognition: RecognitionOptions
    @OptionGroup var pipelineOptions: PipelineOptions
    @Option(help: "Jobs held at once: receiving, fetching and writing overlap the analyses, whose images are batched.")
    var concurrency = RecognitionWorker.Configuration.defaultConcurrency
    @Option(help: "Analyses run at once (default: the number of cores).")
    var lanes = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Most images per forward pass.") var batchSize = 8
    @Option(help: "Lease per job in seconds, renewed while the job runs.") var visibilityTimeout = 60

    func validate() throws {
        guard concurrency >= 1, lanes >= 1, batchSize >= 1 else {
            throw ValidationError("--concurrency, --lanes and --batch-size must be at least 1")
        }
    }

    func run() async throws {
        var logger = ServiceLogging.logger("facerec.worker")
        if let id = ProcessInfo.processInfo.environment[ProcessInstanceProvider.workerIDVariable] {
            logger[metadataKey: "worker"] = "\(id)"
        }
        let backend = try PipelineBackend.from(dataDirectory: pipelineOptions.dataDirectory)
        let pipeline = try Pipeline.open(backend, logger: logger)
        let engine = try recognition.makeEngine(lanes: lanes, maxBatchSize: batchSize)
        let workspace = try await engine.prepare()
        logger.info("networks ready", metadata: [
            "lanes": "\(lanes)", "batch-size": "\(batchSize)", "workspace-mib": "\(workspace >> 20)",
        ])
        let worker = RecognitionWorker(
            input: pipeline.input, output: pipeline.output, inputStore: pipeline.inputStore, outputStore: pipeline.outputStore,
            recognizer: engine,
            configuration: .init(concurrency: concurrency, visibilityTimeout: .seconds(visibilityTimeout), inputBucket: pipeline.inputBucket),
            logger: logger)
        await runUntilTerminated { await worker.run() }
        let batches = await engine.batchSizes().sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        logger.info("analysis batches (images per batch: batches)", metadata: ["batches": "\(batches.joined(separator: ", "))"])
    }
}
