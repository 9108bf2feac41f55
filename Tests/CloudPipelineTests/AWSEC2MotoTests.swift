@testable import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Testing

/// EC2Client (query protocol) against a real moto server with SigV4 checking on.
@Suite("AWS EC2 on moto")
struct AWSEC2MotoTests {
    func client(_ moto: MotoEnvironment) -> EC2Client { EC2Client(configuration: moto.configuration()) }

    /// A key pair, security group, subnet and instance profile made with boto3 (moto checks
    /// that RunInstances names existing ones).
    func launchPrerequisites(_ moto: MotoEnvironment) async throws -> [String: String] {
        let name = MotoEnvironment.uniqueName("pre")
        let result = try await Boto3.json("""
            ec2 = client("ec2"); iam = client("iam"); n = sys.argv[1]
            ec2.create_key_pair(KeyName=n)
            vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
            sg = ec2.create_security_group(GroupName=n, Description="workers", VpcId=vpc)["GroupId"]
            subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][0]["SubnetId"]
            iam.create_instance_profile(InstanceProfileName=n)
            print(json.dumps({"key": n, "sg": sg, "subnet": subnet, "profile": n}))
            """, [name], moto: moto)
        return try #require(result as? [String: String])
    }

    @Test("RunInstances with every option; DescribeInstances by tag; TerminateInstances")
    func lifecycle() async throws {
        let moto = try await MotoEnvironment.shared()
        let ec2 = client(moto)
        let pre = try await launchPrerequisites(moto)
        let pipeline = MotoEnvironment.uniqueName("pipeline")
        let userData = "#!/bin/bash\necho \"start worker\" > /tmp/w\n"
        let launched = try await ec2.runInstances(EC2RunInstancesRequest(
            imageId: "ami-0abcdef1234567890", instanceType: "t2.micro", minCount: 2, maxCount: 2, keyName: pre["key"],
            securityGroupIds: [try #require(pre["sg"])], subnetId: pre["subnet"], userData: userData,
            tags: ["facerec:pipeline": pipeline, "Name": "worker"], iamInstanceProfileName: pre["profile"]))
        #expect(launched.count == 2)
        #expect(launched.allSatisfy { $0.instanceId.hasPrefix("i-") && $0.imageId == "ami-0abcdef1234567890" && $0.instanceType == "t2.micro" })
        #expect(launched.allSatisfy { $0.subnetId == pre["subnet"] })

        let found = try await ec2.describeAllInstances(filters: [EC2Filter(name: "tag:facerec:pipeline", values: [pipeline])])
        #expect(Set(found.map(\.instanceId)) == Set(launched.map(\.instanceId)))
        #expect(found.allSatisfy { $0.tags["Name"] == "worker" && $0.tags["facerec:pipeline"] == pipeline })
        #expect(found.allSatisfy { $0.launchTime != nil })

        // boto3 confirms what was stored: user data (decoded), key, group, profile.
        let stored = try await Boto3.json("""
            ec2 = client("ec2"); i = sys.argv[1]
            d = ec2.describe_instances(InstanceIds=[i])["Reservations"][0]["Instances"][0]
            ud = ec2.describe_instance_attribute(InstanceId=i, Attribute="userData")["UserData"]["Value"]
            print(json.dumps({"userData": base64.b64decode(ud).decode(), "key": d.get("KeyName"),
                              "sg": [g["GroupId"] for g in d["SecurityGroups"]], "profile": d.get("IamInstanceProfile", {}).get("Arn", "")}))
            """, [launched[0].instanceId], moto: moto) as? [String: Any]
        #expect(stored?["userData"] as? String == userData)
        #expect(stored?["key"] as? String == pre["key"])
        #expect(stored?["sg"] as? [String] == [pre["sg"]!])
        #expect((stored?["profile"] as? String)?.hasSuffix("/" + pre["profile"]!) == true)

        let changes = try await ec2.terminateInstances(launched.map(\.instanceId))
        #expect(Set(changes.map(\.instanceId)) == Set(launched.map(\.instanceId)))
        #expect(changes.allSatisfy { ["shutting-down", "terminated"].contains($0.currentState) && $0.previousState == "running" })
        let live = try await ec2.describeAllInstances(filters: [
            EC2Filter(name: "tag:facerec:pipeline", values: [pipeline]), EC2Filter(name: "instance-state-name", values: ["pending", "running"]),
        ])
        #expect(live.isEmpty)
    }

    @Test("DescribeInstances pages with NextToken")
    func pagination() async throws {
        let moto = try await MotoEnvironment.shared()
        let ec2 = client(moto)
        let pipeline = MotoEnvironment.uniqueName("paged")
        // moto pages by reservation (one per RunInstances call), as MaxResults is documented
        // to count instances but moto counts reservations: seven launches of one.
        var launched: [EC2Instance] = []
        for _ in 0..<7 {
            launched += try await ec2.runInstances(EC2RunInstancesRequest(
                imageId: "ami-12345678", instanceType: "t3.small", tags: ["facerec:pipeline": pipeline]))
        }
        let filter = [EC2Filter(name: "tag:facerec:pipeline", values: [pipeline])]
        let first = try await ec2.describeInstances(filters: filter, maxResults: 5)
        #expect(first.nextToken != nil)
        let all = try await ec2.describeAllInstances(filters: filter, pageSize: 5)
        #expect(Set(all.map(\.instanceId)) == Set(launched.map(\.instanceId)))
        #expect(all.count == 7)
        _ = try await ec2.terminateInstances(launched.map(\.instanceId))
    }

    @Test("a wrong secret is rejected with 401 AuthFailure")
    func authentication() async throws {
        let moto = try await MotoEnvironment.shared()
        let bad = EC2Client(configuration: moto.configuration(
            credentials: AWSCredentials(accessKeyId: moto.accessKeyId, secretAccessKey: "not-the-secret")))
        await #expect(throws: AWSServiceError.self) { _ = try await bad.describeInstances() }
        do {
            _ = try await bad.describeInstances()
        } catch let error as AWSServiceError {
            #expect(error.service == "ec2" && error.statusCode == 401 && error.code == "AuthFailure")
        }
    }

    @Test("EC2InstanceProvider: launch tags, running() sees only its own, terminate refuses strangers")
    func instanceProvider() async throws {
        let moto = try await MotoEnvironment.shared()
        let ec2 = client(moto)
        let provider = EC2InstanceProvider(client: ec2, template: EC2RunInstancesRequest(imageId: "ami-12345678", instanceType: "t2.micro",
                                                                                          userData: "#!/bin/bash\n"),
                                           tagValue: MotoEnvironment.uniqueName("prov"), limit: 5)
        let stranger = try #require(try await ec2.runInstances(EC2RunInstancesRequest(imageId: "ami-12345678", instanceType: "t2.micro")).first)
        let workers = try await provider.launch(count: 2)
        #expect(workers.count == 2)
        let running = try await provider.running()
        #expect(Set(running.map(\.id)) == Set(workers.map(\.id)))
        #expect(running.allSatisfy { $0.state == .running || $0.state == .pending })
        await #expect(throws: InstanceProviderError.unknownInstance(stranger.instanceId)) {
            try await provider.terminate([workers[0].id, stranger.instanceId])
        }
        await #expect(throws: InstanceProviderError.invalidCount(6, limit: 5)) { _ = try await provider.launch(count: 6) }
        try await provider.terminate([workers[0].id])
        #expect(try await provider.running().map(\.id) == [workers[1].id])
        // Terminating again is fine (already gone).
        try await provider.terminate([workers[0].id, workers[1].id])
        #expect(try await provider.running().isEmpty)
        _ = try await ec2.terminateInstances([stranger.instanceId])
    }
}
