import Foundation

/// A small EC2 Auto Scaling client on the query protocol (`Version=2011-01-01`, signing name
/// `autoscaling`). Errors come back as ``AWSServiceError`` with the service's codes:
/// `AlreadyExists` (CreateAutoScalingGroup), `ValidationError` (unknown group, bad values,
/// no active lifecycle action), `ResourceContention`.
public struct AutoScalingClient: Sendable {
    let core: AWSServiceCore
    static let apiVersion = "2011-01-01"

    public init(configuration: AWSClientConfiguration) {
        core = AWSServiceCore(service: "autoscaling", configuration: configuration)
    }

    // MARK: Groups

    public func createAutoScalingGroup(_ request: AutoScalingGroupRequest) async throws {
        var params = Self.groupParameters(request)
        for (index, tag) in request.tags.sorted(by: { $0.key < $1.key }).enumerated() {
            let prefix = "Tags.member.\(index + 1)."
            params.add(prefix + "Key", tag.key)
            params.add(prefix + "Value", tag.value)
            params.add(prefix + "PropagateAtLaunch", true)
            params.add(prefix + "ResourceId", request.name)
            params.add(prefix + "ResourceType", "auto-scaling-group")
        }
        _ = try await call("CreateAutoScalingGroup", params, idempotent: false)
    }

    /// Sets sizes, subnets and launch template of an existing group (tags are not touched).
    public func updateAutoScalingGroup(_ request: AutoScalingGroupRequest) async throws {
        _ = try await call("UpdateAutoScalingGroup", Self.groupParameters(request), idempotent: true)
    }

    /// The groups called `names` (every one if empty); unknown names are simply absent.
    public func describeAutoScalingGroups(names: [String] = []) async throws -> [AutoScalingGroup] {
        var groups: [AutoScalingGroup] = []
        var token: String?
        repeat {
            var params = AWSQueryParameters()
            for (index, name) in names.enumerated() { params.add("AutoScalingGroupNames.member.\(index + 1)", name) }
            params.add("NextToken", token)
            let xml = try await call("DescribeAutoScalingGroups", params, idempotent: true)
            groups += (xml.first("AutoScalingGroups")?.children("member") ?? []).map(Self.group)
            token = xml.first("NextToken")?.text.nilIfEmpty
        } while token != nil
        return groups
    }

    /// Sends the group metrics `metrics` (all of them if empty) to CloudWatch every minute:
    /// target tracking on a group metric needs them.
    public func enableMetricsCollection(groupName: String, metrics: [String], granularity: String = "1Minute") async throws {
        var params = AWSQueryParameters()
        params.add("AutoScalingGroupName", groupName)
        for (index, metric) in metrics.enumerated() { params.add("Metrics.member.\(index + 1)", metric) }
        params.add("Granularity", granularity)
        _ = try await call("EnableMetricsCollection", params, idempotent: true)
    }

    // MARK: Scaling policies

    /// Creates or replaces a target-tracking policy; returns its ARN.
    @discardableResult
    public func putScalingPolicy(_ policy: TargetTrackingScalingPolicy) async throws -> String {
        var params = AWSQueryParameters()
        params.add("AutoScalingGroupName", policy.groupName)
        params.add("PolicyName", policy.policyName)
        params.add("PolicyType", "TargetTrackingScaling")
        let prefix = "TargetTrackingConfiguration."
        params.add(prefix + "TargetValue", policy.targetValue)
        params.add(prefix + "DisableScaleIn", policy.disableScaleIn)
        for (index, query) in policy.metrics.enumerated() {
            let entry = prefix + "CustomizedMetricSpecification.Metrics.member.\(index + 1)."
            params.add(entry + "Id", query.id)
            params.add(entry + "Expression", query.expression)
            if let stat = query.metricStat {
                params.add(entry + "MetricStat.Metric.Namespace", stat.namespace)
                params.add(entry + "MetricStat.Metric.MetricName", stat.metricName)
                for (dimensionIndex, dimension) in stat.dimensions.enumerated() {
                    params.add(entry + "MetricStat.Metric.Dimensions.member.\(dimensionIndex + 1).Name", dimension.name)
                    params.add(entry + "MetricStat.Metric.Dimensions.member.\(dimensionIndex + 1).Value", dimension.value)
                }
                params.add(entry + "MetricStat.Stat", stat.stat)
                params.add(entry + "MetricStat.Unit", stat.unit)
            }
            params.add(entry + "Label", query.label)
            params.add(entry + "ReturnData", query.returnData)
        }
        let xml = try await call("PutScalingPolicy", params, idempotent: true)
        return xml.first("PolicyARN")?.text ?? ""
    }

