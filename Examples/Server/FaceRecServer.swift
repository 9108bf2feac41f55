import ArgumentParser
import CloudPipeline
import FaceRecognitionService
import FaceRecognition
import Foundation
import Hummingbird
import Logging
import ServiceCommandLine

/// `facerec-server`: the upload API, and on the embedded default the whole service (local
/// queue and store, auto-scaled local worker processes).
@main
struct FaceRecServer: AsyncParsableCommand {
    static func main() async { await ServiceMain.run(Self.self) }

    static let configuration = CommandConfiguration(
        commandName: "facerec-server",
        abstract: "The face-recognition service: upload API, queue, auto-scaled workers.",
        discussion: """
            With no cloud variables set (INPUT_QUEUE_URL, OUTPUT_QUEUE_URL, INPUT_BUCKET, OUTPUT_BUCKET) \
            everything runs on this machine under --data-dir: a SQLite queue, a directory store and \
            worker processes (facerec-worker, found next to this executable) scaled with the backlog. \
            With them set, the server talks to S3 and SQS and workers are deployed separately \
            (facerec-autoscaler launches them on EC2).
            """,
        subcommands: [Serve.self, Setup.self, Deploy.self, Collections.self],
        defaultSubcommand: Serve.self
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the upload API (and, locally, the workers).")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port (0: any free port; the chosen one is printed).") var port = 8080
    @OptionGroup var recognition: RecognitionOptions
    @OptionGroup var pipelineOptions: PipelineOptions
    @OptionGroup var rekognitionOptions: RekognitionOptions
    @Option(help: "Local workers kept running even with an empty queue.") var minWorkers = 1
    @Option(help: "Most local workers.") var maxWorkers = max(1, ProcessInfo.processInfo.activeProcessorCount)
    @Option(help: "Backlog per worker before another is started.") var jobsPerWorker = 4
    @Option(help: "Seconds the backlog must stay low before workers are stopped.") var scaleInCooldown = 30.0
    @Option(help: "Jobs each local worker holds at once (its images are batched through the networks).")
    var workerConcurrency = RecognitionWorker.Configuration.defaultConcurrency
    @Flag(help: "Do not start local workers (run facerec-worker yourself).") var noWorkers = false
    @Option(help: "Largest upload in bytes (413 beyond).") var maxBodyBytes = 10 * 1024 * 1024
    @Option(help: "Seconds POST / waits for a result before answering 504 with where to collect it (default: the input queue's visibility timeout + 60, so a job whose worker died is still answered).")
    var resultTimeout: Double?
    @Option(help: "Require this bearer token on upload routes (default: $FACEREC_API_TOKEN; none: open).")
    var bearerToken: String?

    func run() async throws {
        let logger = ServiceLogging.logger("facerec.server")
        let backend = try PipelineBackend.from(dataDirectory: pipelineOptions.dataDirectory)
        if case .local = backend {
            // The embedded default sets itself up: nothing to create by hand on one machine.
            _ = try await PipelineSetup(logger: logger).run(backend)
        }
        try await StartupChecks.verifyCredentialsOrExit(backend, services: [.queues], logger: logger)
        let pipeline = try Pipeline.open(backend, logger: logger)
        let visibility = await StartupChecks.queueVisibilityTimeout(pipeline, logger: logger)
        let wait = resultTimeout.map { Duration.seconds($0) } ?? UploadAPIConfiguration.defaultResultTimeout(visibilityTimeout: visibility)
        if wait <= visibility {
            ServiceLog.notice("--result-timeout \(wait) is not above the input queue's visibility timeout (\(visibility)): a job whose worker dies will be answered 504 (the result stays collectable at /v1/results/<id>)")
        }
        let engine = try recognition.makeEngine(lanes: ProcessInfo.processInfo.activeProcessorCount)
        let metrics = ServiceMetrics()
        let waiter = ResultWaiter(output: pipeline.output, outputStore: pipeline.outputStore, logger: logger,
                                  onResult: metrics.recordResult)
        let api = UploadAPI(pipeline: pipeline, engine: engine, waiter: waiter, metrics: metrics,
                            configuration: .init(maxBodyBytes: maxBodyBytes, resultTimeout: wait,
                                                 bearerToken: bearerToken ?? ProcessInfo.processInfo.environment["FACEREC_API_TOKEN"]),
                            logger: logger)

        var fleet: LocalWorkerFleet?
        if case .local(let layout) = backend, !noWorkers {
            fleet = try LocalWorkerFleet(layout: layout, recognition: recognition.configuration, workerConcurrency: workerConcurrency,
                                         policy: ScalingPolicy(minWorkers: minWorkers, maxWorkers: maxWorkers,
                                                               jobsPerWorker: jobsPerWorker,
                                                               scaleInCooldown: .seconds(scaleInCooldown)),
                                         queue: pipeline.input, heartbeats: HeartbeatStore(store: pipeline.outputStore),
                                         metrics: metrics, logger: logger)
        }
        let host = self.host
        let port = self.port
        func serve(rekognition: RekognitionAPI?) async throws {
            let router = rekognition?.makeRouter(with: api) ?? api.makeRouter()
            ConsoleRoutes.addRoutes(to: router, rekognition: rekognition)  // the web console at /ui: a page over the APIs above
            let app = Application(
                router: router, configuration: .init(address: .hostname(host, port: port), serverName: "facerec-server"),
                onServerRunning: { channel in
                    let bound = channel.localAddress?.port ?? port
                    let line = "facerec-server listening on http://\(host):\(bound) (backend: \(backend), recognition: \(engine.identifies ? "identify" : "detection only"))\n"
                    FileHandle.standardOutput.write(Data(line.utf8))
                },
                logger: logger)

            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await waiter.run() }
                if let fleet { group.addTask { await fleet.run() } }
                try await app.runService()
                group.cancelAll()
            }
        }
        // The Rekognition API in front: it takes the POST / calls that carry X-Amz-Target.
        if case .identify(let recognizer) = engine.mode {
            let database = try rekognitionOptions.collectionsDatabase(dataDirectory: pipelineOptions.dataDirectory)
            logger.info("Rekognition collections in \(database)")
            try await RekognitionSetup.withCollections(database, logger: logger) { collections in
                try await serve(rekognition: makeRekognitionAPI(recognizer: recognizer, collections: collections, backend: backend, logger: logger))
            }
        } else {
            ServiceLog.notice("the Rekognition API is off: it needs FaceNet weights (--weights)")
            try await serve(rekognition: nil)
        }
        if let fleet { await fleet.shutDown() }
    }
}

