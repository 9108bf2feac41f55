import CloudPipeline
import Foundation
import Logging

/// Builds the EC2 `InstanceProvider` the auto-scaler uses on AWS.
public enum EC2Fleet {
    /// The tag key that marks the fleet's instances.
    public static let tagKey = "facerec:pipeline"

    /// - Parameters:
    ///   - cloud: region, endpoints and credentials (and `AMI_ID`, the workers' image).
    ///   - instanceType: the workers' EC2 instance type.
    ///   - instanceProfile: the IAM instance profile the workers run with, if any.
    ///   - keyName: the EC2 key pair for SSH, if any.
    ///   - fleetName: the tag value that marks this fleet's instances.
    ///   - maxWorkers: the most instances the provider starts.
    ///   - workerArguments: relative to `layout.root` (build them with
    ///     `WorkerInstallLayout.workerArguments(identify:threshold:concurrency:)`), never the
    ///     scaler's own paths.
    ///   - layout: where facerec is installed on the workers' image.
    ///   - environment: the pipeline's settings passed on to the workers.
    ///   - logger: where launches and terminations are reported.
    /// - Throws: `CloudConfigurationError` when `AMI_ID` is missing.
    public static func provider(cloud: CloudConfiguration, instanceType: String, instanceProfile: String?, keyName: String?,
                                fleetName: String, maxWorkers: Int, workerArguments: [String], layout: WorkerInstallLayout = .standard,
                                environment: [String: String] = ProcessInfo.processInfo.environment,
                                logger: Logger) throws -> EC2InstanceProvider {
        let ami = try cloud.require(\.amiId, "AMI_ID")
        let template = EC2RunInstancesRequest(
            imageId: ami, instanceType: instanceType, keyName: keyName,
            securityGroupIds: cloud.securityGroupId.map { [$0] } ?? [], subnetId: cloud.subnetId,
            userData: WorkerUserData.script(environment: environment, workerArguments: workerArguments, layout: layout),
            tags: ["Name": "facerec-worker"], iamInstanceProfileName: instanceProfile)
        let client = EC2Client(configuration: cloud.clientConfiguration(for: .ec2, logger: logger))
        return EC2InstanceProvider(client: client, template: template, tagKey: tagKey, tagValue: fleetName,
                                   limit: max(1, maxWorkers))
    }
}
