import Foundation

/// The instance role's temporary credentials from the EC2 instance metadata service, IMDSv2:
/// 1. `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds` → a session token;
/// 2. `GET /latest/meta-data/iam/security-credentials/` (with `X-aws-ec2-metadata-token`) →
///    the role name;
/// 3. `GET /latest/meta-data/iam/security-credentials/<role>` → JSON with `AccessKeyId`,
///    `SecretAccessKey`, `Token`, `Expiration`.
///
/// Credentials are cached and fetched again once they are within ``refreshWindow`` of their
/// expiry, so a long-running worker never signs with credentials about to lapse. The endpoint
/// is `AWS_EC2_METADATA_SERVICE_ENDPOINT` if set (tests point it at a local server), else
/// `http://169.254.169.254`; `AWS_EC2_METADATA_DISABLED=true` turns the provider off.
public actor InstanceMetadataCredentialsProvider: AWSCredentialsProvider {
    public nonisolated let endpoint: URL
    public nonisolated let refreshWindow: Duration
    nonisolated let timeout: Duration
    nonisolated let disabled: Bool
    nonisolated let transport: any AWSHTTPTransport
    nonisolated let clock: @Sendable () -> Date

    private var cached: AWSCredentials?
    /// The number of credential fetches made (each is a token + role + credentials exchange).
    public private(set) var fetchCount = 0

    static let defaultEndpoint = InstanceMetadataClient.defaultEndpoint

    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                endpoint: URL? = nil,
                timeout: Duration = .seconds(1),
                refreshWindow: Duration = .seconds(300),
                transport: any AWSHTTPTransport = CurlTransport(),
                clock: @escaping @Sendable () -> Date = { Date() }) {
        let fromEnvironment = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"].flatMap { URL(string: $0) }
        self.endpoint = endpoint ?? fromEnvironment ?? Self.defaultEndpoint
        self.disabled = environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true"
        self.timeout = timeout
        self.refreshWindow = refreshWindow
        self.transport = transport
        self.clock = clock
    }

    /// Cached credentials while they are outside the refresh window; otherwise fetched anew.
    /// If that fetch fails while the cached credentials have not yet expired, those are
    /// returned (a metadata hiccup must not stop a worker whose keys still work).
    public func credentials() async throws -> AWSCredentials {
        if let cached, !needsRefresh(cached) { return cached }
        let fresh: AWSCredentials
        do {
            fresh = try await fetch()
        } catch {
            if let cached, let expiration = cached.expiration, clock() < expiration { return cached }
            throw error
        }
        cached = fresh
        fetchCount += 1
        return fresh
    }

    private func needsRefresh(_ credentials: AWSCredentials) -> Bool {
        guard let expiration = credentials.expiration else { return false }
        return clock().addingTimeInterval(Double(refreshWindow.components.seconds)) >= expiration
    }

    private func fetch() async throws(AWSCredentialsError) -> AWSCredentials {
        if disabled {
            throw .notConfigured(source: "instance metadata", detail: "AWS_EC2_METADATA_DISABLED is true")
        }
        let token = try await call("PUT", "/latest/api/token", step: "token",
                                   headers: [AWSHTTPHeader("X-aws-ec2-metadata-token-ttl-seconds", "21600")])
        let tokenHeader = [AWSHTTPHeader("X-aws-ec2-metadata-token", String(decoding: token, as: UTF8.self))]
        let roles = try await call("GET", "/latest/meta-data/iam/security-credentials/", step: "role name", headers: tokenHeader)
        guard let role = String(decoding: roles, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init),
              !role.isEmpty else {
            throw .instanceMetadata(step: "role name", detail: "no instance profile role is attached")
        }
        let body = try await call("GET", "/latest/meta-data/iam/security-credentials/" + AWSURIEncoding.encode(role),
                                  step: "credentials for role \(role)", headers: tokenHeader)
        return try Self.decodeCredentials(body, role: role)
    }

    private func call(_ method: String, _ path: String, step: String, headers: [AWSHTTPHeader]) async throws(AWSCredentialsError) -> Data {
        try await InstanceMetadataClient(endpoint: endpoint, timeout: timeout, transport: transport)
            .call(method, path, step: step, headers: headers)
    }

    static func decodeCredentials(_ body: Data, role: String) throws(AWSCredentialsError) -> AWSCredentials {
        struct Document: Decodable {
            let Code: String?
            let AccessKeyId: String?
            let SecretAccessKey: String?
            let Token: String?
            let Expiration: String?
        }
        let step = "credentials for role \(role)"
        guard let document = try? JSONDecoder().decode(Document.self, from: body) else {
            throw .instanceMetadata(step: step, detail: "response is not the credentials JSON document")
        }
        if let code = document.Code, code != "Success" {
            throw .instanceMetadata(step: step, detail: "Code is \(code.debugDescription)")
        }
        guard let id = document.AccessKeyId else { throw .instanceMetadata(step: step, detail: "AccessKeyId is missing") }
        guard let secret = document.SecretAccessKey else { throw .instanceMetadata(step: step, detail: "SecretAccessKey is missing") }
        var expiration: Date?
        if let text = document.Expiration {
            guard let date = ISO8601DateFormatter().date(from: text) else {
                throw .instanceMetadata(step: step, detail: "Expiration \(text.debugDescription) is not an ISO 8601 date")
            }
            expiration = date
        }
        return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: document.Token, expiration: expiration)
    }
}

/// The SDKs' default chain: environment, then the shared profile files, then instance
/// metadata. A source that has *no* configuration is skipped; a source with a broken or
/// half-written configuration stops the chain with its error (falling through would sign with
/// somebody else's keys). The first source that answers is remembered, so instance-metadata
/// caching keeps working across calls.
public actor DefaultCredentialsChain: AWSCredentialsProvider {
    private let providers: [(name: String, provider: any AWSCredentialsProvider)]
    private var chosen: (any AWSCredentialsProvider)?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                instanceMetadata: InstanceMetadataCredentialsProvider? = nil) {
        providers = [
            ("environment", EnvironmentCredentialsProvider(environment: environment)),
            ("profile", ProfileCredentialsProvider(environment: environment)),
            ("instance metadata", instanceMetadata ?? InstanceMetadataCredentialsProvider(environment: environment)),
        ]
    }

    /// A chain over explicit providers, tried in order.
    public init(providers: [any AWSCredentialsProvider]) {
        self.providers = providers.enumerated().map { ("source \($0.offset)", $0.element) }
    }

    public func credentials() async throws -> AWSCredentials {
        if let chosen { return try await chosen.credentials() }
        var reasons: [String] = []
        for (_, provider) in providers {
            do {
                let value = try await provider.credentials()
                chosen = provider
                return value
            } catch let error as AWSCredentialsError {
                if case .notConfigured = error {
                    reasons.append(error.description)
                    continue
                }
                throw error
            }
        }
        throw AWSCredentialsError.chainExhausted(reasons)
    }
}
