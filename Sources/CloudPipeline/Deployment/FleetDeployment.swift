import Foundation
import Logging

/// Deploys the worker fleet as an EC2 Auto Scaling group, idempotently, against AWS or moto:
///
/// 1. IAM roles `<fleet>-server`, `<fleet>-worker`, `<fleet>-scaler` (trusted by EC2), each with
///    one least-privilege inline policy filled in from `deploy/aws/*-policy.json`, and an
///    instance profile of the same name holding the role;
/// 2. launch template `<fleet>`: ``Settings/amiId``, instance type, the worker's instance
///    profile, IMDSv2 required, and user data (``WorkerBootstrapScript``) that installs the
///    worker from `s3://<artifacts bucket>/<prefix>/` into ``WorkerInstallLayout`` and starts
///    it under systemd; a changed template becomes a new version, made the default;
/// 3. Auto Scaling group `<fleet>` (min 0, max ``Settings/maxSize``, the subnets) on the
///    template's `$Latest` version, sending `GroupInServiceInstances` to CloudWatch;
/// 4. target-tracking policy `<fleet>-backlog-per-instance`: metric math `m1 / m2` with m1 the
///    input queue's `ApproximateNumberOfMessagesVisible` and m2 the group's
///    `GroupInServiceInstances`, target ``Settings/targetBacklogPerInstance``;
/// 5. lifecycle hook `<fleet>-drain` on `autoscaling:EC2_INSTANCE_TERMINATING` (heartbeat
///    timeout ``Settings/heartbeatTimeout``, default result CONTINUE), so a worker being scaled
///    in can finish its jobs.
///
/// Every resource is reported as created, updated or unchanged; a second run with the same
/// settings changes nothing.
public struct FleetDeployment: Sendable {
    public struct Settings: Sendable, Hashable {
        /// Names the roles, instance profiles, launch template, group, policy and hook.
        public var fleetName: String
        public var artifactsBucket: String
        /// Key prefix of the artifacts (no leading or trailing slash).
        public var artifactsPrefix: String
        public var subnetIds: [String]
        public var instanceType: String
        public var amiId: String
        public var securityGroupIds: [String]
        public var keyName: String?
        public var maxSize: Int
        /// Seconds an image may wait in the queue, at most.
        public var latencyTarget: Double
        /// Seconds one instance takes per image.
        public var secondsPerImage: Double
        /// Seconds a terminating instance may take to drain (per heartbeat).
        public var heartbeatTimeout: Int
        public var workerConcurrency: Int?
        public var threshold: Float?

        public init(fleetName: String = "facerec-workers", artifactsBucket: String, artifactsPrefix: String = "facerec",
                    subnetIds: [String], instanceType: String = "c6i.large", amiId: String, securityGroupIds: [String] = [],
                    keyName: String? = nil, maxSize: Int = 4, latencyTarget: Double = 60, secondsPerImage: Double = 0.5,
                    heartbeatTimeout: Int = 300, workerConcurrency: Int? = nil, threshold: Float? = nil) {
            self.fleetName = fleetName
            self.artifactsBucket = artifactsBucket
            self.artifactsPrefix = artifactsPrefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            self.subnetIds = subnetIds
            self.instanceType = instanceType
            self.amiId = amiId
            self.securityGroupIds = securityGroupIds
            self.keyName = keyName
            self.maxSize = maxSize
            self.latencyTarget = latencyTarget
            self.secondsPerImage = secondsPerImage
            self.heartbeatTimeout = heartbeatTimeout
            self.workerConcurrency = workerConcurrency
            self.threshold = threshold
        }

        /// Messages per in-service instance the group aims for: latency target / seconds per image.
        public var targetBacklogPerInstance: Double { latencyTarget / secondsPerImage }

        public var groupName: String { fleetName }
        public var launchTemplateName: String { fleetName }
        public var scalingPolicyName: String { fleetName + "-backlog-per-instance" }
        public var lifecycleHookName: String { fleetName + "-drain" }
        public func roleName(_ role: Role) -> String { "\(fleetName)-\(role.rawValue)" }
        public func policyName(_ role: Role) -> String { "facerec-\(role.rawValue)" }
        /// `s3://bucket/prefix`.
        public var artifactsURI: String {
            artifactsPrefix.isEmpty ? "s3://\(artifactsBucket)" : "s3://\(artifactsBucket)/\(artifactsPrefix)"
        }

