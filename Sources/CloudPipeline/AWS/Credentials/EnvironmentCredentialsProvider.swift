import Foundation

/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optional `AWS_SESSION_TOKEN`, as every SDK
/// reads them first.
public struct EnvironmentCredentialsProvider: AWSCredentialsProvider {
    let environment: [String: String]

    /// Reads `environment` (defaults to the process environment, captured now).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    public func credentials() async throws -> AWSCredentials {
        try resolve()
    }

    func resolve() throws(AWSCredentialsError) -> AWSCredentials {
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
