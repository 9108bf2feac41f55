import Foundation
import Logging

/// The start-up check of the service's executables: one cheap signed call to each AWS service a
/// component needs, so that wrong, revoked or under-privileged credentials stop the process at
/// once with a one-line reason, instead of a worker (or an EC2 instance billing by the hour)
/// retrying 403s for ever.
public enum CredentialsCheck {
    /// What a component calls.
    public enum Service: Sendable, Hashable {
        /// The input queue (`sqs:GetQueueAttributes`): server, worker and scaler.
        case queues
        /// EC2 (`ec2:DescribeInstances`): the scaler.
        case instances
    }

    /// Makes the calls for `services`; returns normally when AWS accepted them, or when it could
    /// not be reached (that is not the credentials' fault: readiness reports it).
    /// - Throws: ``CredentialsRejected`` when AWS answers 401 or 403.
    public static func verify(_ cloud: CloudConfiguration, services: Set<Service>,
                              logger: Logger = Logger(label: "facerec.credentials")) async throws(CredentialsRejected) {
        let credentials = cloud.credentialsProvider()
        if services.contains(.queues), let queueURL = cloud.inputQueueURL {
            let sqs = SQSClient(configuration: cloud.clientConfiguration(for: .sqs, credentials: credentials, logger: logger))
            try await check(logger) { _ = try await sqs.getQueueAttributes(queueUrl: queueURL, names: ["QueueArn"]) }
        }
        if services.contains(.instances) {
            let ec2 = EC2Client(configuration: cloud.clientConfiguration(for: .ec2, credentials: credentials, logger: logger))
            try await check(logger) { _ = try await ec2.describeInstances(maxResults: 5) }
        }
    }

    private static func check(_ logger: Logger, _ call: () async throws -> Void) async throws(CredentialsRejected) {
        do {
            try await call()
        } catch let error as AWSServiceError where error.statusCode == 401 || error.statusCode == 403 {
            throw CredentialsRejected(error: error)
        } catch {
            logger.warning("credentials check inconclusive", metadata: ["error": "\(error)"])
        }
    }
}

/// AWS refused a component's credentials (HTTP 401 or 403).
public struct CredentialsRejected: Error, Sendable, CustomStringConvertible {
    /// The refusal, without any secret (AWS never echoes one).
    public let error: AWSServiceError

    public var description: String {
        "AWS refused the credentials: \(error.service) \(error.operation) answered HTTP \(error.statusCode) \(error.code)"
            + (error.message.map { " (\($0))" } ?? "")
            + ". Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the instance profile) and the role's policy."
    }
}

extension Pipeline {
    /// What keeps the pipeline from working now, one line per resource (empty: ready): the
    /// queues' depth and a metadata read on each store, with this process's credentials.
    public func readinessProblems() async -> [String] {
        var problems: [String] = []
        func probe(_ name: String, _ call: () async throws -> Void) async {
            do { try await call() } catch { problems.append("\(name): \(error)") }
        }
        await probe("input queue") { _ = try await input.depth() }
        await probe("output queue") { _ = try await output.depth() }
        await probe("input store") { _ = try await inputStore.head(key: HeartbeatStore.prefix + "readiness") }
        await probe("output store") { _ = try await outputStore.head(key: HeartbeatStore.prefix + "readiness") }
        return problems
    }
}