        /// Checks the values, in operator words.
        public func validate() throws(FleetDeploymentError) {
            func fail(_ text: String) -> FleetDeploymentError { .invalidSetting(text) }
            if fleetName.isEmpty || !fleetName.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) || fleetName.count > 48 {
                throw fail("the fleet name \(fleetName.debugDescription) must be 1–48 letters, digits, '-' or '_' (it names IAM roles and the group)")
            }
            if artifactsBucket.isEmpty { throw fail("name the artifacts bucket (--artifacts-bucket) that holds the worker's executable, weights and gallery") }
            if subnetIds.isEmpty { throw fail("name at least one subnet (--subnets subnet-a,subnet-b), ideally one per availability zone") }
            if amiId.isEmpty { throw fail("name the worker AMI (--ami or AMI_ID)") }
            if maxSize < 1 { throw fail("the largest fleet size (--max-size) must be at least 1, not \(maxSize)") }
            if !(latencyTarget > 0) || !(secondsPerImage > 0) {
                throw fail("--latency-target and --seconds-per-image must be positive seconds (the target backlog per instance is their ratio)")
            }
            if heartbeatTimeout < 30 || heartbeatTimeout > 7200 {
                throw fail("the drain time (--drain-timeout) must be 30–7200 seconds, as Auto Scaling allows, not \(heartbeatTimeout)")
            }
        }
    }

    /// The three roles.
    public enum Role: String, Sendable, CaseIterable {
        case server, worker, scaler

        /// The shipped policy template.
        public var policyTemplate: String {
            switch self {
            case .server: return DeploymentAssets.serverPolicy
            case .worker: return DeploymentAssets.workerPolicy
            case .scaler: return DeploymentAssets.scalerPolicy
            }
        }
    }

    /// What happened to one resource.
    public enum Outcome: String, Sendable, Hashable {
        case created, updated, unchanged
    }

    public struct Change: Sendable, Hashable, CustomStringConvertible {
        /// `IAM role`, `inline policy`, `launch template`, ...
        public let kind: String
        public let name: String
        public let outcome: Outcome
        public let detail: String?

        public var description: String {
            "\(outcome.rawValue) \(kind) \(name)" + (detail.map { ": \($0)" } ?? "")
        }
    }

    public struct Report: Sendable {
        public var changes: [Change] = []
        /// True when nothing was created or updated.
        public var isUnchanged: Bool { changes.allSatisfy { $0.outcome == .unchanged } }

        mutating func record(_ kind: String, _ name: String, _ outcome: Outcome, _ detail: String? = nil) {
            changes.append(Change(kind: kind, name: name, outcome: outcome, detail: detail))
        }
    }

    /// The resolved names and documents, computed without calling AWS (what `--dry-run` prints).
    public struct Plan: Sendable {
        public let settings: Settings
        public let region: String
        public let accountId: String
        /// Placeholder → value.
        public let values: [String: String]
        /// Role → its inline policy, placeholders filled.
        public let policies: [Role: String]
        public let userData: String
        public let scalingPolicy: TargetTrackingScalingPolicy
        public let lifecycleHook: LifecycleHook
        public let launchTemplateData: EC2LaunchTemplateData
        public let group: AutoScalingGroupRequest

        /// Readable summary, one line per resource.
        public var summary: [String] {
            let s = settings
            var lines: [String] = []
            for role in Role.allCases {
                lines.append("IAM role \(s.roleName(role)) (trusted by EC2) with inline policy \(s.policyName(role)), instance profile \(s.roleName(role))")
            }
            lines.append("launch template \(s.launchTemplateName): AMI \(s.amiId), \(s.instanceType), instance profile \(s.roleName(.worker)), IMDSv2, user data installing from \(s.artifactsURI)/")
            lines.append("Auto Scaling group \(s.groupName): min 0, max \(s.maxSize), subnets \(s.subnetIds.joined(separator: ",")), launch template \(s.launchTemplateName) $Latest, group metric GroupInServiceInstances to CloudWatch")
            lines.append("target tracking policy \(s.scalingPolicyName): backlog per instance (m1 / m2) at \(AWSQueryParameters.number(s.targetBacklogPerInstance)) = \(s.latencyTarget) s / \(s.secondsPerImage) s per image")
            lines.append("lifecycle hook \(s.lifecycleHookName): \(LifecycleHook.terminating), heartbeat timeout \(s.heartbeatTimeout) s, default CONTINUE")
            return lines
        }
    }

    public let settings: Settings
    private let logger: Logger

    public init(settings: Settings, logger: Logger = Logger(label: "facerec.deploy")) {
        self.settings = settings
        self.logger = logger
    }

    /// The variables of worker.env copied from the deploying environment (no credentials).
    public static let forwardedVariables = [
        "INPUT_QUEUE_URL", "OUTPUT_QUEUE_URL", "INPUT_BUCKET", "OUTPUT_BUCKET", "DEAD_LETTER_QUEUE_URL",
        "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_AUTO_SCALING",
        "FACEREC_S3_NOTIFICATIONS", "LOG_LEVEL",
    ]

    /// Names, policy documents, user data: everything but the calls.
    public func plan(_ cloud: CloudConfiguration, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Plan {
        try settings.validate()
        let s = settings
        let inputBucket = try cloud.require(\.inputBucket, "INPUT_BUCKET")
        let outputBucket = try cloud.require(\.outputBucket, "OUTPUT_BUCKET")
        let inputQueueURL = try cloud.require(\.inputQueueURL, "INPUT_QUEUE_URL")
        let outputQueueURL = try cloud.require(\.outputQueueURL, "OUTPUT_QUEUE_URL")
        let input = try Self.queue(inputQueueURL, variable: "INPUT_QUEUE_URL")
        let output = try Self.queue(outputQueueURL, variable: "OUTPUT_QUEUE_URL")
        let region = cloud.region
        let partition = region.hasPrefix("cn-") ? "aws-cn" : region.hasPrefix("us-gov-") ? "aws-us-gov" : "aws"
        let account = input.account
        let values = [
            "INPUT_BUCKET_ARN": "arn:\(partition):s3:::\(inputBucket)",
            "OUTPUT_BUCKET_ARN": "arn:\(partition):s3:::\(outputBucket)",
            "INPUT_QUEUE_ARN": "arn:\(partition):sqs:\(region):\(account):\(input.name)",
            "OUTPUT_QUEUE_ARN": "arn:\(partition):sqs:\(region):\(output.account):\(output.name)",
            "ARTIFACTS_ARN": "arn:\(partition):s3:::\(s.artifactsBucket)" + (s.artifactsPrefix.isEmpty ? "" : "/\(s.artifactsPrefix)"),
            "AUTO_SCALING_GROUP_ARN": "arn:\(partition):autoscaling:\(region):\(account):autoScalingGroup:*:autoScalingGroupName/\(s.groupName)",
            "WORKER_ROLE_ARN": "arn:\(partition):iam::\(account):role/\(s.roleName(.worker))",
            "FLEET_NAME": s.fleetName,
        ]
        var policies: [Role: String] = [:]
        for role in Role.allCases { policies[role] = try Self.fill(role.policyTemplate, values, name: "\(role.rawValue)-policy.json") }

        var variables: [(name: String, value: String)] = []
        for name in Self.forwardedVariables {
            if let value = environment[name], !value.isEmpty { variables.append((name, value)) }
        }
        variables.append(("AWS_REGION", region))
        variables.append(("FACEREC_ASG_NAME", s.groupName))
        variables.append(("FACEREC_LIFECYCLE_HOOK", s.lifecycleHookName))
        let script = WorkerBootstrapScript(
            variables: variables,
            workerArguments: WorkerInstallLayout.workerArguments(identify: true, threshold: s.threshold, concurrency: s.workerConcurrency),
            artifacts: s.artifactsURI, region: region, origin: "written by facerec-server deploy for fleet \(s.fleetName)").script

        let template = EC2LaunchTemplateData(
            imageId: s.amiId, instanceType: s.instanceType, userData: script, iamInstanceProfileName: s.roleName(.worker),
            securityGroupIds: s.securityGroupIds, keyName: s.keyName, httpTokens: "required",
            instanceTags: ["Name": "facerec-worker", "facerec:fleet": s.fleetName])
        let group = AutoScalingGroupRequest(
            name: s.groupName, launchTemplate: AutoScalingLaunchTemplate(launchTemplateName: s.launchTemplateName, version: "$Latest"),
            minSize: 0, maxSize: s.maxSize, subnetIds: s.subnetIds, tags: ["facerec:fleet": s.fleetName])
        let scaling = TargetTrackingScalingPolicy(
            groupName: s.groupName, policyName: s.scalingPolicyName, targetValue: s.targetBacklogPerInstance,
            metrics: Self.backlogPerInstance(queueName: input.name, groupName: s.groupName))
        let hook = LifecycleHook(groupName: s.groupName, hookName: s.lifecycleHookName, transition: LifecycleHook.terminating,
                                 heartbeatTimeout: s.heartbeatTimeout, defaultResult: "CONTINUE")
        return Plan(settings: s, region: region, accountId: account, values: values, policies: policies, userData: script,
                    scalingPolicy: scaling, lifecycleHook: hook, launchTemplateData: template, group: group)
    }

    /// m1 = visible messages of the input queue, m2 = in-service instances, e1 = m1 / m2.
    public static func backlogPerInstance(queueName: String, groupName: String) -> [TargetTrackingMetricQuery] {
        [
            TargetTrackingMetricQuery(id: "m1", metricStat: .init(
                namespace: "AWS/SQS", metricName: "ApproximateNumberOfMessagesVisible",
                dimensions: [MetricDimension(name: "QueueName", value: queueName)], stat: "Sum"),
                label: "Visible messages in the input queue", returnData: false),
            TargetTrackingMetricQuery(id: "m2", metricStat: .init(
                namespace: "AWS/AutoScaling", metricName: "GroupInServiceInstances",
                dimensions: [MetricDimension(name: "AutoScalingGroupName", value: groupName)], stat: "Average"),
                label: "In-service instances", returnData: false),
            TargetTrackingMetricQuery(id: "e1", expression: "m1 / m2", label: "Backlog per instance", returnData: true),
        ]
    }

    /// Creates or updates everything; returns what changed.
    public func run(_ cloud: CloudConfiguration, environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> Report {
        let plan = try plan(cloud, environment: environment)
        let credentials = cloud.credentialsProvider()
        let iam = IAMClient(configuration: cloud.clientConfiguration(for: .iam, credentials: credentials, logger: logger))
        let ec2 = EC2Client(configuration: cloud.clientConfiguration(for: .ec2, credentials: credentials, logger: logger))
        let autoScaling = AutoScalingClient(configuration: cloud.clientConfiguration(for: .autoScaling, credentials: credentials, logger: logger))
        var report = Report()
        do {
            for role in Role.allCases { try await ensureRole(role, plan: plan, iam: iam, report: &report) }
            try await checkSubnets(ec2)
            try await ensureLaunchTemplate(plan, ec2: ec2, report: &report)
            try await ensureGroup(plan, autoScaling: autoScaling, report: &report)
            try await ensureScalingPolicy(plan, autoScaling: autoScaling, report: &report)
            try await ensureLifecycleHook(plan, autoScaling: autoScaling, report: &report)
        } catch let error as AWSServiceError {
            throw FleetDeploymentError.service(error, done: report.changes)
        }
        return report
    }

    // MARK: Steps

    private func ensureRole(_ role: Role, plan: Plan, iam: IAMClient, report: inout Report) async throws {
        let name = settings.roleName(role)
        do {
            let current = try await iam.getRole(name: name)
            if let trust = current.assumeRolePolicyDocument, !Self.sameJSON(trust, DeploymentAssets.ec2TrustPolicy) {
                try await iam.updateAssumeRolePolicy(roleName: name, policyDocument: DeploymentAssets.ec2TrustPolicy)
                report.record("IAM role", name, .updated, "trusted by EC2 only")
            } else {
                report.record("IAM role", name, .unchanged)
            }
        } catch let error as AWSServiceError where error.code == "NoSuchEntity" {
            _ = try await iam.createRole(name: name, assumeRolePolicyDocument: DeploymentAssets.ec2TrustPolicy,
                                         description: "facerec \(role.rawValue) (fleet \(settings.fleetName))")
            report.record("IAM role", name, .created)
        }

        let policyName = settings.policyName(role)
        let wanted = plan.policies[role]!
        let label = "\(name)/\(policyName)"
        do {
            let current = try await iam.getRolePolicy(roleName: name, policyName: policyName)
            if Self.sameJSON(current, wanted) {
                report.record("inline policy", label, .unchanged)
            } else {
                try await iam.putRolePolicy(roleName: name, policyName: policyName, policyDocument: wanted)
                report.record("inline policy", label, .updated)
            }
        } catch let error as AWSServiceError where error.code == "NoSuchEntity" {
            try await iam.putRolePolicy(roleName: name, policyName: policyName, policyDocument: wanted)
            report.record("inline policy", label, .created)
        }

        let profile: IAMInstanceProfile
        var created = false
        do {
            profile = try await iam.getInstanceProfile(name: name)
        } catch let error as AWSServiceError where error.code == "NoSuchEntity" {
            profile = try await iam.createInstanceProfile(name: name)
            created = true
        }
        if profile.roles.contains(where: { $0.roleName == name }) {
            report.record("instance profile", name, created ? .created : .unchanged)
        } else {
            try await iam.addRoleToInstanceProfile(instanceProfileName: name, roleName: name)
            report.record("instance profile", name, created ? .created : .updated, "holds role \(name)")
        }
    }

    private func checkSubnets(_ ec2: EC2Client) async throws {
        do {
            let found = Set(try await ec2.describeSubnets(ids: settings.subnetIds).map(\.subnetId))
            let missing = settings.subnetIds.filter { !found.contains($0) }
            if !missing.isEmpty { throw FleetDeploymentError.unknownSubnets(missing) }
        } catch let error as AWSServiceError where error.code.hasPrefix("InvalidSubnetID") {
            throw FleetDeploymentError.unknownSubnets(settings.subnetIds, detail: error.message)
        }
    }

    private func ensureLaunchTemplate(_ plan: Plan, ec2: EC2Client, report: inout Report) async throws {
        let name = settings.launchTemplateName
        let existing: [EC2LaunchTemplate]
        do {
            existing = try await ec2.describeLaunchTemplates(names: [name])
        } catch let error as AWSServiceError where error.code.hasPrefix("InvalidLaunchTemplateName.NotFound") || error.code == "InvalidLaunchTemplateId.NotFound" {
            existing = []
        }
        guard !existing.isEmpty else {
            let template = try await ec2.createLaunchTemplate(name: name, data: plan.launchTemplateData, versionDescription: "facerec-server deploy")
            report.record("launch template", name, .created, "version \(template.latestVersionNumber)")
            return
        }
        let latest = try await ec2.describeLaunchTemplateVersions(name: name, versions: ["$Latest"]).first
        if let latest, Self.sameTemplate(latest.data, plan.launchTemplateData) {
            if !latest.defaultVersion {
                try await ec2.modifyLaunchTemplate(name: name, defaultVersion: latest.versionNumber)
                report.record("launch template", name, .updated, "default version \(latest.versionNumber)")
            } else {
                report.record("launch template", name, .unchanged, "version \(latest.versionNumber)")
            }
            return
        }
        let version = try await ec2.createLaunchTemplateVersion(name: name, data: plan.launchTemplateData, versionDescription: "facerec-server deploy")
        try await ec2.modifyLaunchTemplate(name: name, defaultVersion: version.versionNumber)
        report.record("launch template", name, .updated, "new version \(version.versionNumber), now the default")
    }

    /// The group metric the scaling policy divides by; CloudWatch only has it when the group
    /// sends it.
    static let groupMetrics = ["GroupInServiceInstances"]

    private func ensureGroup(_ plan: Plan, autoScaling: AutoScalingClient, report: inout Report) async throws {
        let wanted = plan.group
        guard let group = try await autoScaling.describeAutoScalingGroups(names: [wanted.name]).first(where: { $0.name == wanted.name }) else {
            try await Self.whileProfilePropagates(logger: logger) { try await autoScaling.createAutoScalingGroup(wanted) }
            report.record("Auto Scaling group", wanted.name, .created, "min 0, max \(wanted.maxSize)")
            try await autoScaling.enableMetricsCollection(groupName: wanted.name, metrics: Self.groupMetrics)
            report.record("group metrics", wanted.name, .created, Self.groupMetrics.joined(separator: ", "))
            return
        }
        let metricsOutcome: Outcome
        if Set(Self.groupMetrics).isSubset(of: group.enabledMetrics) {
            metricsOutcome = .unchanged
        } else {
            try await autoScaling.enableMetricsCollection(groupName: wanted.name, metrics: Self.groupMetrics)
            metricsOutcome = .updated
        }
        let same = group.minSize == wanted.minSize && group.maxSize == wanted.maxSize
            && Set(group.subnetIds) == Set(wanted.subnetIds)
            && group.launchTemplate?.launchTemplateName == wanted.launchTemplate.launchTemplateName
            && group.launchTemplate?.version == wanted.launchTemplate.version
        if same {
            report.record("Auto Scaling group", wanted.name, .unchanged)
        } else {
            try await Self.whileProfilePropagates(logger: logger) { try await autoScaling.updateAutoScalingGroup(wanted) }
            report.record("Auto Scaling group", wanted.name, .updated, "min 0, max \(wanted.maxSize), subnets \(wanted.subnetIds.joined(separator: ","))")
        }
        report.record("group metrics", wanted.name, metricsOutcome, metricsOutcome == .unchanged ? nil : Self.groupMetrics.joined(separator: ", "))
    }

    private func ensureScalingPolicy(_ plan: Plan, autoScaling: AutoScalingClient, report: inout Report) async throws {
        let wanted = plan.scalingPolicy
        let current = try await autoScaling.describePolicies(groupName: wanted.groupName, policyNames: [wanted.policyName])
            .first { $0.policyName == wanted.policyName }
        if let current, current.targetValue == wanted.targetValue, current.metrics == wanted.metrics,
           current.disableScaleIn == wanted.disableScaleIn {
            report.record("scaling policy", wanted.policyName, .unchanged)
            return
        }
        try await autoScaling.putScalingPolicy(wanted)
        report.record("scaling policy", wanted.policyName, current == nil ? .created : .updated,
                      "target \(AWSQueryParameters.number(wanted.targetValue)) messages per instance")
    }

    private func ensureLifecycleHook(_ plan: Plan, autoScaling: AutoScalingClient, report: inout Report) async throws {
        let wanted = plan.lifecycleHook
        let current = try await autoScaling.describeLifecycleHooks(groupName: wanted.groupName, hookNames: [wanted.hookName])
            .first { $0.hookName == wanted.hookName }
        if current == wanted {
            report.record("lifecycle hook", wanted.hookName, .unchanged)
            return
        }
        try await autoScaling.putLifecycleHook(wanted)
        report.record("lifecycle hook", wanted.hookName, current == nil ? .created : .updated,
                      "drain up to \(wanted.heartbeatTimeout) s on scale-in")
    }

    // MARK: Helpers

    /// Runs `call`, retrying for up to about a minute while Auto Scaling does not yet see a
    /// freshly created instance profile (IAM is eventually consistent: `ValidationError` "Invalid
    /// IamInstanceProfile" for some seconds after CreateInstanceProfile).
    static func whileProfilePropagates(logger: Logger, attempts: Int = 12, pause: Duration = .seconds(5),
                                       _ call: () async throws -> Void) async throws {
        var attempt = 1
        while true {
            do {
                return try await call()
            } catch let error as AWSServiceError where error.code == "ValidationError" && attempt < attempts
                        && Self.mentionsInstanceProfile(error.message) {
                logger.info("the new instance profile is not visible to Auto Scaling yet; retrying", metadata: ["attempt": "\(attempt)"])
                attempt += 1
                try await Task.sleep(for: pause)
            }
        }
    }

    static func mentionsInstanceProfile(_ message: String?) -> Bool {
        let text = (message ?? "").lowercased()
        return text.contains("instanceprofile") || text.contains("instance profile")
    }

    /// Account and name from a queue URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`).
    static func queue(_ url: String, variable: String) throws(FleetDeploymentError) -> (account: String, name: String) {
        let parts = (URL(string: url)?.path ?? "").split(separator: "/").map(String.init)
        guard parts.count == 2, parts[0].count == 12, parts[0].allSatisfy(\.isNumber) else {
            throw .invalidSetting("\(variable) \(url.debugDescription) is not a queue URL of the form https://sqs.<region>.amazonaws.com/<account>/<name> (run `facerec-server setup` and export what it prints)")
        }
        return (parts[0], parts[1])
    }

    /// Replaces every `${NAME}` in `template`; a placeholder without a value is an error.
    static func fill(_ template: String, _ values: [String: String], name: String) throws(FleetDeploymentError) -> String {
        var text = template
        for (key, value) in values { text = text.replacingOccurrences(of: "${\(key)}", with: value) }
        if let range = text.range(of: "${") {
            let rest = text[range.lowerBound...].prefix { $0 != "}" }
            throw .invalidSetting("\(name) has a placeholder \(rest)} that deploy does not fill")
        }
        return text
    }

    /// Whether two JSON documents are equal as values (key order and spacing aside).
    static func sameJSON(_ a: String, _ b: String) -> Bool {
        func normal(_ text: String) -> Data? {
            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) else { return nil }
            return try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        }
        guard let x = normal(a), let y = normal(b) else { return a == b }
        return x == y
    }

    static func sameTemplate(_ current: EC2LaunchTemplateData, _ wanted: EC2LaunchTemplateData) -> Bool {
        current.imageId == wanted.imageId && current.instanceType == wanted.instanceType && current.userData == wanted.userData
            && (current.iamInstanceProfileName == wanted.iamInstanceProfileName)
            && Set(current.securityGroupIds) == Set(wanted.securityGroupIds) && current.keyName == wanted.keyName
            && (current.httpTokens ?? wanted.httpTokens) == wanted.httpTokens
    }
}

