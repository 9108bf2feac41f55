@testable import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Testing

/// `FleetDeployment` against moto with signature checking on, read back with boto3.
@Suite("Fleet deployment on moto", .serialized)
struct FleetDeploymentMotoTests {
    /// A pipeline (buckets, queues) made by PipelineSetup, and the environment pointing at it.
    func pipeline(_ moto: MotoEnvironment, suffix: String) async throws -> [String: String] {
        try await moto.pipelineEnvironment(suffix: suffix)
    }

    func subnets(_ moto: MotoEnvironment) async throws -> [String] {
        let result = try await Boto3.json("""
            ec2 = client("ec2")
            vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
            print(json.dumps([s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]][:2]))
            """, moto: moto)
        let ids = try #require(result as? [String])
        #expect(ids.count == 2)
        return ids
    }

    /// Everything deploy made, as boto3 reads it.
    func readBack(_ moto: MotoEnvironment, _ settings: FleetDeployment.Settings) async throws -> [String: Any] {
        let names = [settings.fleetName] + FleetDeployment.Role.allCases.flatMap { [settings.roleName($0), settings.policyName($0)] }
        return try #require(try await Boto3.json("""
            iam = client("iam"); ec2 = client("ec2"); asg = client("autoscaling")
            fleet = sys.argv[1]; pairs = list(zip(sys.argv[2::2], sys.argv[3::2]))
            out = {"roles": {}, "profiles": {}, "policies": {}}
            for role, policy in pairs:
                out["roles"][role] = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
                out["profiles"][role] = [r["RoleName"] for r in iam.get_instance_profile(InstanceProfileName=role)["InstanceProfile"]["Roles"]]
                out["policies"][role] = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
            versions = ec2.describe_launch_template_versions(LaunchTemplateName=fleet)["LaunchTemplateVersions"]
            out["versions"] = len(versions)
            latest = max(versions, key=lambda v: v["VersionNumber"])
            data = latest["LaunchTemplateData"]
            out["template"] = {"userData": base64.b64decode(data["UserData"]).decode(), "imageId": data["ImageId"],
                               "instanceType": data["InstanceType"], "profile": data["IamInstanceProfile"]["Name"],
                               "httpTokens": data.get("MetadataOptions", {}).get("HttpTokens"),
                               "default": latest["DefaultVersion"], "number": latest["VersionNumber"]}
            g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[fleet])["AutoScalingGroups"][0]
            out["group"] = {"min": g["MinSize"], "max": g["MaxSize"], "subnets": g["VPCZoneIdentifier"].split(","),
                            "template": g["LaunchTemplate"]["LaunchTemplateName"], "version": g["LaunchTemplate"]["Version"],
                            "metrics": [m["Metric"] for m in g.get("EnabledMetrics", [])]}
            p = asg.describe_policies(AutoScalingGroupName=fleet)["ScalingPolicies"]
            out["scaling"] = [{"name": x["PolicyName"], "type": x["PolicyType"], "tt": x["TargetTrackingConfiguration"]} for x in p]
            out["hooks"] = asg.describe_lifecycle_hooks(AutoScalingGroupName=fleet)["LifecycleHooks"]
            print(json.dumps(out, default=str))
            """, names, moto: moto) as? [String: Any])
    }

    @Test("deploy creates roles, profiles, policies, launch template, group, target tracking and the drain hook; a second run changes nothing")
    func deploy() async throws {
        let moto = try await MotoEnvironment.shared()
        let suffix = MotoEnvironment.uniqueName("fleet")
        let environment = try await pipeline(moto, suffix: suffix)
        let cloud = try CloudConfiguration(environment: environment)
        let settings = FleetDeployment.Settings(
            fleetName: suffix, artifactsBucket: "artifacts-\(suffix)", artifactsPrefix: "releases/1", subnetIds: try await subnets(moto),
            instanceType: "c6i.large", amiId: "ami-12345678", maxSize: 5, latencyTarget: 30, secondsPerImage: 0.25)
        let deployment = FleetDeployment(settings: settings)
        let plan = try deployment.plan(cloud, environment: environment)

        let first = try await deployment.run(cloud, environment: environment)
        #expect(first.changes.count == 14)
        #expect(first.changes.allSatisfy { $0.outcome == .created }, "\(first.changes)")

        let stored = try await readBack(moto, settings)
        // IAM: each role trusted by EC2, in its instance profile, with the shipped policy filled in.
        for role in FleetDeployment.Role.allCases {
            let name = settings.roleName(role)
            let trust = try #require((stored["roles"] as? [String: Any])?[name] as? [String: Any])
            #expect(((trust["Statement"] as? [[String: Any]])?.first?["Principal"] as? [String: String])?["Service"] == "ec2.amazonaws.com")
            #expect((stored["profiles"] as? [String: [String]])?[name] == [name])
            let policy = try #require((stored["policies"] as? [String: Any])?[name] as? [String: Any])
            let filled = try #require(plan.policies[role])
            let expected = try #require(try JSONSerialization.jsonObject(with: Data(filled.utf8)) as? [String: Any])
            #expect(NSDictionary(dictionary: policy).isEqual(to: expected), "policy of \(name)")
            let template = try #require(try JSONSerialization.jsonObject(with: Data(role.policyTemplate.utf8)) as? [String: Any])
            #expect((template["Statement"] as? [Any])?.count == (policy["Statement"] as? [Any])?.count)
        }
        let workerPolicy = try #require(plan.policies[.worker])
        #expect(workerPolicy.contains("\"arn:aws:s3:::out-\(suffix)/*\"") && workerPolicy.contains("\"s3:PutObject\", \"s3:GetObject\""))
        #expect(workerPolicy.contains("arn:aws:sqs:us-east-1:123456789012:in-\(suffix)"))
        #expect(workerPolicy.contains("arn:aws:s3:::artifacts-\(suffix)/releases/1/*"))
        #expect(workerPolicy.contains("arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:*:autoScalingGroupName/\(suffix)"))
        #expect(!workerPolicy.contains("${"))

        // Launch template: the worker's profile, IMDSv2, user data that installs the layout.
        let template = try #require(stored["template"] as? [String: Any])
        #expect(stored["versions"] as? Int == 1)
        #expect(template["imageId"] as? String == "ami-12345678" && template["instanceType"] as? String == "c6i.large")
        #expect(template["profile"] as? String == settings.roleName(.worker))
        #expect(template["httpTokens"] as? String == "required")
        let userData = try #require(template["userData"] as? String)
        #expect(userData == plan.userData)
        #expect(userData.hasPrefix("#!/bin/bash\n"))
        #expect(userData.contains("ARTIFACTS='s3://artifacts-\(suffix)/releases/1'"))
        for artifact in WorkerInstallLayout.artifacts { #expect(userData.contains("'\(artifact)'")) }
        for path in ["$R/opt/facerec", "$R/etc/facerec/worker.env", "/etc/systemd/system/facerec-worker.service",
                     "ExecStart=/opt/facerec/bin/facerec-worker $FACEREC_WORKER_ARGS", "aws s3 cp"] {
            #expect(userData.contains(path), "user data lacks \(path)")
        }
        for line in ["INPUT_QUEUE_URL='\(environment["INPUT_QUEUE_URL"]!)'", "OUTPUT_QUEUE_URL='\(environment["OUTPUT_QUEUE_URL"]!)'",
                     "INPUT_BUCKET='in-\(suffix)'", "OUTPUT_BUCKET='out-\(suffix)'", "AWS_REGION='us-east-1'",
                     "FACEREC_ASG_NAME='\(suffix)'", "FACEREC_LIFECYCLE_HOOK='\(suffix)-drain'",
                     "FACEREC_WORKER_ARGS='--mtcnn-weights weights/mtcnn --weights weights/facenet.pt --gallery gallery/gallery.pt'"] {
            #expect(userData.contains("\n\(line)\n"), "user data lacks \(line)")
        }
        #expect(!userData.contains(moto.secretAccessKey) && !userData.contains(moto.accessKeyId))
        #expect(!userData.contains("AWS_SECRET_ACCESS_KEY") && !userData.contains("AWS_ACCESS_KEY_ID"))

        // The group, its target tracking on backlog per instance, its drain hook.
        let group = try #require(stored["group"] as? [String: Any])
        #expect(group["min"] as? Int == 0 && group["max"] as? Int == 5)
        #expect(group["subnets"] as? [String] == settings.subnetIds)
        #expect(group["template"] as? String == suffix && group["version"] as? String == "$Latest")
        #expect(group["metrics"] as? [String] == ["GroupInServiceInstances"])  // m2 exists in CloudWatch only then
        let scaling = try #require((stored["scaling"] as? [[String: Any]])?.first)
        #expect((stored["scaling"] as? [Any])?.count == 1)
        #expect(scaling["name"] as? String == "\(suffix)-backlog-per-instance" && scaling["type"] as? String == "TargetTrackingScaling")
        let tracking = try #require(scaling["tt"] as? [String: Any])
        #expect(tracking["TargetValue"] as? Double == 120)
        let metrics = try #require((tracking["CustomizedMetricSpecification"] as? [String: Any])?["Metrics"] as? [[String: Any]])
        #expect(metrics.map { $0["Id"] as? String } == ["m1", "m2", "e1"])
        func metric(_ entry: [String: Any]) -> [String: Any]? { (entry["MetricStat"] as? [String: Any])?["Metric"] as? [String: Any] }
        #expect(metric(metrics[0])?["Namespace"] as? String == "AWS/SQS")
        #expect(metric(metrics[0])?["MetricName"] as? String == "ApproximateNumberOfMessagesVisible")
        #expect((metric(metrics[0])?["Dimensions"] as? [[String: String]]) == [["Name": "QueueName", "Value": "in-\(suffix)"]])
        #expect(metric(metrics[1])?["MetricName"] as? String == "GroupInServiceInstances")
        #expect((metric(metrics[1])?["Dimensions"] as? [[String: String]]) == [["Name": "AutoScalingGroupName", "Value": suffix]])
        #expect(metrics[2]["Expression"] as? String == "m1 / m2" && metrics[2]["ReturnData"] as? Bool == true)
        #expect(metrics[0]["ReturnData"] as? Bool == false && metrics[1]["ReturnData"] as? Bool == false)
        let hook = try #require((stored["hooks"] as? [[String: Any]])?.first)
        #expect(hook["LifecycleHookName"] as? String == "\(suffix)-drain")
        #expect(hook["LifecycleTransition"] as? String == "autoscaling:EC2_INSTANCE_TERMINATING")
        #expect(hook["HeartbeatTimeout"] as? Int == 300 && hook["DefaultResult"] as? String == "CONTINUE")

        // Again: nothing created or updated, the same resources.
        let second = try await deployment.run(cloud, environment: environment)
        #expect(second.isUnchanged, "\(second.changes.filter { $0.outcome != .unchanged })")
        #expect(second.changes.map(\.name) == first.changes.map(\.name))
        let again = try await readBack(moto, settings)
        #expect(again["versions"] as? Int == 1)
        #expect((again["scaling"] as? [Any])?.count == 1 && (again["hooks"] as? [Any])?.count == 1)
        #expect(NSDictionary(dictionary: again["group"] as? [String: Any] ?? [:]).isEqual(to: group))

        // A changed setting updates in place: a new template version (the default), a larger group.
        var changed = settings
        changed.instanceType = "c6i.xlarge"
        changed.maxSize = 8
        let third = try await FleetDeployment(settings: changed).run(cloud, environment: environment)
        let updated = Set(third.changes.filter { $0.outcome != .unchanged }.map(\.kind))
        #expect(updated == ["launch template", "Auto Scaling group"], "\(third.changes)")
        #expect(third.changes.allSatisfy { $0.outcome != .created })
        let after = try await readBack(moto, changed)
        #expect(after["versions"] as? Int == 2)
        let latest = try #require(after["template"] as? [String: Any])
        #expect(latest["instanceType"] as? String == "c6i.xlarge" && latest["default"] as? Bool == true && latest["number"] as? Int == 2)
        #expect((after["group"] as? [String: Any])?["max"] as? Int == 8)
        #expect(try await FleetDeployment(settings: changed).run(cloud, environment: environment).isUnchanged)

        // Policies changed by hand are put back: a widened worker policy, a role trusted by Lambda.
        _ = try await Boto3.run("""
            iam = client("iam")
            iam.put_role_policy(RoleName=sys.argv[1], PolicyName="facerec-worker",
                                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
            iam.update_assume_role_policy(RoleName=sys.argv[2], PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
            """, [settings.roleName(.worker), settings.roleName(.server)], moto: moto)
        let repaired = try await FleetDeployment(settings: changed).run(cloud, environment: environment)
        #expect(Set(repaired.changes.filter { $0.outcome != .unchanged }.map(\.description)) == [
            "updated inline policy \(settings.roleName(.worker))/facerec-worker",
            "updated IAM role \(settings.roleName(.server)): trusted by EC2 only",
        ])
        let restored = try await readBack(moto, changed)
        let policy = try #require((restored["policies"] as? [String: Any])?[settings.roleName(.worker)] as? [String: Any])
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(workerPolicy.utf8)) as? [String: Any])
        #expect(NSDictionary(dictionary: policy).isEqual(to: expected))
    }

    @Test("an unknown subnet is refused in operator words before anything is launched")
    func unknownSubnet() async throws {
        let moto = try await MotoEnvironment.shared()
        let suffix = MotoEnvironment.uniqueName("badnet")
        let environment = try await pipeline(moto, suffix: suffix)
        let settings = FleetDeployment.Settings(fleetName: suffix, artifactsBucket: "a", subnetIds: ["subnet-00000000deadbeef0"], amiId: "ami-1")
        do {
            _ = try await FleetDeployment(settings: settings).run(try CloudConfiguration(environment: environment), environment: environment)
            Issue.record("deploy accepted an unknown subnet")
        } catch let error as FleetDeploymentError {
            #expect(error.description.contains("subnet-00000000deadbeef0") && error.description.contains("--subnets"))
        }
    }
}
