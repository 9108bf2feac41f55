@testable import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Logging
import Testing

/// The files under deploy/ and what deploy makes of them, without AWS.
@Suite("Deployment assets and plan")
struct DeploymentAssetsTests {
    @Test("the Swift constants are the files under deploy/, byte for byte (run deploy/generate-swift-assets.py)")
    func constantsMatchFiles() throws {
        #expect(DeploymentAssets.files.count == 6)
        for (path, contents) in DeploymentAssets.files {
            let file = try String(contentsOf: AWSTestPaths.packageRoot.appendingPathComponent(path), encoding: .utf8)
            #expect(file == contents, "\(path) differs from DeploymentAssets")
        }
    }

    @Test("policies are JSON; the worker may read and write results, take jobs, fetch artifacts, complete lifecycle actions")
    func policies() throws {
        for document in [DeploymentAssets.ec2TrustPolicy, DeploymentAssets.serverPolicy, DeploymentAssets.workerPolicy, DeploymentAssets.scalerPolicy] {
            #expect((try? JSONSerialization.jsonObject(with: Data(document.utf8))) != nil)
        }
        let worker = try #require(try JSONSerialization.jsonObject(with: Data(DeploymentAssets.workerPolicy.utf8)) as? [String: Any])
        let statements = try #require(worker["Statement"] as? [[String: Any]])
        func actions(on resource: String) -> Set<String> {
            Set(statements.filter { ($0["Resource"] as? [String])?.contains(resource) == true }.flatMap { $0["Action"] as? [String] ?? [] })
        }
        #expect(actions(on: "${OUTPUT_BUCKET_ARN}/*") == ["s3:PutObject", "s3:GetObject"])
        #expect(actions(on: "${INPUT_BUCKET_ARN}/*") == ["s3:GetObject"])
        #expect(actions(on: "${INPUT_QUEUE_ARN}") == ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"])
        #expect(actions(on: "${OUTPUT_QUEUE_ARN}") == ["sqs:SendMessage"])
        #expect(actions(on: "${ARTIFACTS_ARN}/*") == ["s3:GetObject"])
        #expect(actions(on: "${AUTO_SCALING_GROUP_ARN}") == ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"])
        #expect(!statements.contains { ($0["Action"] as? [String])?.contains { $0.hasSuffix("*") } == true })
    }

    @Test("units: env file, SIGTERM, drain-long stop timeout, no restart on exit 78")
    func units() {
        for unit in [DeploymentAssets.workerUnit, DeploymentAssets.serverUnit] {
            for line in ["KillSignal=SIGTERM", "TimeoutStopSec=120", "Restart=on-failure", "RestartPreventExitStatus=78",
                         "WorkingDirectory=/opt/facerec"] {
                #expect(unit.contains("\n\(line)\n"), "\(line)")
            }
        }
        #expect(DeploymentAssets.workerUnit.contains("\nEnvironmentFile=/etc/facerec/worker.env\n"))
        #expect(DeploymentAssets.workerUnit.contains("\nExecStart=/opt/facerec/bin/facerec-worker $FACEREC_WORKER_ARGS\n"))
        #expect(DeploymentAssets.serverUnit.contains("\nExecStart=/opt/facerec/bin/facerec-server serve "))
    }

    func cloud() throws -> CloudConfiguration {
        try CloudConfiguration(environment: [
            "AWS_REGION": "eu-west-1", "INPUT_BUCKET": "acme-in", "OUTPUT_BUCKET": "acme-out",
            "INPUT_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/111122223333/facerec-input",
            "OUTPUT_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/111122223333/facerec-output",
        ])
    }

