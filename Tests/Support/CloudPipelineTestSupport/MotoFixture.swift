import CloudPipeline
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Paths the AWS tests need.
public enum AWSTestPaths {
    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures/aws")
    public static let motoScript = packageRoot.appendingPathComponent("scripts/moto-server.sh")
    /// The sample data committed with the package (`SampleData/`).
    public static let sampleData = packageRoot.appendingPathComponent("SampleData")
    /// `relative` in the committed sample if it is there, else in ``sharedData``.
    public static func data(_ relative: String) -> URL {
        let committed = sampleData.appendingPathComponent(relative)
        return FileManager.default.fileExists(atPath: committed.path) ? committed : sharedData.appendingPathComponent(relative)
    }
    /// The larger data sets: `FACEREC_TEST_DATA`, or `../shared/data` beside the package.
    public static let sharedData: URL = {
        if let path = ProcessInfo.processInfo.environment["FACEREC_TEST_DATA"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data")
    }()
}

/// The moto servers the AWS tests talk to: one with SigV4 checking on (and an allow-all IAM
/// key) and one with authentication off (for presigned URLs).
public struct MotoEnvironment: Sendable {
    public let endpoint: URL
    public let accessKeyId: String
    public let secretAccessKey: String
    public let noAuthEndpoint: URL

    public var credentials: AWSCredentials { AWSCredentials(accessKeyId: accessKeyId, secretAccessKey: secretAccessKey) }

    /// Client settings against the authenticating server (or `endpoint`), with `credentials`.
    public func configuration(region: String = "us-east-1", credentials: AWSCredentials? = nil, endpoint: URL? = nil,
                       retry: AWSRetryStrategy = AWSRetryStrategy()) -> AWSClientConfiguration {
        AWSClientConfiguration(region: region, endpoint: endpoint ?? self.endpoint,
                               credentials: StaticCredentialsProvider(credentials ?? self.credentials), retry: retry)
    }

    /// Environment for a boto3 subprocess pointed at the authenticating server.
    public func botoEnvironment(region: String = "us-east-1", endpoint: URL? = nil) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["AWS_ACCESS_KEY_ID"] = accessKeyId
        env["AWS_SECRET_ACCESS_KEY"] = secretAccessKey
        env["AWS_DEFAULT_REGION"] = region
        env["AWS_REGION"] = region
        env["MOTO_ENDPOINT"] = (endpoint ?? self.endpoint).absoluteString
        env.removeValue(forKey: "AWS_SESSION_TOKEN")
        env.removeValue(forKey: "AWS_PROFILE")
        return env
    }

    /// The environment of a pipeline on this server, as `facerec-server setup` leaves it: the
    /// test key, region and endpoint, buckets `in-<suffix>`/`out-<suffix>`, and the queues and
    /// dead-letter queue `PipelineSetup` created (their URLs from its report).
    public func pipelineEnvironment(suffix: String) async throws -> [String: String] {
        var environment = [
            "AWS_ACCESS_KEY_ID": accessKeyId, "AWS_SECRET_ACCESS_KEY": secretAccessKey,
            "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint.absoluteString, "HOME": "/nonexistent",
            "INPUT_BUCKET": "in-\(suffix)", "OUTPUT_BUCKET": "out-\(suffix)",
            "INPUT_QUEUE_URL": endpoint.appendingPathComponent("123456789012/in-\(suffix)").absoluteString,
            "OUTPUT_QUEUE_URL": endpoint.appendingPathComponent("123456789012/out-\(suffix)").absoluteString,
        ]
        let report = try await PipelineSetup().run(.aws(try CloudConfiguration(environment: environment)))
        for (name, value) in report.variables { environment[name] = value }
        return environment
    }

    /// A name no other test (or earlier run against the same server) uses.
    public static func uniqueName(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.prefix(13).lowercased())"
    }

    /// The servers from `FACEREC_MOTO_*` if set (CI starts them with
    /// `scripts/moto-server.sh start`), else started once per test process by that script,
    /// with a watchdog that stops them when this process exits.
    public static func shared() async throws -> MotoEnvironment {
        try await MotoLauncher.shared.environment()
    }
}

/// Why the moto servers are not available.
public struct MotoUnavailable: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

