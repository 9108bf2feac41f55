import ArgumentParser
import CloudPipeline
import FaceRecognitionService
import Foundation

/// `facerec-server deploy`: the worker fleet as an EC2 Auto Scaling group (``FleetDeployment``).
struct Deploy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Deploy the worker fleet as an EC2 Auto Scaling group (IAM roles, launch template, group, scaling, drain hook).",
        discussion: """
            Run `facerec-server setup` first and export what it prints (INPUT_QUEUE_URL, OUTPUT_QUEUE_URL, \
            INPUT_BUCKET, OUTPUT_BUCKET), and upload the worker's artifacts to s3://<--artifacts-bucket>/<--artifacts-prefix>/: \
            bin/facerec-worker, weights/mtcnn/{pnet,rnet,onet}.pt, weights/facenet.pt, gallery/gallery.pt. \
            Idempotent: a second run reports every resource unchanged. --dry-run prints the plan, the IAM \
            policies and the user data without calling AWS.
            """)

    @Option(help: "Bucket holding the worker's executable, weights and gallery.") var artifactsBucket: String
    @Option(help: "Key prefix of the artifacts in that bucket.") var artifactsPrefix = "facerec"
    @Option(help: "Subnets for the workers, comma-separated (one per availability zone).") var subnets: String
    @Option(help: "EC2 instance type of the workers.") var instanceType = "c6i.large"
    @Option(help: "Worker AMI with the AWS CLI (default: $AMI_ID).") var ami: String?
    @Option(help: "Security groups for the workers, comma-separated (default: $SECURITY_GROUP_ID, else the VPC's default).")
    var securityGroups: String?
    @Option(help: "EC2 key pair for SSH (optional).") var keyName: String?
    @Option(help: "Largest number of workers.") var maxSize = 4
    @Option(help: "Seconds an image may wait in the queue (with --seconds-per-image: the target backlog per worker).")
    var latencyTarget = 60.0
    @Option(help: "Seconds one worker takes per image.") var secondsPerImage = 0.5
    @Option(help: "Seconds a worker being scaled in may take to finish its jobs (the lifecycle hook's heartbeat timeout).")
    var drainTimeout = 300
    @Option(help: "Names the roles, instance profiles, launch template, group, policy and hook.") var fleetName = "facerec-workers"
    @Option(help: "Jobs each worker holds at once.") var workerConcurrency: Int?
    @Option(help: "Distance beyond which a face is Unknown.") var threshold: Float?
    @Flag(help: "Print the plan, the IAM policies and the user data; call nothing.") var dryRun = false

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let cloud: CloudConfiguration
        do {
            cloud = try CloudConfiguration(environment: environment)
        } catch {
            throw ServiceStartupError("\(error). Set AWS_REGION and the variables `facerec-server setup` prints.")
        }
        guard let ami = ami ?? cloud.amiId else {
            throw ServiceStartupError("name the worker AMI with --ami or AMI_ID")
        }
        func list(_ text: String?) -> [String] {
            (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        let settings = FleetDeployment.Settings(
            fleetName: fleetName, artifactsBucket: artifactsBucket, artifactsPrefix: artifactsPrefix, subnetIds: list(subnets),
            instanceType: instanceType, amiId: ami, securityGroupIds: list(securityGroups ?? cloud.securityGroupId), keyName: keyName,
            maxSize: maxSize, latencyTarget: latencyTarget, secondsPerImage: secondsPerImage, heartbeatTimeout: drainTimeout,
            workerConcurrency: workerConcurrency, threshold: threshold)
        let deployment = FleetDeployment(settings: settings, logger: ServiceLogging.logger("facerec.deploy"))
        do {
            if dryRun {
                let plan = try deployment.plan(cloud, environment: environment)
                print("Plan (dry run, nothing called) in \(plan.region), account \(plan.accountId):")
                for line in plan.summary { print("  \(line)") }
                for role in FleetDeployment.Role.allCases {
                    print("\nInline policy \(settings.policyName(role)) of role \(settings.roleName(role)):")
                    print(plan.policies[role] ?? "", terminator: "")
                }
                print("\nUser data of launch template \(settings.launchTemplateName):")
                print(plan.userData, terminator: "")
                return
            }
            let report = try await deployment.run(cloud, environment: environment)
            for change in report.changes { print(change.description) }
            print(report.isUnchanged ? "Nothing to change: the fleet \(fleetName) is as deployed."
                                     : "Deployed fleet \(fleetName): Auto Scaling group \(settings.groupName) scales 0–\(maxSize) workers at \(String(format: "%g", settings.targetBacklogPerInstance)) queued images each.")
        } catch let error as FleetDeploymentError {
            throw ServiceStartupError("deploy: \(error)")
        } catch let error as CloudConfigurationError {
            throw ServiceStartupError("deploy: \(error). Run `facerec-server setup` and export what it prints.")
        }
    }
}
