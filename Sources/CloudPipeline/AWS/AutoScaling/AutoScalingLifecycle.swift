import Foundation
import Logging

/// The worker's side of the fleet's termination lifecycle hook (see ``FleetDeployment``).
///
/// When the Auto Scaling group scales in, the chosen instance enters `Terminating:Wait` and
/// stays up (up to the hook's heartbeat timeout, 300 s by default) until someone calls
/// CompleteLifecycleAction. Instance metadata shows it as
/// `/latest/meta-data/autoscaling/target-lifecycle-state` = `Terminated`. A worker uses this:
///
/// ```swift
/// if let lifecycle = AutoScalingLifecycle(environment: env, configuration: cloud) {
///     // alongside the worker:
///     try await lifecycle.waitUntilTerminating()   // returns once the group wants the instance gone
///     // ... stop taking jobs, finish the ones in hand (the worker's drain) ...
///     await lifecycle.complete()                   // let the termination go on
/// }
/// ```
///
/// `complete()` never throws: a failed completion (no permission, no pending action, moto,
/// which does not implement the call) is logged, and the instance ends anyway when the hook
/// times out. Use ``recordHeartbeat()`` to extend a drain beyond the timeout.
///
/// Environment (written to `/etc/facerec/worker.env` by the deploy's user data):
/// `FACEREC_ASG_NAME` (the group; without it there is no lifecycle to follow),
/// `FACEREC_LIFECYCLE_HOOK` (the hook's name), `AWS_EC2_METADATA_SERVICE_ENDPOINT` (tests).
public struct AutoScalingLifecycle: Sendable {
    public let groupName: String
    public let hookName: String
    public let metadata: InstanceMetadataClient
    let autoScaling: AutoScalingClient?
    /// Seconds between polls of the target lifecycle state.
    public let pollInterval: Duration
    let logger: Logger

    /// The target lifecycle state that means "being scaled in".
    public static let terminatedState = "Terminated"

    /// nil unless `FACEREC_ASG_NAME` is set in `environment`. The hook name comes from
    /// `FACEREC_LIFECYCLE_HOOK` (default `<group>-drain`, as ``FleetDeployment`` names it).
    /// - Parameters:
    ///   - environment: where `FACEREC_ASG_NAME` and `FACEREC_LIFECYCLE_HOOK` are read.
    ///   - configuration: AWS settings for CompleteLifecycleAction (region, endpoint,
    ///     credentials); nil: ``complete()`` only logs.
    ///   - autoScaling: a client to use instead of one made from `configuration`.
    ///   - metadata: the instance metadata client that tells the instance id and its
    ///     lifecycle state (default: the EC2 one).
    ///   - pollInterval: how often the lifecycle state is read.
    ///   - logger: where the drain is reported.
    public init?(environment: [String: String] = ProcessInfo.processInfo.environment, configuration: CloudConfiguration? = nil,
                 autoScaling: AutoScalingClient? = nil, metadata: InstanceMetadataClient? = nil,
                 pollInterval: Duration = .seconds(5), logger: Logger = Logger(label: "facerec.lifecycle")) {
        guard let group = environment["FACEREC_ASG_NAME"]?.trimmingCharacters(in: .whitespaces), !group.isEmpty else { return nil }
        groupName = group
        hookName = environment["FACEREC_LIFECYCLE_HOOK"].flatMap { $0.isEmpty ? nil : $0 } ?? group + "-drain"
        self.metadata = metadata ?? InstanceMetadataClient(environment: environment)
        self.autoScaling = autoScaling ?? configuration.map {
            AutoScalingClient(configuration: $0.clientConfiguration(for: .autoScaling, logger: logger))
        }
        self.pollInterval = pollInterval
        self.logger = logger
    }

    /// This instance's id (`i-...`) from instance metadata.
    public func instanceId() async throws -> String {
        try await metadata.instanceId()
    }

    /// The group's intention for this instance: `InService`, `Terminated`, `Standby`, ...
    public func targetLifecycleState() async throws -> String {
        let token = try await metadata.token()
        let body = try await metadata.get("/latest/meta-data/autoscaling/target-lifecycle-state", token: token,
                                          step: "target lifecycle state")
        return String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Polls the target lifecycle state every ``pollInterval`` and returns once it is
    /// `Terminated`. A failed poll is logged and retried (metadata hiccups are not a reason to
    /// stop a worker). Throws only `CancellationError` (when the calling task is cancelled).
    public func waitUntilTerminating() async throws {
        var lastError: String?
        while true {
            try Task.checkCancellation()
            do {
                let state = try await targetLifecycleState()
                lastError = nil
                if state == Self.terminatedState {
                    logger.notice("the Auto Scaling group is terminating this instance", metadata: ["group": "\(groupName)"])
                    return
                }
            } catch {
                let text = "\(error)"
                if text != lastError { logger.warning("cannot read the target lifecycle state", metadata: ["error": "\(text)"]) }
                lastError = text
            }
            try await Task.sleep(for: pollInterval)
        }
    }

    /// CompleteLifecycleAction with CONTINUE for this instance: the group may terminate it now.
    /// Failures are logged and swallowed: the instance will end anyway after the hook's timeout.
    public func complete() async {
        do {
            guard let autoScaling else { throw AWSClientError.invalidArgument(operation: "CompleteLifecycleAction", field: "configuration", reason: "no AWS settings given") }
            let id = try await instanceId()
            try await autoScaling.completeLifecycleAction(groupName: groupName, hookName: hookName, result: "CONTINUE", instanceId: id)
            logger.notice("lifecycle action completed", metadata: ["group": "\(groupName)", "hook": "\(hookName)", "instance": "\(id)"])
        } catch {
            logger.warning("could not complete the lifecycle action; the instance will end anyway after the hook's timeout",
                           metadata: ["group": "\(groupName)", "hook": "\(hookName)", "error": "\(error)"])
        }
    }

    /// RecordLifecycleActionHeartbeat for this instance: restarts the hook's timeout (for a drain
    /// that needs longer). Failures are logged and swallowed.
    public func recordHeartbeat() async {
        do {
            guard let autoScaling else { throw AWSClientError.invalidArgument(operation: "RecordLifecycleActionHeartbeat", field: "configuration", reason: "no AWS settings given") }
            let id = try await instanceId()
            try await autoScaling.recordLifecycleActionHeartbeat(groupName: groupName, hookName: hookName, instanceId: id)
        } catch {
            logger.warning("could not record a lifecycle heartbeat", metadata: ["group": "\(groupName)", "error": "\(error)"])
        }
    }
}