private actor MotoLauncher {
    static let shared = MotoLauncher()
    private var task: Task<MotoEnvironment, any Error>?

    func environment() async throws -> MotoEnvironment {
        if let task { return try await task.value }
        let task = Task {
            let environment = try await Self.resolve()
            await Self.warmUp(environment)
            return environment
        }
        self.task = task
        return try await task.value
    }

    private static func resolve() async throws -> MotoEnvironment {
        let env = ProcessInfo.processInfo.environment
        if let parsed = parse(env) { return parsed }
        let stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("facerec-moto-\(getpid())-\(UUID().uuidString.prefix(8))")
        let status = try await runProcess("/bin/bash", [AWSTestPaths.motoScript.path, "start", "--state-dir", stateDir.path,
                                                        "--owner-pid", String(getpid())], environment: env)
        guard status == 0 else {
            throw MotoUnavailable(description: "scripts/moto-server.sh start exited with \(status) (is moto[server] installed?)")
        }
        let text = try String(contentsOf: stateDir.appendingPathComponent("env"), encoding: .utf8)
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let body = line.hasPrefix("export ") ? line.dropFirst(7) : line[...]
            if let eq = body.firstIndex(of: "=") { values[String(body[..<eq])] = String(body[body.index(after: eq)...]) }
        }
        guard let parsed = parse(values) else { throw MotoUnavailable(description: "moto env file \(stateDir.path)/env is incomplete") }
        return parsed
    }

    /// moto loads each service on its first call (EC2 takes seconds, holding the GIL), which
    /// would stall concurrent calls of timing-sensitive tests; pay that once, up front.
    private static func warmUp(_ moto: MotoEnvironment) async {
        let configuration = moto.configuration(retry: .none)
        _ = try? await EC2Client(configuration: configuration).describeInstances(maxResults: 5)
        _ = try? await SQSClient(configuration: configuration).getQueueUrl(name: "warm-up")
        _ = try? await S3Client(configuration: configuration).listObjectsV2(bucket: "warm-up")
        _ = try? await S3Client(configuration: moto.configuration(endpoint: moto.noAuthEndpoint, retry: .none)).listObjectsV2(bucket: "warm-up")
    }

    private static func parse(_ env: [String: String]) -> MotoEnvironment? {
        guard let endpoint = env["FACEREC_MOTO_ENDPOINT"].flatMap(URL.init(string:)),
              let id = env["FACEREC_MOTO_ACCESS_KEY_ID"], let secret = env["FACEREC_MOTO_SECRET_ACCESS_KEY"],
              let noAuth = env["FACEREC_MOTO_NOAUTH_ENDPOINT"].flatMap(URL.init(string:)) else { return nil }
        return MotoEnvironment(endpoint: endpoint, accessKeyId: id, secretAccessKey: secret, noAuthEndpoint: noAuth)
    }
}

/// Runs a program to completion without blocking a cooperative thread; returns its exit status.
/// Standard output goes to `stdout` (a file) or is discarded; standard error is inherited.
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String],
                stdout: URL? = nil, stdin: Data? = nil) async throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = environment
    if let stdout {
        _ = FileManager.default.createFile(atPath: stdout.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: stdout)
    } else {
        process.standardOutput = FileHandle.nullDevice
    }
    var inputFile: URL?
    if let stdin {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("stdin-\(UUID().uuidString)")
        try stdin.write(to: url)
        process.standardInput = try FileHandle(forReadingFrom: url)
        inputFile = url
    } else {
        process.standardInput = FileHandle.nullDevice
    }
    defer { if let inputFile { try? FileManager.default.removeItem(at: inputFile) } }
    return try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { finished in continuation.resume(returning: finished.terminationStatus) }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
        }
    }
}

/// boto3, the reference client, run as a subprocess: `script` gets `MOTO_ENDPOINT` and the
/// test key in its environment plus `arguments` in `sys.argv[1:]`; returns its stdout.
public enum Boto3 {
    public static func run(_ script: String, _ arguments: [String] = [], moto: MotoEnvironment, region: String = "us-east-1",
                    endpoint: URL? = nil, stdin: Data? = nil) async throws -> Data {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("boto3-\(UUID().uuidString).out")
        defer { try? FileManager.default.removeItem(at: output) }
        let prelude = """
        import os, sys, json, base64, boto3
        from botocore.config import Config
        def client(name):
            return boto3.client(name, endpoint_url=os.environ["MOTO_ENDPOINT"], region_name=os.environ["AWS_DEFAULT_REGION"],
                                config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))

        """
        let status = try await runProcess("/usr/bin/env", ["python3", "-c", prelude + script] + arguments,
                                          environment: moto.botoEnvironment(region: region, endpoint: endpoint), stdout: output, stdin: stdin)
        guard status == 0 else { throw MotoUnavailable(description: "boto3 script exited with \(status)") }
        return try Data(contentsOf: output)
    }

    public static func json(_ script: String, _ arguments: [String] = [], moto: MotoEnvironment, region: String = "us-east-1",
                     endpoint: URL? = nil, stdin: Data? = nil) async throws -> Any {
        let data = try await run(script, arguments, moto: moto, region: region, endpoint: endpoint, stdin: stdin)
        return try JSONSerialization.jsonObject(with: data)
    }
}

/// Unique scratch directories under the system temporary directory.
public enum LocalTestDirectory {
    public static func make(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("cloudpipeline-\(label)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; the last answer otherwise.
public func eventually(timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}
