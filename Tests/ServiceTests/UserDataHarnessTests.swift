import CloudPipeline
import CloudPipelineTestSupport
import FaceRecognitionService
import Foundation
import Testing

/// The deploy's user data, run for real: moto stores an Auto Scaling instance's user data but
/// never runs it, so this harness reads it back (DescribeInstanceAttribute on the instance the
/// group launched) and runs it with bash in a scratch root (`FACEREC_INSTALL_ROOT`), with the AWS
/// CLI pointed at moto. The script downloads the artifacts the test uploaded (the built
/// facerec-worker, MTCNN weights, the test FaceNet weights and gallery), writes worker.env and,
/// with no systemd in a scratch root, runs the worker, which must answer a job like `facerec
/// identify` does and drain on SIGTERM. Script and worker run with the keys of a user holding
/// only the shipped worker policy, so that policy is shown to be enough.
@Suite("User data harness (moto)", .serialized)
struct UserDataHarnessTests {
    @Test("the ASG instance's user data installs a worker from the artifacts bucket that answers a job")
    func userDataRunsAWorker() async throws {
        let moto = try await MotoEnvironment.shared()
        #expect(try await runProcess("/usr/bin/env", ["aws", "--version"], environment: ProcessInfo.processInfo.environment) == 0,
                "the AWS CLI is missing: scripts/install-deps.sh --with-test-tools installs it")
        let suffix = MotoEnvironment.uniqueName("ud")
        let environment = try await moto.pipelineEnvironment(suffix: suffix)
        let cloud = try CloudConfiguration(environment: environment)

        // The artifacts, in the install layout under s3://artifacts/<prefix>/.
        let artifactsBucket = "artifacts-\(suffix)", prefix = "releases/test"
        let s3 = S3Client(configuration: moto.configuration(), addressingStyle: .path)
        try await s3.createBucket(artifactsBucket)
        var sources = [
            WorkerInstallLayout.executable: ServiceFixtures.binaries.appendingPathComponent("facerec-worker"),
            WorkerInstallLayout.facenetWeights: try ServiceFixtures.weightsFile,
            WorkerInstallLayout.gallery: ServiceFixtures.gallery,
        ]
        for file in WorkerInstallLayout.mtcnnFiles {
            sources[WorkerInstallLayout.mtcnnDirectory + "/" + file] = ServiceFixtures.mtcnnDirectory.appendingPathComponent(file)
        }
        #expect(Set(sources.keys) == Set(WorkerInstallLayout.artifacts))
        for (artifact, source) in sources {
            _ = try await s3.putObject(bucket: artifactsBucket, key: prefix + "/" + artifact, body: try Data(contentsOf: source))
        }

