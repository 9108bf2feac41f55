import Foundation

/// The launch template an Auto Scaling group launches: by name, at `version` (`$Latest`,
/// `$Default` or a number).
public struct AutoScalingLaunchTemplate: Sendable, Hashable {
    public var launchTemplateName: String
    public var version: String
    /// Filled in by DescribeAutoScalingGroups.
    public var launchTemplateId: String?

    public init(launchTemplateName: String, version: String = "$Latest", launchTemplateId: String? = nil) {
        self.launchTemplateName = launchTemplateName
        self.version = version
        self.launchTemplateId = launchTemplateId
    }
}

/// What CreateAutoScalingGroup / UpdateAutoScalingGroup set.
public struct AutoScalingGroupRequest: Sendable, Hashable {
    public var name: String
    public var launchTemplate: AutoScalingLaunchTemplate
    public var minSize: Int
    public var maxSize: Int
    /// `nil`: AWS starts at `minSize` (create) or leaves it alone (update).
    public var desiredCapacity: Int?
    /// Subnets, joined with commas into `VPCZoneIdentifier`.
    public var subnetIds: [String]
    /// Seconds a new instance gets before its metrics count for scaling.
    public var defaultInstanceWarmup: Int?
    /// Tags on the group (propagated to its instances). Only sent on create.
    public var tags: [String: String]

    public init(name: String, launchTemplate: AutoScalingLaunchTemplate, minSize: Int, maxSize: Int,
                desiredCapacity: Int? = nil, subnetIds: [String], defaultInstanceWarmup: Int? = nil, tags: [String: String] = [:]) {
        self.name = name
        self.launchTemplate = launchTemplate
        self.minSize = minSize
        self.maxSize = maxSize
        self.desiredCapacity = desiredCapacity
        self.subnetIds = subnetIds
        self.defaultInstanceWarmup = defaultInstanceWarmup
        self.tags = tags
    }
}

/// One instance of a group.
public struct AutoScalingInstance: Sendable, Hashable {
    public let instanceId: String
    /// `Pending`, `InService`, `Terminating`, `Terminating:Wait`, ...
    public let lifecycleState: String
    public let healthStatus: String
}

/// A group as DescribeAutoScalingGroups reports it.
public struct AutoScalingGroup: Sendable, Hashable {
    public let name: String
    public let arn: String?
    public let minSize: Int
    public let maxSize: Int
    public let desiredCapacity: Int
    public let subnetIds: [String]
    public let launchTemplate: AutoScalingLaunchTemplate?
    public let instances: [AutoScalingInstance]
    public let tags: [String: String]
    /// Group metrics sent to CloudWatch (EnableMetricsCollection), e.g. `GroupInServiceInstances`.
    public let enabledMetrics: [String]
}

/// A CloudWatch metric dimension.
public struct MetricDimension: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// One entry of a target-tracking policy's metric math: a metric (`metricStat`) or an
/// expression over the other entries' ids; exactly one entry has `returnData`.
public struct TargetTrackingMetricQuery: Sendable, Hashable {
    public struct MetricStat: Sendable, Hashable {
        public var namespace: String
        public var metricName: String
        public var dimensions: [MetricDimension]
        /// `Average`, `Sum`, `Maximum`, ...
        public var stat: String
        public var unit: String?

        public init(namespace: String, metricName: String, dimensions: [MetricDimension], stat: String, unit: String? = nil) {
            self.namespace = namespace
            self.metricName = metricName
            self.dimensions = dimensions
            self.stat = stat
            self.unit = unit
        }
    }

    public var id: String
    public var expression: String?
    public var metricStat: MetricStat?
    public var label: String?
    public var returnData: Bool

    public init(id: String, expression: String? = nil, metricStat: MetricStat? = nil, label: String? = nil, returnData: Bool = false) {
        self.id = id
        self.expression = expression
        self.metricStat = metricStat
        self.label = label
        self.returnData = returnData
    }
}

/// A target-tracking scaling policy on a customised metric given as metric math.
public struct TargetTrackingScalingPolicy: Sendable, Hashable {
    public var groupName: String
    public var policyName: String
    public var targetValue: Double
    public var metrics: [TargetTrackingMetricQuery]
    public var disableScaleIn: Bool
    /// ARN, filled in by DescribePolicies.
    public var policyArn: String?

    public init(groupName: String, policyName: String, targetValue: Double, metrics: [TargetTrackingMetricQuery],
                disableScaleIn: Bool = false, policyArn: String? = nil) {
        self.groupName = groupName
        self.policyName = policyName
        self.targetValue = targetValue
        self.metrics = metrics
        self.disableScaleIn = disableScaleIn
        self.policyArn = policyArn
    }
}

/// A lifecycle hook: instances entering `transition` wait (up to `heartbeatTimeout` seconds
/// per heartbeat) for CompleteLifecycleAction, else `defaultResult` applies.
public struct LifecycleHook: Sendable, Hashable {
    public static let terminating = "autoscaling:EC2_INSTANCE_TERMINATING"
    public static let launching = "autoscaling:EC2_INSTANCE_LAUNCHING"

    public var groupName: String
    public var hookName: String
    public var transition: String
    public var heartbeatTimeout: Int
    /// `CONTINUE` or `ABANDON`.
    public var defaultResult: String

    public init(groupName: String, hookName: String, transition: String = LifecycleHook.terminating,
                heartbeatTimeout: Int = 300, defaultResult: String = "CONTINUE") {
        self.groupName = groupName
        self.hookName = hookName
        self.transition = transition
        self.heartbeatTimeout = heartbeatTimeout
        self.defaultResult = defaultResult
    }
}
