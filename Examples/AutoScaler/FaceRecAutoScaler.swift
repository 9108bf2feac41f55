import ArgumentParser
import CloudPipeline
import FaceRecognitionService
import Foundation
import ServiceCommandLine

/// `facerec-autoscaler`: keeps the worker fleet in line with the input queue's backlog.
@main
struct FaceRecAutoScaler: AsyncParsableCommand {
    static func main() async { await ServiceMain.run(Self.self) }

    static let configuration = CommandConfiguration(
        commandName: "facerec-autoscaler",
        abstract: "Scale workers with the backlog: EC2 instances on AWS, local processes otherwise.",
        discussion: """
            On AWS (cloud variables set) instances are launched from AMI_ID with SECURITY_GROUP_ID and \
            SUBNET_ID, tagged facerec:pipeline=<--fleet-name>, and given a user-data script that writes \
            the pipeline's variables and starts /opt/facerec/bin/facerec-worker. They get credentials from \
            --instance-profile, never from user data. Locally, facerec-worker processes are started next \
            to this executable. Every decision is logged with the backlog, running and desired counts. \
            Workers heartbeat into the output store; an instance whose worker never heartbeats within \
            --startup-grace, or falls silent for --heartbeat-timeout, is terminated and replaced (logged at \
            error). The credentials are checked at start: a refusal exits 78 with the reason.
            """)

    @OptionGroup var recognition: RecognitionOptions
    @OptionGroup var pipelineOptions: PipelineOptions
    @Option(help: "Fewest workers.") var minWorkers = 0
    @Option(help: "Most workers.") var maxWorkers = 4
    @Option(help: "Backlog per worker.") var jobsPerWorker = 5
    @Option(help: "Seconds the backlog must stay low before scaling in.") var scaleInCooldown = 60.0
    @Option(help: "Seconds between decisions.") var interval = 5.0
    @Option(help: "Jobs each worker holds at once (its images are batched through the networks).")
    var workerConcurrency = RecognitionWorker.Configuration.defaultConcurrency
    @Option(help: "EC2 instance type.") var instanceType = "c6i.large"
    @Option(help: "EC2 instance profile name giving the workers S3/SQS access.") var instanceProfile: String?
    @Option(help: "EC2 key pair (optional).") var keyName: String?
    @Option(help: "Tag value that marks this fleet's instances.") var fleetName = "facerec-workers"
    @Option(help: "Where the AMI has facerec (bin/facerec-worker, weights/, gallery/: the install layout).") var installDirectory = "/opt/facerec"
    @Option(help: "Seconds an instance may run without its worker's first heartbeat before it is replaced.")
    var startupGrace = 600.0
    @Option(help: "Seconds without a heartbeat after which a worker counts as dead and its instance is replaced.")
    var heartbeatTimeout = Double((HeartbeatSettings.defaultInterval * 4).components.seconds)

    func run() async throws {
        let logger = ServiceLogging.logger("facerec.autoscaler")
        let policy = try ScalingPolicy(minWorkers: minWorkers, maxWorkers: maxWorkers, jobsPerWorker: jobsPerWorker,
                                       scaleInCooldown: .seconds(scaleInCooldown))
        let backend = try PipelineBackend.from(dataDirectory: pipelineOptions.dataDirectory)
        try await StartupChecks.verifyCredentialsOrExit(backend, services: [.queues, .instances], logger: logger)
        let pipeline = try Pipeline.open(backend, logger: logger)
        let health = FleetHealthCheck(heartbeats: HeartbeatStore(store: pipeline.outputStore),
                                      startupGrace: .seconds(startupGrace), heartbeatTimeout: .seconds(heartbeatTimeout))
        switch backend {
        case .aws(let cloud):
            let provider = try EC2Fleet.provider(cloud: cloud, instanceType: instanceType, instanceProfile: instanceProfile,
                                                 keyName: keyName, fleetName: fleetName, maxWorkers: maxWorkers,
                                                 workerArguments: WorkerInstallLayout.workerArguments(
                                                     identify: recognition.weights != nil, threshold: recognition.threshold,
                                                     concurrency: workerConcurrency),
                                                 layout: WorkerInstallLayout(root: installDirectory), logger: logger)
            let scaler = AutoScaler(queue: pipeline.input, provider: provider, policy: policy, health: health, logger: logger)
            ServiceLog.notice("scaling EC2 fleet \(fleetName): \(policy)")
            await runUntilTerminated { await scaler.run(every: .seconds(interval)) }
        case .local(let layout):
            let fleet = try LocalWorkerFleet(layout: layout, recognition: recognition.configuration, workerConcurrency: workerConcurrency,
                                             policy: policy, queue: pipeline.input, heartbeats: health.heartbeats,
                                             interval: .seconds(interval), logger: logger)
            ServiceLog.notice("scaling local workers under \(layout.dataDirectory.path): \(policy)")
            await runUntilTerminated { await fleet.run() }
            await fleet.shutDown()
        }
    }
}
