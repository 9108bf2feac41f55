import CloudPipeline
import CloudPipelineTestSupport
import FaceRecognitionService
import Foundation
import Logging
import Testing

/// The same service over S3, SQS and EC2 on the moto server (SigV4 checked): `setup` creates the
/// buckets, queues, dead-letter queue and the S3 → SQS notification; uploads reach the workers
/// as S3 event notifications; the EC2 fleet grows with the backlog and shrinks when it is gone.
@Suite("End to end (moto)", .serialized)
struct EndToEndMotoTests {
    @Test("uploads over S3 events are answered as facerec identify answers them; EC2 workers launch and terminate with the backlog")
    func awsService() async throws {
        let moto = try await MotoEnvironment.shared()
        let suffix = MotoEnvironment.uniqueName("e2e")
        let fleetName = "fleet-\(suffix)"
        var environment = [
            "AWS_ACCESS_KEY_ID": moto.accessKeyId, "AWS_SECRET_ACCESS_KEY": moto.secretAccessKey,
            "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto.endpoint.absoluteString,
            "INPUT_BUCKET": "in-\(suffix)", "OUTPUT_BUCKET": "out-\(suffix)",
            "INPUT_QUEUE_URL": moto.endpoint.appendingPathComponent("123456789012/in-\(suffix)").absoluteString,
            "OUTPUT_QUEUE_URL": moto.endpoint.appendingPathComponent("123456789012/out-\(suffix)").absoluteString,
            "AMI_ID": "ami-12345678", "HOME": "/nonexistent",
        ]
        let setup = PipelineSetup(settings: .init(visibilityTimeout: .seconds(30), maxReceiveCount: 3), s3Notifications: true)
        let report = try await setup.run(try PipelineBackend.from(environment: environment, dataDirectory: URL(fileURLWithPath: "/unused")))
        // Idempotent: running it again succeeds and names the same resources.
        let again = try await setup.run(try PipelineBackend.from(environment: environment, dataDirectory: URL(fileURLWithPath: "/unused")))
        #expect(again.variables.map { "\($0)=\($1)" } == report.variables.map { "\($0)=\($1)" })
        for (name, value) in report.variables { environment[name] = value }
        #expect(environment["FACEREC_S3_NOTIFICATIONS"] == "1")
        let cloud = try CloudConfiguration(environment: environment)
        let pipeline = try Pipeline.open(.aws(cloud), environment: environment)
        #expect(pipeline.bucketNotifiesQueue)

        let engine = try ServiceFixtures.engine
        let waiter = ResultWaiter(output: pipeline.output, outputStore: pipeline.outputStore, storePollInterval: .milliseconds(500), receiveWaitTime: .seconds(1))
        let api = UploadAPI(pipeline: pipeline, engine: engine, waiter: waiter, metrics: ServiceMetrics(),
                            configuration: .init(resultTimeout: .seconds(600)))
        let worker = RecognitionWorker(input: pipeline.input, output: pipeline.output, inputStore: pipeline.inputStore,
                                       outputStore: pipeline.outputStore, recognizer: engine,
                                       configuration: .init(concurrency: 2, receiveWaitTime: .seconds(1), inputBucket: pipeline.inputBucket))
        let provider = try EC2Fleet.provider(cloud: cloud, instanceType: "t3.medium", instanceProfile: nil, keyName: nil,
                                             fleetName: fleetName, maxWorkers: 4,
                                             workerArguments: WorkerInstallLayout.workerArguments(),
                                             environment: environment, logger: Logger(label: "test"))
        let scaler = AutoScaler(queue: pipeline.input, provider: provider,
                                policy: try ScalingPolicy(minWorkers: 0, maxWorkers: 4, jobsPerWorker: 3, scaleInCooldown: .zero))
        let decisions = DecisionLog()
        let server = try await ServedApplication.start { api.application(host: "127.0.0.1", port: 0, onListening: $0) }
        var tasks: [Task<Void, Never>] = [
            Task { await waiter.run() },
            Task {
                while !Task.isCancelled {
                    if let decision = try? await scaler.reconcile() { decisions.append(decision) }
                    try? await Task.sleep(for: .milliseconds(200))
                }
            },
        ]
        let files = try ServiceFixtures.images(12)
        let uploads = Task { await UploadClient(baseURL: server.baseURL, timeout: 600).uploadAll(files, concurrency: 12) }
        // Ordering, not speed: the worker starts only once the scaler has launched for the whole
        // backlog (12 jobs at 3 per worker: the maximum of 4), so the scale-out cannot be raced
        // by the backlog draining.
        #expect(await eventually(timeout: .seconds(300)) { decisions.all.map(\.desired).max() == 4 }, "decisions: \(decisions.all)")
        tasks.append(Task { await worker.run() })
        let results = await uploads.value
        let answers = results.compactMap { try? $0.get() }
        #expect(answers.allSatisfy { $0.status == 200 })
        let expected = try await ServiceFixtures.identify(files)
        #expect(ServiceFixtures.lines(answers.map(\.body)) == expected)

        // Backlog gone: the fleet is scaled in to zero.
        let drained = await eventually {
            let idle = (try? await provider.running().isEmpty) == true
            let empty = (try? await pipeline.input.depth().total) == 0
            return idle && empty
        }
        #expect(drained)
        await server.stop()
        tasks.forEach { $0.cancel() }
        for task in tasks { await task.value }

        let seen = decisions.all
        let launched = seen.compactMap { if case .launch(let count) = $0.action { count } else { nil } }.reduce(0, +)
        let terminated = seen.compactMap { if case .terminate(let ids) = $0.action { ids.count } else { nil } }.reduce(0, +)
        #expect(launched >= 4, "decisions: \(seen)")
        #expect(terminated == launched)
        #expect(seen.map(\.desired).max() ?? 0 <= 4)

        // What EC2 holds: every instance tagged for this fleet, with the worker's user data.
        let ec2 = EC2Client(configuration: moto.configuration())
        let instances = try await ec2.describeAllInstances(filters: [EC2Filter(name: "tag:\(EC2Fleet.tagKey)", values: [fleetName])])
        #expect(instances.count == launched)
        #expect(instances.allSatisfy { $0.imageId == "ami-12345678" && $0.instanceType == "t3.medium" && $0.tags["Name"] == "facerec-worker" })
        #expect(instances.allSatisfy { $0.state == "terminated" || $0.state == "shutting-down" })
        let stored = try await Boto3.json("""
            ec2 = client("ec2")
            ud = ec2.describe_instance_attribute(InstanceId=sys.argv[1], Attribute="userData")["UserData"]["Value"]
            print(json.dumps({"userData": base64.b64decode(ud).decode()}))
            """, [try #require(instances.first).instanceId], moto: moto) as? [String: String]
        let userData = try #require(stored?["userData"])
        #expect(userData.hasPrefix("#!/bin/bash\n"))
        #expect(userData.contains("INPUT_QUEUE_URL='\(environment["INPUT_QUEUE_URL"]!)'"))
        #expect(userData.contains("OUTPUT_BUCKET='out-\(suffix)'"))
        #expect(userData.contains("FACEREC_WORKER_ARGS='--mtcnn-weights weights/mtcnn --weights weights/facenet.pt --gallery gallery/gallery.pt'"))
        #expect(userData.contains("cd \"$R/opt/facerec\"") && userData.contains("exec \"$R/opt/facerec/bin/facerec-worker\" $FACEREC_WORKER_ARGS"))
        #expect(!userData.contains(ServiceFixtures.packageRoot.path), "the scaler's local paths must not reach the workers")
        #expect(!userData.contains(moto.secretAccessKey) && !userData.contains("AWS_SECRET_ACCESS_KEY"))

        // Nothing left but what should be: results for every upload, empty queues.
        // (Listed without a prefix: moto's signature check refuses `prefix=uploads%2F`, as it
        // refuses boto3's; see ../shared/MOTO.md.)
        let resultObjects = try await pipeline.outputStore.list(prefix: "")
        #expect(resultObjects.count == 12 && resultObjects.allSatisfy { $0.key.hasPrefix("uploads/") })
        #expect(try await pipeline.input.depth().total == 0)
        let deadLetter = SQSMessageQueue(client: SQSClient(configuration: moto.configuration()), queueUrl: try #require(environment["DEAD_LETTER_QUEUE_URL"]))
        #expect(try await deadLetter.depth().total == 0)
        #expect(worker.statistics.snapshot().completed == 12)
        #expect(worker.statistics.snapshot().ignored == 2)  // S3's s3:TestEvent, once per setup run
    }
}

final class DecisionLog: @unchecked Sendable {
    // @unchecked: `decisions` is only touched under `lock`.
    private let lock = NSLock()
    private var decisions: [AutoScaler.Decision] = []
    func append(_ decision: AutoScaler.Decision) { lock.withLock { decisions.append(decision) } }
    var all: [AutoScaler.Decision] { lock.withLock { decisions } }
}
