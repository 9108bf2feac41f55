@testable import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Testing

/// The credentials chain: environment, shared profile files, IMDSv2 (against a real local
/// HTTP server standing in for 169.254.169.254), and redaction of secrets everywhere.
@Suite("AWS credentials")
struct AWSCredentialsTests {
    static let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    static let token = "FwoGZXIvYXdzEXAMPLE-session-token/+=="

    // MARK: Environment

    @Test("environment variables, with and without a session token")
    func environment() async throws {
        let plain = try await EnvironmentCredentialsProvider(environment: [
            "AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": Self.secret,
        ]).credentials()
        #expect(plain.accessKeyId == "AKIAENV")
        #expect(plain.secretAccessKey == Self.secret)
        #expect(plain.sessionToken == nil)
        let temporary = try await EnvironmentCredentialsProvider(environment: [
            "AWS_ACCESS_KEY_ID": "ASIAENV", "AWS_SECRET_ACCESS_KEY": Self.secret, "AWS_SESSION_TOKEN": Self.token,
        ]).credentials()
        #expect(temporary.sessionToken == Self.token)
    }

    @Test("half-configured environment is an error naming the missing variable")
    func environmentIncomplete() async throws {
        await #expect(throws: AWSCredentialsError.incomplete(source: "environment", missing: "AWS_SECRET_ACCESS_KEY")) {
            _ = try await EnvironmentCredentialsProvider(environment: ["AWS_ACCESS_KEY_ID": "AKIA"]).credentials()
        }
        await #expect(throws: AWSCredentialsError.incomplete(source: "environment", missing: "AWS_ACCESS_KEY_ID")) {
            _ = try await EnvironmentCredentialsProvider(environment: ["AWS_SECRET_ACCESS_KEY": Self.secret]).credentials()
        }
    }

    // MARK: Profiles

    func profileFiles(credentials: String, config: String) throws -> (URL, [String: String]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("aws-profiles-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try credentials.write(to: dir.appendingPathComponent("credentials"), atomically: true, encoding: .utf8)
        try config.write(to: dir.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        return (dir, ["AWS_SHARED_CREDENTIALS_FILE": dir.appendingPathComponent("credentials").path,
                      "AWS_CONFIG_FILE": dir.appendingPathComponent("config").path, "HOME": dir.path])
    }

    @Test("profiles from the credentials and config files, AWS_PROFILE selecting")
    func profiles() async throws {
        let (dir, env) = try profileFiles(credentials: """
            # comment
            [default]
            aws_access_key_id = AKIADEFAULT
            aws_secret_access_key = default-secret

            [worker]
            aws_access_key_id=AKIAWORKER
            aws_secret_access_key = worker-secret ; inline comment
            aws_session_token = worker-token
            """, config: """
            [default]
            region = eu-west-1
            [profile only-config]
            region = us-west-2
            aws_access_key_id = AKIACONFIG
            aws_secret_access_key = config-secret
            [profile worker]
            aws_access_key_id = AKIA-IGNORED-CREDENTIALS-FILE-WINS
            s3 =
              addressing_style = path
            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let fallback = try await ProfileCredentialsProvider(environment: env).credentials()
        #expect(fallback.accessKeyId == "AKIADEFAULT")
        #expect(fallback.secretAccessKey == "default-secret")

        var workerEnv = env
        workerEnv["AWS_PROFILE"] = "worker"
        let worker = try await ProfileCredentialsProvider(environment: workerEnv).credentials()
        #expect(worker.accessKeyId == "AKIAWORKER")
        #expect(worker.secretAccessKey == "worker-secret")
        #expect(worker.sessionToken == "worker-token")

        var configEnv = env
        configEnv["AWS_PROFILE"] = "only-config"
        let configOnly = ProfileCredentialsProvider(environment: configEnv)
        #expect(try await configOnly.credentials().accessKeyId == "AKIACONFIG")
        #expect(try configOnly.region() == "us-west-2")
        #expect(try ProfileCredentialsProvider(environment: env).region() == "eu-west-1")
    }

    @Test("missing profile, incomplete profile and malformed file are typed errors without secrets")
    func profileErrors() async throws {
        let (dir, env) = try profileFiles(credentials: """
            [half]
            aws_access_key_id = AKIAHALF
            """, config: "")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (brokenDir, brokenEnv) = try profileFiles(credentials: """
            [default]
            aws_access_key_id = AKIA
            [broken]
            this line has \(Self.secret) and no equals sign
            """, config: "")
        defer { try? FileManager.default.removeItem(at: brokenDir) }
        var missing = env
        missing["AWS_PROFILE"] = "nope"
        await #expect {
            _ = try await ProfileCredentialsProvider(environment: missing).credentials()
        } throws: { error in
            guard case AWSCredentialsError.notConfigured(let source, _) = error else { return false }
            return source.contains("nope")
        }
        var half = env
        half["AWS_PROFILE"] = "half"
        await #expect(throws: AWSCredentialsError.incomplete(source: "profile \"half\"", missing: "aws_secret_access_key")) {
            _ = try await ProfileCredentialsProvider(environment: half).credentials()
        }
        do {
            _ = try await ProfileCredentialsProvider(environment: brokenEnv).credentials()
            Issue.record("a malformed file must not parse")
        } catch let error as AWSCredentialsError {
            guard case .unreadableFile(_, let detail) = error else { Issue.record("wrong error \(error)"); return }
            #expect(detail.contains("line 4"))
            #expect(!error.description.contains(Self.secret))
        }
    }

    // MARK: Instance metadata (IMDSv2)

    /// A stand-in metadata service: token via PUT, role and credentials only with the token.
    func metadataServer(expiration: Date, role: String = "facerec-worker", secret: String = secret) throws -> LocalHTTPServer {
        let formatter = ISO8601DateFormatter()
        let expires = formatter.string(from: expiration)
        return try LocalHTTPServer { request in
            if request.method == "PUT" && request.path == "/latest/api/token" {
                guard request.headers["x-aws-ec2-metadata-token-ttl-seconds"] == "21600" else { return .init(status: 400) }
                return .init(status: 200, text: "imds-session-token")
            }
            guard request.headers["x-aws-ec2-metadata-token"] == "imds-session-token" else { return .init(status: 401) }
            switch request.path {
            case "/latest/meta-data/iam/security-credentials/":
                return .init(status: 200, text: role + "\n")
            case "/latest/meta-data/iam/security-credentials/\(role)":
                return .init(status: 200, text: """
                    {"Code":"Success","LastUpdated":"2026-11-29T00:00:00Z","Type":"AWS-HMAC","AccessKeyId":"ASIAIMDS",
                     "SecretAccessKey":"\(secret)","Token":"\(Self.token)","Expiration":"\(expires)"}
                    """, contentType: "application/json")
            default:
                return .init(status: 404)
            }
        }
    }

    final class MutableClock: @unchecked Sendable {
        private let lock = NSLock()
        private var now: Date
        init(_ now: Date) { self.now = now }
        func advance(_ seconds: TimeInterval) { lock.withLock { now += seconds } }
        var date: Date { lock.withLock { now } }
    }

    @Test("IMDSv2: token, role, credentials; cached; refreshed before expiry")
    func instanceMetadata() async throws {
        let start = Date()
        let server = try metadataServer(expiration: start.addingTimeInterval(3600))
        defer { server.stop() }
        let clock = MutableClock(start)
        let provider = InstanceMetadataCredentialsProvider(environment: [:], endpoint: server.endpoint, clock: { clock.date })
        let first = try await provider.credentials()
        #expect(first.accessKeyId == "ASIAIMDS")
        #expect(first.secretAccessKey == Self.secret)
        #expect(first.sessionToken == Self.token)
        #expect(abs((first.expiration ?? .distantPast).timeIntervalSince(start.addingTimeInterval(3600))) < 1)
        #expect(server.requests.map { "\($0.method) \($0.path)" } == [
            "PUT /latest/api/token",
            "GET /latest/meta-data/iam/security-credentials/",
            "GET /latest/meta-data/iam/security-credentials/facerec-worker",
        ])
        // Within the validity period: served from the cache.
        clock.advance(3000)
        _ = try await provider.credentials()
        #expect(await provider.fetchCount == 1)
        #expect(server.requests.count == 3)
        // Inside the 5-minute refresh window: fetched again.
        clock.advance(400)
        _ = try await provider.credentials()
        #expect(await provider.fetchCount == 2)
        #expect(server.requests.count == 6)
    }

    @Test("IMDS: a failed refresh keeps serving unexpired credentials, and fails once they expire")
    func instanceMetadataRefreshFailure() async throws {
        let start = Date()
        let healthy = try metadataServer(expiration: start.addingTimeInterval(3600))
        let clock = MutableClock(start)
        let provider = InstanceMetadataCredentialsProvider(environment: [:], endpoint: healthy.endpoint,
                                                           timeout: .milliseconds(500), clock: { clock.date })
        #expect(try await provider.credentials().accessKeyId == "ASIAIMDS")
        healthy.stop() // the metadata service goes away
        clock.advance(3400) // inside the refresh window, not yet expired
        #expect(try await provider.credentials().accessKeyId == "ASIAIMDS")
        clock.advance(300) // past expiry
        await #expect(throws: AWSCredentialsError.self) { _ = try await provider.credentials() }
        #expect(await provider.fetchCount == 1)
    }

    @Test("IMDS endpoint comes from AWS_EC2_METADATA_SERVICE_ENDPOINT; disabled by AWS_EC2_METADATA_DISABLED")
    func instanceMetadataEnvironment() async throws {
        let server = try metadataServer(expiration: Date().addingTimeInterval(3600))
        defer { server.stop() }
        let provider = InstanceMetadataCredentialsProvider(environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.endpoint.absoluteString])
        #expect(try await provider.credentials().accessKeyId == "ASIAIMDS")
        let disabled = InstanceMetadataCredentialsProvider(environment: [
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": server.endpoint.absoluteString, "AWS_EC2_METADATA_DISABLED": "true",
        ])
        await #expect(throws: AWSCredentialsError.self) { _ = try await disabled.credentials() }
    }

    @Test("IMDS failure answers are typed errors naming the step")
    func instanceMetadataErrors() async throws {
        let server = try LocalHTTPServer { request in
            request.method == "PUT" ? .init(status: 200, text: "t") : .init(status: 404)
        }
        defer { server.stop() }
        let provider = InstanceMetadataCredentialsProvider(environment: [:], endpoint: server.endpoint)
        await #expect(throws: AWSCredentialsError.instanceMetadata(step: "role name", detail: "HTTP 404")) {
            _ = try await provider.credentials()
        }
    }

    // MARK: Chain

    @Test("chain order: environment, then profile, then instance metadata; nothing anywhere lists every source")
    func chain() async throws {
        let server = try metadataServer(expiration: Date().addingTimeInterval(3600))
        defer { server.stop() }
        let (dir, files) = try profileFiles(credentials: "[default]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = s\n", config: "")
        defer { try? FileManager.default.removeItem(at: dir) }
        let imds = InstanceMetadataCredentialsProvider(environment: [:], endpoint: server.endpoint)

        var env = files
        env["AWS_ACCESS_KEY_ID"] = "AKIAENV"
        env["AWS_SECRET_ACCESS_KEY"] = "e"
        #expect(try await DefaultCredentialsChain(environment: env, instanceMetadata: imds).credentials().accessKeyId == "AKIAENV")
        #expect(try await DefaultCredentialsChain(environment: files, instanceMetadata: imds).credentials().accessKeyId == "AKIAPROFILE")
        let empty = ["HOME": dir.appendingPathComponent("nowhere").path]
        #expect(try await DefaultCredentialsChain(environment: empty, instanceMetadata: imds).credentials().accessKeyId == "ASIAIMDS")

        server.stop()
        let closed = InstanceMetadataCredentialsProvider(environment: [:], endpoint: server.endpoint, timeout: .milliseconds(500))
        await #expect {
            _ = try await DefaultCredentialsChain(environment: empty, instanceMetadata: closed).credentials()
        } throws: { error in
            guard case AWSCredentialsError.chainExhausted(let reasons) = error else { return false }
            return reasons.count == 3
        }
    }

    // MARK: Redaction

    @Test("secrets never appear in description, debugDescription, reflection or dump")
    func redaction() {
        let credentials = AWSCredentials(accessKeyId: "ASIAREDACTME12345678", secretAccessKey: Self.secret, sessionToken: Self.token)
        var dumped = ""
        dump(credentials, to: &dumped)
        let renderings = [credentials.description, credentials.debugDescription, String(describing: credentials),
                          String(reflecting: credentials), "\(credentials)", dumped,
                          String(describing: StaticCredentialsProvider(credentials))]
        for text in renderings {
            #expect(!text.contains(Self.secret), "secret leaked: \(text)")
            #expect(!text.contains(Self.token), "token leaked: \(text)")
            #expect(!text.contains("ASIAREDACTME12345678"), "full key id shown: \(text)")
        }
        #expect(credentials.description.contains("ASIA****"))
    }

    @Test("providers, client configurations, clients and CloudConfiguration print and dump without secrets")
    func redactionInContainers() throws {
        let environment = ["AWS_ACCESS_KEY_ID": "AKIAREDACT", "AWS_SECRET_ACCESS_KEY": Self.secret, "AWS_SESSION_TOKEN": Self.token,
                           "AWS_REGION": "eu-west-1", "HOME": "/nonexistent"]
        let provider = EnvironmentCredentialsProvider(environment: environment)
        let configuration = AWSClientConfiguration(region: "eu-west-1", credentials: provider)
        let cloud = try CloudConfiguration(environment: environment)
        let values: [Any] = [provider, configuration, S3Client(configuration: configuration), SQSClient(configuration: configuration),
                             EC2Client(configuration: configuration), cloud, cloud.clientConfiguration(for: .s3)]
        for value in values {
            var dumped = ""
            dump(value, to: &dumped)
            for text in [String(describing: value), String(reflecting: value), dumped] {
                #expect(!text.contains(Self.secret), "secret leaked by \(type(of: value))")
                #expect(!text.contains(Self.token), "token leaked by \(type(of: value))")
            }
        }
    }
}
