import Foundation

/// IMDSv2 as the credentials provider and the Auto Scaling lifecycle reader use it: a session
/// token from `PUT /latest/api/token` (header `X-aws-ec2-metadata-token-ttl-seconds`), then
/// `GET`s carrying it in `X-aws-ec2-metadata-token`. The endpoint is
/// `AWS_EC2_METADATA_SERVICE_ENDPOINT` if set, else `http://169.254.169.254`.
public struct InstanceMetadataClient: Sendable {
    public let endpoint: URL
    let timeout: Duration
    let transport: any AWSHTTPTransport

    public static let defaultEndpoint = URL(string: "http://169.254.169.254")!

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, endpoint: URL? = nil,
                timeout: Duration = .seconds(1), transport: any AWSHTTPTransport = CurlTransport()) {
        let fromEnvironment = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"].flatMap { URL(string: $0) }
        self.endpoint = endpoint ?? fromEnvironment ?? Self.defaultEndpoint
        self.timeout = timeout
        self.transport = transport
    }

    /// A session token valid for `ttlSeconds`.
    public func token(ttlSeconds: Int = 21600) async throws(AWSCredentialsError) -> String {
        let body = try await call("PUT", "/latest/api/token", step: "token",
                                  headers: [AWSHTTPHeader("X-aws-ec2-metadata-token-ttl-seconds", String(ttlSeconds))])
        return String(decoding: body, as: UTF8.self)
    }

    /// The body of `GET path` with `token`; `step` names the call in errors.
    public func get(_ path: String, token: String, step: String) async throws(AWSCredentialsError) -> Data {
        try await call("GET", path, step: step, headers: [AWSHTTPHeader("X-aws-ec2-metadata-token", token)])
    }

    /// This instance's id (`i-...`). Off EC2 there is no answer within the client's timeout:
    /// ``AWSCredentialsError/notConfigured(source:detail:)``.
    public func instanceId() async throws(AWSCredentialsError) -> String {
        let body = try await get("/latest/meta-data/instance-id", token: try await token(), step: "instance id")
        return String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Sends one metadata request. No answer: ``AWSCredentialsError/notConfigured(source:detail:)``
    /// (not on EC2); an answer other than 200: ``AWSCredentialsError/instanceMetadata(step:detail:)``.
    func call(_ method: String, _ path: String, step: String, headers: [AWSHTTPHeader]) async throws(AWSCredentialsError) -> Data {
        let request = AWSHTTPRequest(method: method, endpoint: endpoint, path: path, headers: headers)
        let response: AWSHTTPResponse
        do {
            response = try await transport.send(request, timeout: timeout)
        } catch {
            throw .notConfigured(source: "instance metadata", detail: "\(step): \(error)")
        }
        guard response.statusCode == 200 else {
            throw .instanceMetadata(step: step, detail: "HTTP \(response.statusCode)")
        }
        return response.body
    }
}
