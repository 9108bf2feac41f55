@testable import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Logging
import Testing

/// `CloudConfiguration` from the environment of the system this replaces, and what the
/// clients write to logs.
@Suite("AWS configuration and logging")
struct AWSConfigurationTests {
    static let full: [String: String] = [
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "super-secret-value",
        "AWS_DEFAULT_REGION": "us-east-1",
        "INPUT_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/req", "OUTPUT_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/resp",
        "INPUT_BUCKET": "in-bucket", "OUTPUT_BUCKET": "out-bucket", "AMI_ID": "ami-0123", "SECURITY_GROUP_ID": "sg-1", "SUBNET_ID": "subnet-2",
        "HOME": "/nonexistent-home",
    ]

    @Test("every variable of the original system is read")
    func readsEverything() throws {
        let config = try CloudConfiguration(environment: Self.full)
        #expect(config.region == "us-east-1")
        #expect(config.inputQueueURL == Self.full["INPUT_QUEUE_URL"])
        #expect(config.outputQueueURL == Self.full["OUTPUT_QUEUE_URL"])
        #expect(config.inputBucket == "in-bucket" && config.outputBucket == "out-bucket")
        #expect(config.amiId == "ami-0123" && config.securityGroupId == "sg-1" && config.subnetId == "subnet-2")
        #expect(config.endpoint(for: .s3) == nil)
        #expect(try config.require(\.inputBucket, "INPUT_BUCKET") == "in-bucket")
        // It holds no secret, so it can be logged.
        #expect(!config.description.contains("super-secret-value"))
    }