extension Serve {
    /// The Rekognition API over `collections`, with the recognizer's FaceNet.
    func makeRekognitionAPI(recognizer: FaceRecognizer, collections: FaceCollections, backend: PipelineBackend,
                            logger: Logger) throws -> RekognitionAPI {
        let keys: RekognitionKeys
        do {
            keys = try rekognitionOptions.keys()
        } catch {
            throw ServiceStartupError("\(error)", exitCode: StartupChecks.configurationExitCode)
        }
        if keys.isEmpty {
            ServiceLog.notice("the Rekognition API has no keys: every call is refused. Set FACEREC_ACCESS_KEY_ID and FACEREC_SECRET_ACCESS_KEY, or --keys-file.")
        }
        let analyzer = try RekognitionSetup.makeAnalyzer(facenet: recognizer.facenet, mtcnnWeights: URL(fileURLWithPath: recognition.configuration.mtcnnWeights),
                                                         lanes: ProcessInfo.processInfo.activeProcessorCount,
                                                         maxPending: rekognitionOptions.rekognitionMaxPending)
        let operations = RekognitionOperations(collections: collections, analyzer: analyzer,
                                               images: PipelineImageSource(backend: backend, logger: logger))
        return RekognitionAPI(operations: operations, verifier: SigV4Verifier(keys: keys), logger: logger)
    }
}

/// `facerec-server collections import`: a gallery file becomes a Rekognition collection.
struct Collections: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the Rekognition API's collections offline.", subcommands: [Import.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a gallery (the course data.pt or a `facerec enroll` file) as a new collection: a face per embedding, a user per name.")

        @Argument(help: "The gallery file.") var gallery: String
        @Option(help: "The new collection's id (default: the file's stem).") var collectionId: String?
        @OptionGroup var pipelineOptions: PipelineOptions
        @Option(help: CollectionsDatabaseHelp.text) var collectionsDatabase: String?

        func run() async throws {
            let url = URL(fileURLWithPath: gallery)
            let loaded = try Gallery.load(contentsOf: url)
            let id = collectionId ?? url.deletingPathExtension().lastPathComponent
            let database = try CollectionsDatabase.resolve(option: collectionsDatabase, dataDirectory: pipelineOptions.dataDirectory)
            let report = try await RekognitionSetup.withCollections(database, logger: ServiceLogging.logger("facerec.collections"),
                                                                      followingOtherWriters: false) {
                try await RekognitionSetup.importGallery(loaded, collectionId: id, into: $0)
            }
            print("imported \(report.faces) faces and \(report.users) users into collection \(id)")
        }
    }
}

struct Setup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the buckets, queues, dead-letter queue and (optionally) the S3 → SQS notification.",
        discussion: "Idempotent. Locally it prepares --data-dir; on AWS it prints the variables to export.")

    @OptionGroup var pipelineOptions: PipelineOptions
    @Option(help: "Visibility timeout of the input queue, seconds: a dead worker's jobs come back after it (workers use it and renew it while a job runs).")
    var visibilityTimeout = Int(PipelineSettings.defaultVisibilityTimeout.components.seconds)
    @Option(help: "Receives before a message moves to the dead-letter queue.") var maxReceiveCount = 3
    @Flag(help: "Make the input bucket notify the input queue of new objects (AWS only).") var s3Notifications = false

    func run() async throws {
        let backend = try PipelineBackend.from(dataDirectory: pipelineOptions.dataDirectory)
        let setup = PipelineSetup(settings: .init(visibilityTimeout: .seconds(visibilityTimeout), maxReceiveCount: maxReceiveCount),
                                  s3Notifications: s3Notifications, logger: ServiceLogging.logger("facerec.setup"))
        let report = try await setup.run(backend)
        for action in report.actions { ServiceLog.notice(action) }
        for (name, value) in report.variables { print("export \(name)=\(WorkerUserData.shellQuoted(value))") }
    }
}