    /// The group's target-tracking policies (named `policyNames`, or all of them).
    public func describePolicies(groupName: String, policyNames: [String] = []) async throws -> [TargetTrackingScalingPolicy] {
        var params = AWSQueryParameters()
        params.add("AutoScalingGroupName", groupName)
        for (index, name) in policyNames.enumerated() { params.add("PolicyNames.member.\(index + 1)", name) }
        let xml = try await call("DescribePolicies", params, idempotent: true)
        return (xml.first("ScalingPolicies")?.children("member") ?? []).compactMap { member in
            guard let configuration = member.child("TargetTrackingConfiguration") else { return nil }
            let metrics = (configuration.child("CustomizedMetricSpecification")?.child("Metrics")?.children("member") ?? []).map { entry in
                let stat = entry.child("MetricStat").map { stat in
                    let metric = stat.child("Metric")
                    return TargetTrackingMetricQuery.MetricStat(
                        namespace: metric?.string("Namespace") ?? "", metricName: metric?.string("MetricName") ?? "",
                        dimensions: (metric?.child("Dimensions")?.children("member") ?? []).map {
                            MetricDimension(name: $0.string("Name") ?? "", value: $0.string("Value") ?? "")
                        },
                        stat: stat.string("Stat") ?? "", unit: stat.string("Unit")?.nilIfEmpty)
                }
                return TargetTrackingMetricQuery(id: entry.string("Id") ?? "", expression: entry.string("Expression")?.nilIfEmpty,
                                                 metricStat: stat, label: entry.string("Label")?.nilIfEmpty,
                                                 returnData: entry.string("ReturnData") == "true")
            }
            return TargetTrackingScalingPolicy(
                groupName: member.string("AutoScalingGroupName") ?? groupName, policyName: member.string("PolicyName") ?? "",
                targetValue: configuration.string("TargetValue").flatMap(Double.init) ?? 0, metrics: metrics,
                disableScaleIn: configuration.string("DisableScaleIn") == "true", policyArn: member.string("PolicyARN"))
        }
    }

    // MARK: Lifecycle hooks

    public func putLifecycleHook(_ hook: LifecycleHook) async throws {
        var params = AWSQueryParameters()
        params.add("LifecycleHookName", hook.hookName)
        params.add("AutoScalingGroupName", hook.groupName)
        params.add("LifecycleTransition", hook.transition)
        params.add("HeartbeatTimeout", hook.heartbeatTimeout)
        params.add("DefaultResult", hook.defaultResult)
        _ = try await call("PutLifecycleHook", params, idempotent: true)
    }

    public func describeLifecycleHooks(groupName: String, hookNames: [String] = []) async throws -> [LifecycleHook] {
        var params = AWSQueryParameters()
        params.add("AutoScalingGroupName", groupName)
        for (index, name) in hookNames.enumerated() { params.add("LifecycleHookNames.member.\(index + 1)", name) }
        let xml = try await call("DescribeLifecycleHooks", params, idempotent: true)
        return (xml.first("LifecycleHooks")?.children("member") ?? []).map { member in
            LifecycleHook(groupName: member.string("AutoScalingGroupName") ?? groupName, hookName: member.string("LifecycleHookName") ?? "",
                          transition: member.string("LifecycleTransition") ?? "",
                          heartbeatTimeout: member.string("HeartbeatTimeout").flatMap { Int($0) } ?? 0,
                          defaultResult: member.string("DefaultResult") ?? "")
        }
    }

