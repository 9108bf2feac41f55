import Foundation

/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optional `AWS_SESSION_TOKEN`, as every SDK
/// reads them first.
///
/// Only the outcome is stored (credentials are redacting values), never the environment
/// itself, so printing or dumping the provider cannot show a secret.
public struct EnvironmentCredentialsProvider: AWSCredentialsProvider {
    let resolved: Result<AWSCredentials, AWSCredentialsError>

    /// Reads `environment` (defaults to the process environment, captured now).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        resolved = Result { () throws(AWSCredentialsError) -> AWSCredentials in try Self.resolve(environment) }
    }

    public func credentials() async throws -> AWSCredentials {
        try resolved.get()
    }

    static func resolve(_ environment: [String: String]) throws(AWSCredentialsError) -> AWSCredentials {
        let id = environment["AWS_ACCESS_KEY_ID"].flatMap { $0.isEmpty ? nil : $0 }
        let secret = environment["AWS_SECRET_ACCESS_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        switch (id, secret) {
        case (nil, nil):
            throw .notConfigured(source: "environment", detail: "AWS_ACCESS_KEY_ID is not set")
        case (nil, _):
            throw .incomplete(source: "environment", missing: "AWS_ACCESS_KEY_ID")
        case (_, nil):
            throw .incomplete(source: "environment", missing: "AWS_SECRET_ACCESS_KEY")
        case let (id?, secret?):
            return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"])
        }
    }
}