    @Test("AWS_REGION wins over AWS_DEFAULT_REGION; no region is an error naming the variables")
    func region() throws {
        var env = Self.full
        env["AWS_REGION"] = "eu-west-1"
        #expect(try CloudConfiguration(environment: env).region == "eu-west-1")
        env.removeValue(forKey: "AWS_REGION")
        env.removeValue(forKey: "AWS_DEFAULT_REGION")
        #expect(throws: CloudConfigurationError.missing(variable: "AWS_REGION or AWS_DEFAULT_REGION")) {
            _ = try CloudConfiguration(environment: env)
        }
    }

    @Test("AWS_ENDPOINT_URL for all services; AWS_ENDPOINT_URL_<SERVICE> wins; bad URLs are named")
    func endpoints() throws {
        var env = Self.full
        env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:5000"
        env["AWS_ENDPOINT_URL_SQS"] = "http://127.0.0.1:9324"
        let config = try CloudConfiguration(environment: env)
        #expect(config.endpoint(for: .s3)?.absoluteString == "http://127.0.0.1:5000")
        #expect(config.endpoint(for: .ec2)?.absoluteString == "http://127.0.0.1:5000")
        #expect(config.endpoint(for: .sqs)?.absoluteString == "http://127.0.0.1:9324")
        #expect(config.clientConfiguration(for: .sqs).endpoint?.absoluteString == "http://127.0.0.1:9324")
        #expect(config.clientConfiguration(for: .s3).region == "us-east-1")
        env["AWS_ENDPOINT_URL_EC2"] = "not a url"
        #expect(throws: CloudConfigurationError.invalidURL(variable: "AWS_ENDPOINT_URL_EC2", value: "not a url")) {
            _ = try CloudConfiguration(environment: env)
        }
        #expect(throws: CloudConfigurationError.missing(variable: "AMI_ID")) {
            _ = try CloudConfiguration(environment: ["AWS_REGION": "us-east-1"]).require(\.amiId, "AMI_ID")
        }
    }

    @Test("the configuration's credentials come from the same environment")
    func credentials() async throws {
        let config = try CloudConfiguration(environment: Self.full)
        let credentials = try await config.credentialsProvider().credentials()
        #expect(credentials.accessKeyId == "AKIAEXAMPLE")
        #expect(credentials.secretAccessKey == "super-secret-value")
    }

    @Test("default endpoints are the regional AWS ones; virtual-hosted S3 without an override")
    func defaults() {
        let creds = StaticCredentialsProvider(AWSCredentials(accessKeyId: "a", secretAccessKey: "b"))
        let s3 = S3Client(configuration: AWSClientConfiguration(region: "eu-west-1", credentials: creds))
        #expect(s3.addressingStyle == .virtualHosted)
        let request = try? s3.makeRequest("GET", bucket: "photos", key: "a b.jpg", operation: "GetObject")
        #expect(request?.url?.absoluteString == "https://photos.s3.eu-west-1.amazonaws.com/a%20b.jpg")
        #expect(SQSClient(configuration: AWSClientConfiguration(region: "eu-west-1", credentials: creds)).core.endpoint.absoluteString
                == "https://sqs.eu-west-1.amazonaws.com")
        #expect(EC2Client(configuration: AWSClientConfiguration(region: "us-east-2", credentials: creds)).core.endpoint.absoluteString
                == "https://ec2.us-east-2.amazonaws.com")
    }

    /// Keeps every log line, at every level.
    final class CapturingLog: @unchecked Sendable {
        let lock = NSLock()
        var lines: [String] = []
        func append(_ line: String) { lock.withLock { lines.append(line) } }
    }

    struct CapturingHandler: LogHandler {
        let log: CapturingLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
                 file: String, function: String, line: UInt) {
            log.append("\(level) \(message) \(self.metadata.merging(metadata ?? [:]) { $1 })")
        }
    }

    @Test("trace-level logs of successful, retried and rejected calls hold no secret or token")
    func logsHoldNoSecrets() async throws {
        let moto = try await MotoEnvironment.shared()
        let log = CapturingLog()
        let logger = Logger(label: "test") { _ in CapturingHandler(log: log) }
        let token = "session-token-must-not-leak"
        func configuration(secret: String) -> AWSClientConfiguration {
            AWSClientConfiguration(region: "us-east-1", endpoint: moto.endpoint,
                                   credentials: StaticCredentialsProvider(AWSCredentials(accessKeyId: moto.accessKeyId, secretAccessKey: secret,
                                                                                         sessionToken: secret == moto.secretAccessKey ? nil : token)),
                                   retry: AWSRetryStrategy(base: .milliseconds(1), cap: .milliseconds(2)), logger: logger)
        }
        let sqs = SQSClient(configuration: configuration(secret: moto.secretAccessKey))
        let url = try await sqs.createQueue(name: MotoEnvironment.uniqueName("logs"))
        _ = try await sqs.receiveMessage(queueUrl: url)
        let bad = SQSClient(configuration: configuration(secret: "wrong-secret-must-not-leak"))
        var errorText = ""
        do { _ = try await bad.getQueueUrl(name: "x") } catch { errorText = "\(error)" }
        // A retried failure (moto answers unknown session tokens / 5xx differently; use a dead port).
        let server = try LocalHTTPServer { _ in .init(status: 500) }
        let dead = SQSClient(configuration: AWSClientConfiguration(
            region: "us-east-1", endpoint: server.endpoint,
            credentials: StaticCredentialsProvider(AWSCredentials(accessKeyId: "AKID", secretAccessKey: "wrong-secret-must-not-leak", sessionToken: token)),
            retry: AWSRetryStrategy(base: .milliseconds(1), cap: .milliseconds(2)), logger: logger))
        do { _ = try await dead.getQueueUrl(name: "x") } catch { errorText += "\(error)" }
        server.stop()
        #expect(!log.lines.isEmpty)
        #expect(log.lines.contains { $0.contains("retrying") })
        for text in log.lines + [errorText] {
            #expect(!text.contains(moto.secretAccessKey))
            #expect(!text.contains("wrong-secret-must-not-leak"))
            #expect(!text.contains(token))
            #expect(!text.contains("Signature="))
        }
    }
}