    /// Ends the lifecycle action of `instanceId` (or the one `token` names) with `result`
    /// (`CONTINUE` or `ABANDON`). `ValidationError` when no action is pending.
    public func completeLifecycleAction(groupName: String, hookName: String, result: String = "CONTINUE",
                                        instanceId: String? = nil, token: String? = nil) async throws {
        let params = Self.completeLifecycleActionParameters(groupName: groupName, hookName: hookName, result: result,
                                                            instanceId: instanceId, token: token)
        _ = try await call("CompleteLifecycleAction", params, idempotent: true)
    }

    /// Restarts the hook's heartbeat timeout for `instanceId` (or the action `token` names).
    public func recordLifecycleActionHeartbeat(groupName: String, hookName: String, instanceId: String? = nil,
                                               token: String? = nil) async throws {
        let params = Self.heartbeatParameters(groupName: groupName, hookName: hookName, instanceId: instanceId, token: token)
        _ = try await call("RecordLifecycleActionHeartbeat", params, idempotent: true)
    }

    // MARK: Protocol

    /// Parameters in botocore's order (the operation's input shape order).
    static func completeLifecycleActionParameters(groupName: String, hookName: String, result: String, instanceId: String?,
                                                  token: String?) -> AWSQueryParameters {
        var params = AWSQueryParameters()
        params.add("LifecycleHookName", hookName)
        params.add("AutoScalingGroupName", groupName)
        params.add("LifecycleActionToken", token)
        params.add("LifecycleActionResult", result)
        params.add("InstanceId", instanceId)
        return params
    }

    static func heartbeatParameters(groupName: String, hookName: String, instanceId: String?, token: String?) -> AWSQueryParameters {
        var params = AWSQueryParameters()
        params.add("LifecycleHookName", hookName)
        params.add("AutoScalingGroupName", groupName)
        params.add("LifecycleActionToken", token)
        params.add("InstanceId", instanceId)
        return params
    }

    static func groupParameters(_ request: AutoScalingGroupRequest) -> AWSQueryParameters {
        var params = AWSQueryParameters()
        params.add("AutoScalingGroupName", request.name)
        params.add("LaunchTemplate.LaunchTemplateName", request.launchTemplate.launchTemplateName)
        params.add("LaunchTemplate.Version", request.launchTemplate.version)
        params.add("MinSize", request.minSize)
        params.add("MaxSize", request.maxSize)
        params.add("DesiredCapacity", request.desiredCapacity)
        params.add("VPCZoneIdentifier", request.subnetIds.joined(separator: ","))
        params.add("DefaultInstanceWarmup", request.defaultInstanceWarmup)
        return params
    }

    func call(_ action: String, _ params: AWSQueryParameters, idempotent: Bool) async throws -> AWSXMLElement {
        try await core.query(action, version: Self.apiVersion, params.items, idempotent: idempotent)
    }

    static func group(_ member: AWSXMLElement) -> AutoScalingGroup {
        var tags: [String: String] = [:]
        for tag in member.child("Tags")?.children("member") ?? [] {
            if let key = tag.string("Key") { tags[key] = tag.string("Value") ?? "" }
        }
        let template = member.child("LaunchTemplate").map {
            AutoScalingLaunchTemplate(launchTemplateName: $0.string("LaunchTemplateName") ?? "", version: $0.string("Version") ?? "",
                                      launchTemplateId: $0.string("LaunchTemplateId"))
        }
        let subnets = (member.string("VPCZoneIdentifier") ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return AutoScalingGroup(
            name: member.string("AutoScalingGroupName") ?? "", arn: member.string("AutoScalingGroupARN"),
            minSize: member.string("MinSize").flatMap { Int($0) } ?? 0, maxSize: member.string("MaxSize").flatMap { Int($0) } ?? 0,
            desiredCapacity: member.string("DesiredCapacity").flatMap { Int($0) } ?? 0, subnetIds: subnets,
            launchTemplate: template,
            instances: (member.child("Instances")?.children("member") ?? []).map {
                AutoScalingInstance(instanceId: $0.string("InstanceId") ?? "", lifecycleState: $0.string("LifecycleState") ?? "",
                                    healthStatus: $0.string("HealthStatus") ?? "")
            },
            tags: tags,
            enabledMetrics: (member.child("EnabledMetrics")?.children("member") ?? []).compactMap { $0.string("Metric") })
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