    @Test("the plan fills every placeholder and never carries credentials")
    func plan() throws {
        let settings = FleetDeployment.Settings(artifactsBucket: "acme-artifacts", artifactsPrefix: "/v1/", subnetIds: ["subnet-a", "subnet-b"],
                                                amiId: "ami-1", maxSize: 10, latencyTarget: 90, secondsPerImage: 0.75)
        let environment = ["AWS_SECRET_ACCESS_KEY": "very-secret", "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SESSION_TOKEN": "tok",
                           "INPUT_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/111122223333/facerec-input", "LOG_LEVEL": "debug"]
        let plan = try FleetDeployment(settings: settings).plan(try cloud(), environment: environment)
        #expect(plan.accountId == "111122223333")
        #expect(settings.targetBacklogPerInstance == 120)
        #expect(plan.scalingPolicy.targetValue == 120)
        for (_, policy) in plan.policies { #expect(!policy.contains("${")) }
        #expect(plan.policies[.scaler]?.contains("arn:aws:iam::111122223333:role/facerec-workers-worker") == true)
        #expect(plan.policies[.worker]?.contains("arn:aws:s3:::acme-artifacts/v1/*") == true)
        #expect(plan.userData.contains("ARTIFACTS='s3://acme-artifacts/v1'"))
        #expect(plan.userData.contains("\nLOG_LEVEL='debug'\n") && plan.userData.contains("\nFACEREC_ASG_NAME='facerec-workers'\n"))
        for secret in ["very-secret", "AKIAEXAMPLE", "tok'", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
            #expect(!plan.userData.contains(secret))
        }
        #expect(plan.summary.count == 7)
    }

    @Test("bad settings are refused in operator words")
    func validation() throws {
        func message(_ settings: FleetDeployment.Settings) -> String {
            do { try settings.validate(); return "" } catch { return error.description }
        }
        let good = FleetDeployment.Settings(artifactsBucket: "b", subnetIds: ["subnet-a"], amiId: "ami-1")
        #expect(message(good) == "")
        var s = good; s.subnetIds = []
        #expect(message(s).contains("--subnets"))
        s = good; s.maxSize = 0
        #expect(message(s).contains("--max-size"))
        s = good; s.secondsPerImage = 0
        #expect(message(s).contains("--seconds-per-image"))
        s = good; s.fleetName = "bad name"
        #expect(message(s).contains("fleet name"))
        s = good; s.heartbeatTimeout = 10
        #expect(message(s).contains("--drain-timeout"))
        var bad = try cloud()
        bad.inputQueueURL = "facerec-input"
        #expect(throws: FleetDeploymentError.self) { try FleetDeployment(settings: good).plan(bad, environment: [:]) }
    }

    @Test("the bootstrap script quotes values and keeps only plain worker arguments")
    func bootstrap() {
        let script = WorkerBootstrapScript(variables: [("A", "it's")], workerArguments: ["--threshold", "0.9", "bad arg"], origin: "test").script
        #expect(script.contains("\nA='it'\\''s'\n"))
        #expect(script.contains("\nFACEREC_WORKER_ARGS='--threshold 0.9'\n"))
        #expect(!script.contains("aws s3 cp"))  // no artifacts: the AMI has them
        #expect(WorkerInstallLayout.workerArguments(identify: false) == ["--mtcnn-weights", "weights/mtcnn"])
    }
}

@Suite("Deployment retries")
struct FleetDeploymentRetryTests {
    final class Counter: @unchecked Sendable {
        // @unchecked: `value` is only touched under `lock`.
        private let lock = NSLock()
        private var count = 0
        func next() -> Int { lock.withLock { count += 1; return count } }
        var value: Int { lock.withLock { count } }
    }

    @Test("a group call is retried while the new instance profile is not visible yet, and only then")
    func profilePropagation() async throws {
        let counter = Counter()
        try await FleetDeployment.whileProfilePropagates(logger: .init(label: "test"), pause: .milliseconds(1)) {
            if counter.next() < 3 {
                throw AWSServiceError(service: "autoscaling", operation: "CreateAutoScalingGroup", statusCode: 400,
                                      code: "ValidationError", message: "Invalid IamInstanceProfile: facerec-workers-worker", requestId: nil)
            }
        }
        #expect(counter.value == 3)
        let other = Counter()
        await #expect(throws: AWSServiceError.self) {
            try await FleetDeployment.whileProfilePropagates(logger: .init(label: "test"), pause: .milliseconds(1)) {
                _ = other.next()
                throw AWSServiceError(service: "autoscaling", operation: "CreateAutoScalingGroup", statusCode: 400,
                                      code: "ValidationError", message: "Max bound, 0, must be greater than or equal to min bound, 1", requestId: nil)
            }
        }
        #expect(other.value == 1)
    }
}