        // Deploy, and let the group launch one instance.
        let subnets = try #require(try await Boto3.json("""
            ec2 = client("ec2")
            print(json.dumps([s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]))
            """, moto: moto) as? [String])
        let settings = FleetDeployment.Settings(fleetName: suffix, artifactsBucket: artifactsBucket, artifactsPrefix: prefix,
                                                subnetIds: subnets, amiId: "ami-12345678", maxSize: 2)
        let deployment = FleetDeployment(settings: settings)
        _ = try await deployment.run(cloud, environment: environment)
        // The worker runs with nothing but its role's policy (moto evaluates the caller's IAM
        // policies): a user holding exactly the shipped worker policy, filled in.
        let workerPolicy = try #require(try deployment.plan(cloud, environment: environment).policies[.worker])
        let workerKeys = try #require(try await Boto3.json("""
            iam = client("iam"); user = sys.argv[1]
            iam.create_user(UserName=user)
            iam.put_user_policy(UserName=user, PolicyName="facerec-worker", PolicyDocument=sys.argv[2])
            key = iam.create_access_key(UserName=user)["AccessKey"]
            print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
            """, ["worker-\(suffix)", workerPolicy], moto: moto) as? [String: String])
        let launched = try #require(try await Boto3.json("""
            asg = client("autoscaling"); ec2 = client("ec2"); name = sys.argv[1]
            asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
            instance = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
            ud = ec2.describe_instance_attribute(InstanceId=instance, Attribute="userData")["UserData"]["Value"]
            print(json.dumps({"instance": instance, "userData": base64.b64decode(ud).decode()}))
            """, [suffix], moto: moto) as? [String: String])
        let userData = try #require(launched["userData"])
        #expect(userData.contains("FACEREC_ASG_NAME='\(suffix)'"))

        // Run it in a scratch root, as cloud-init would, with the AWS CLI pointed at moto.
        let scratch = try LocalTestDirectory.make("userdata")
        let root = scratch.appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let script = scratch.appendingPathComponent("user-data.sh")
        try Data(userData.utf8).write(to: script)
        var processEnvironment = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("AWS_") && !$0.key.hasPrefix("FACEREC_") && !["INPUT_BUCKET", "OUTPUT_BUCKET", "INPUT_QUEUE_URL", "OUTPUT_QUEUE_URL"].contains($0.key)
        }
        processEnvironment["FACEREC_INSTALL_ROOT"] = root.path
        let (keyID, secret): (String, String) = (try #require(workerKeys["id"]), try #require(workerKeys["secret"]))
        processEnvironment["AWS_ACCESS_KEY_ID"] = keyID
        processEnvironment["AWS_SECRET_ACCESS_KEY"] = secret
        processEnvironment["AWS_ENDPOINT_URL"] = moto.endpoint.absoluteString
        processEnvironment["AWS_EC2_METADATA_DISABLED"] = "true"
        processEnvironment["HOME"] = scratch.path
        let log = scratch.appendingPathComponent("user-data.log")
        let child = try ChildProcess(URL(fileURLWithPath: "/bin/bash"), [script.path], environment: processEnvironment, stderr: log)
        defer {
            if child.process.isRunning { child.signal(SIGKILL) }
            try? FileManager.default.removeItem(at: scratch)
        }
        func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        // The install layout under the scratch root, and worker.env without secrets.
        let installed = await eventually(timeout: .seconds(120)) {
            FileManager.default.fileExists(atPath: root.path + WorkerInstallLayout.standard.environmentFile) || !child.process.isRunning
        }
        #expect(installed)
        for artifact in WorkerInstallLayout.artifacts {
            let path = root.path + WorkerInstallLayout.standard.path(artifact)
            #expect(FileManager.default.contentsEqual(atPath: path, andPath: sources[artifact]!.path), "\(artifact)")
        }
        let workerEnv = try String(contentsOfFile: root.path + WorkerInstallLayout.standard.environmentFile, encoding: .utf8)
        #expect(workerEnv.contains("INPUT_QUEUE_URL='\(environment["INPUT_QUEUE_URL"]!)'") && workerEnv.contains("FACEREC_LIFECYCLE_HOOK='\(suffix)-drain'"))
        #expect(!workerEnv.contains(moto.secretAccessKey) && !workerEnv.contains(workerKeys["secret"] ?? "-"))
        #expect(child.process.isRunning, "user data ended early: \(logText())")

        // One image and its job; the worker answers as `facerec identify` does.
        let pipeline = try Pipeline.open(.aws(cloud), environment: environment)
        let image = try #require(try ServiceFixtures.images(1).first)
        let key = image.lastPathComponent
        let stem = image.deletingPathExtension().lastPathComponent
        try await pipeline.inputStore.put(try Data(contentsOf: image), key: key)
        _ = try await pipeline.input.send(key)
        let expected = try #require(try await ServiceFixtures.identify([image])[stem])
        var lines: [String] = []
        let answered = await eventually(timeout: .seconds(240)) {
            for message in (try? await pipeline.output.receive(maxMessages: 10, waitTime: .seconds(1))) ?? [] {
                lines.append(message.body)
                try? await pipeline.output.delete(receiptHandle: message.receiptHandle)
            }
            return !lines.isEmpty || !child.process.isRunning
        }
        #expect(answered && lines == ["\(stem):\(expected)"], "worker log: \(logText())")
        let result = try await pipeline.outputStore.get(key: stem)
        #expect(String(decoding: result, as: UTF8.self) == expected)
        #expect(try await pipeline.input.depth().total == 0)

        // SIGTERM: the worker drains and exits 0.
        child.signal(SIGTERM)
        let status = await child.waitForExit(timeout: .seconds(60))
        #expect(status == 0, "worker log: \(logText())")
        _ = try? await Boto3.run("""
            asg = client("autoscaling")
            asg.set_desired_capacity(AutoScalingGroupName=sys.argv[1], DesiredCapacity=0)
            """, [suffix], moto: moto)
    }
}
