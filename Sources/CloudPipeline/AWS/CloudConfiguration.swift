import Foundation
import Logging

/// The pipeline's AWS settings, read from the environment variables of the Python system this
/// replaces, plus the SDKs' endpoint overrides:
///
/// | variable | field |
/// |---|---|
/// | `AWS_REGION`, else `AWS_DEFAULT_REGION` | ``region`` |
/// | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, profiles, IMDS | via ``credentialsProvider()`` |
/// | `INPUT_QUEUE_URL`, `OUTPUT_QUEUE_URL` | ``inputQueueURL``, ``outputQueueURL`` |
/// | `INPUT_BUCKET`, `OUTPUT_BUCKET` | ``inputBucket``, ``outputBucket`` |
/// | `AMI_ID`, `SECURITY_GROUP_ID`, `SUBNET_ID` | ``amiId``, ``securityGroupId``, ``subnetId`` |
/// | `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3` / `_SQS` / `_EC2` / `_IAM` / `_AUTO_SCALING` | ``endpoint(for:)`` (service-specific wins) |
///
/// It holds no secrets itself, so its `description` can be logged.
public struct CloudConfiguration: Sendable, Hashable, CustomStringConvertible, CustomReflectable {
    /// The services the pipeline and its deployment talk to; the raw value is the suffix of the
    /// SDKs' endpoint variable (`AWS_ENDPOINT_URL_AUTO_SCALING`).
    public enum Service: String, Sendable, CaseIterable {
        case s3 = "S3", sqs = "SQS", ec2 = "EC2", iam = "IAM", autoScaling = "AUTO_SCALING"
    }

    public var region: String
    public var inputQueueURL: String?
    public var outputQueueURL: String?
    public var inputBucket: String?
    public var outputBucket: String?
    public var amiId: String?
    public var securityGroupId: String?
    public var subnetId: String?
    /// `AWS_ENDPOINT_URL`: every service.
    public var endpoint: URL?
    /// `AWS_ENDPOINT_URL_<SERVICE>`: one service, winning over ``endpoint``.
    public var serviceEndpoints: [Service: URL]
    /// The environment it was read from, minus secrets (for the profile and IMDS providers).
    let environment: [String: String]
    /// Credentials from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`,
    /// resolved once into a redacting value.
    let environmentCredentials: EnvironmentCredentialsProvider

    /// Reads `environment` (the process environment by default). The region falls back to
    /// the shared profile's `region`; no region at all is an error.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws(CloudConfigurationError) {
        func value(_ name: String) -> String? {
            guard let text = environment[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return text
        }
        func url(_ name: String) throws(CloudConfigurationError) -> URL? {
            guard let text = value(name) else { return nil }
            guard let parsed = URL(string: text), let scheme = parsed.scheme?.lowercased(),
                  scheme == "http" || scheme == "https", parsed.host != nil else {
                throw .invalidURL(variable: name, value: text)
            }
            return parsed
        }
        let profileRegion = try? ProfileCredentialsProvider(environment: environment).region()
        guard let region = value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") ?? profileRegion ?? nil else {
            throw .missing(variable: "AWS_REGION or AWS_DEFAULT_REGION")
        }
        self.region = region
        inputQueueURL = value("INPUT_QUEUE_URL")
        outputQueueURL = value("OUTPUT_QUEUE_URL")
        inputBucket = value("INPUT_BUCKET")
        outputBucket = value("OUTPUT_BUCKET")
        amiId = value("AMI_ID")
        securityGroupId = value("SECURITY_GROUP_ID")
        subnetId = value("SUBNET_ID")
        endpoint = try url("AWS_ENDPOINT_URL")
        var perService: [Service: URL] = [:]
        for service in Service.allCases {
            if let specific = try url("AWS_ENDPOINT_URL_\(service.rawValue)") { perService[service] = specific }
        }
        serviceEndpoints = perService
        environmentCredentials = EnvironmentCredentialsProvider(environment: environment)
        self.environment = environment.filter { $0.key != "AWS_SECRET_ACCESS_KEY" && $0.key != "AWS_SESSION_TOKEN" }
    }

    /// The endpoint override for `service`, if any.
    public func endpoint(for service: Service) -> URL? {
        serviceEndpoints[service] ?? endpoint
    }

    /// The value of a setting the caller cannot work without.
    /// - Throws: ``CloudConfigurationError/missing(variable:)`` naming the variable.
    public func require(_ keyPath: KeyPath<CloudConfiguration, String?>, _ variable: String) throws(CloudConfigurationError) -> String {
        guard let value = self[keyPath: keyPath] else { throw .missing(variable: variable) }
        return value
    }

    /// The SDKs' default credentials chain over the same environment.
    public func credentialsProvider() -> any AWSCredentialsProvider {
        DefaultCredentialsChain(providers: [
            environmentCredentials,
            ProfileCredentialsProvider(environment: environment),
            InstanceMetadataCredentialsProvider(environment: environment),
        ])
    }

    /// Client settings for `service`: region, endpoint override, `credentials`.
    public func clientConfiguration(for service: Service, credentials: (any AWSCredentialsProvider)? = nil,
                                    logger: Logger = Logger(label: "CloudPipeline.AWS")) -> AWSClientConfiguration {
        AWSClientConfiguration(region: region, endpoint: endpoint(for: service),
                               credentials: credentials ?? credentialsProvider(), logger: logger)
    }

    public static func == (lhs: CloudConfiguration, rhs: CloudConfiguration) -> Bool {
        lhs.description == rhs.description
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(description) }

    /// Reflection shows the description only (the stored environment is not for display).
    public var customMirror: Mirror { Mirror(self, children: ["description": description]) }

    public var description: String {
        func show(_ value: String?) -> String { value ?? "-" }
        var parts = ["region \(region)", "input queue \(show(inputQueueURL))", "output queue \(show(outputQueueURL))",
                     "input bucket \(show(inputBucket))", "output bucket \(show(outputBucket))", "AMI \(show(amiId))",
                     "security group \(show(securityGroupId))", "subnet \(show(subnetId))"]
        for service in Service.allCases {
            if let url = endpoint(for: service) { parts.append("\(service.rawValue) endpoint \(url.absoluteString)") }
        }
        return "CloudConfiguration(" + parts.joined(separator: ", ") + ")"
    }
}

/// A setting missing from, or malformed in, the environment.
public enum CloudConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    case missing(variable: String)
    case invalidURL(variable: String, value: String)

    public var description: String {
        switch self {
        case .missing(let variable):
            return "environment variable \(variable) is not set"
        case .invalidURL(let variable, let value):
            return "environment variable \(variable) is not an http(s) URL: \(value.debugDescription)"
        }
    }
}