/// Why a deployment stopped, in operator words.
public enum FleetDeploymentError: Error, Sendable, CustomStringConvertible {
    case invalidSetting(String)
    case unknownSubnets([String], detail: String? = nil)
    /// AWS refused a call; `done` lists what had been done before.
    case service(AWSServiceError, done: [FleetDeployment.Change])

    public var description: String {
        switch self {
        case .invalidSetting(let text):
            return text
        case .unknownSubnets(let ids, let detail):
            return "subnet(s) \(ids.joined(separator: ", ")) do not exist in this region (check --subnets and AWS_REGION)" + (detail.map { ": \($0)" } ?? "")
        case .service(let error, let done):
            var text: String
            switch error.code {
            case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
                text = "AWS refused \(error.operation): the deploying credentials need IAM, EC2 launch-template and Auto Scaling rights (see docs/SERVICE.md, Deploy to AWS)"
            case "InvalidClientTokenId", "SignatureDoesNotMatch", "AuthFailure", "ExpiredToken":
                text = "AWS did not accept the credentials (\(error.code)) for \(error.operation): check AWS_ACCESS_KEY_ID / AWS_PROFILE"
            case "LimitExceeded", "LimitExceededException":
                text = "an AWS limit was reached in \(error.operation)"
            default:
                text = "\(error.service) \(error.operation) failed with \(error.code)"
            }
            if let message = error.message, !message.isEmpty { text += " — \(message)" }
            if !done.isEmpty {
                text += ". Done before that: " + done.map(\.description).joined(separator: "; ") + ". Running deploy again continues from here."
            }
            return text
        }
    }
}
