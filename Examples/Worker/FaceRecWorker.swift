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
    @Option(help: "Jobs processed at once.") var concurrency = 1
    @Option(help: "Lease per job in seconds, renewed while the job runs.") var visibilityTimeout = 60

    func run() async throws {
        var logger = ServiceLogging.logger("facerec.worker")
        if let id = ProcessInfo.processInfo.environment[ProcessInstanceProvider.workerIDVariable] {
            logger[metadataKey: "worker"] = "\(id)"
        }
        let backend = try PipelineBackend.from(dataDirectory: pipelineOptions.dataDirectory)
        let pipeline = try Pipeline.open(backend, logger: logger)
        let engine = try recognition.makeEngine(concurrency: concurrency)
        let worker = RecognitionWorker(
            input: pipeline.input, output: pipeline.output, inputStore: pipeline.inputStore, outputStore: pipeline.outputStore,
            recognizer: engine,
            configuration: .init(concurrency: concurrency, visibilityTimeout: .seconds(visibilityTimeout), inputBucket: pipeline.inputBucket),
            logger: logger)
        await runUntilTerminated { await worker.run() }
    }
}
