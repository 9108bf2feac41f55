import CloudPipeline
import CloudPipelineTestSupport
import FaceRecognition
import FaceRecognitionService
import Foundation
import Testing

/// A running `facerec-server` with the Rekognition API on a free port, stopped when the body
/// ends, pass or fail.
struct RekognitionServer {
    static let accessKeyId = "AKIDREKOGNITIONTEST"
    static let secretAccessKey = "rekognition-test-secret"
    static let readOnlyKeyId = "AKIDREADONLY"
    static let readOnlySecret = "read-only-secret"

    let process: ChildProcess
    let url: URL
    let dataDirectory: URL

    /// Starts the server on `dataDirectory` (kept by the caller) and runs `body` with it.
    static func with<T>(dataDirectory: URL, extraArguments: [String] = [], _ body: (RekognitionServer) async throws -> T) async throws -> T {
        let keysFile = dataDirectory.appendingPathComponent("keys.txt")
        try "# test keys\n\(readOnlyKeyId) \(readOnlySecret) read-only\n".write(to: keysFile, atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        environment["FACEREC_ACCESS_KEY_ID"] = accessKeyId
        environment["FACEREC_SECRET_ACCESS_KEY"] = secretAccessKey
        for name in PipelineBackend.cloudVariables { environment[name] = nil }
        let process = try ChildProcess(
            ServiceFixtures.binaries.appendingPathComponent("facerec-server"),
            ["--port", "0", "--data-dir", dataDirectory.path, "--no-workers", "--keys-file", keysFile.path,
             "--weights", ServiceFixtures.weightsFile.path, "--gallery", ServiceFixtures.gallery.path,
             "--mtcnn-weights", ServiceFixtures.mtcnnDirectory.path] + extraArguments,
            environment: environment, stderr: dataDirectory.appendingPathComponent("server-\(UUID().uuidString.prefix(8)).log"))
        func stop() async {
            process.signal(SIGTERM)
            if await process.waitForExit(timeout: .seconds(30)) == nil {
                process.signal(SIGKILL)
                _ = await process.waitForExit()
            }
        }
        do {
            let line = try #require(await process.waitForLine { $0.contains("listening on") }, "the server did not start")
            let server = RekognitionServer(process: process, url: try #require(listeningURL(line)), dataDirectory: dataDirectory)
            let result = try await body(server)
            await stop()
            return result
        } catch {
            await stop()
            throw error
        }
    }

    var clientEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_ACCESS_KEY_ID"] = Self.accessKeyId
        environment["AWS_SECRET_ACCESS_KEY"] = Self.secretAccessKey
        environment["AWS_DEFAULT_REGION"] = "us-east-1"
        environment["READONLY_ACCESS_KEY_ID"] = Self.readOnlyKeyId
        environment["READONLY_SECRET_ACCESS_KEY"] = Self.readOnlySecret
        environment["MULTIFACE_IMAGE"] = AWSTestPaths.data("photos/multiface.jpg").path
        for name in ["AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"] { environment[name] = nil }
        return environment
    }

    /// Runs a scenario of `Tests/Fixtures/rekognition/rekognition_client.py`.
    func scenario(_ name: String, extra: [String] = [], environment: [String: String] = [:]) async throws -> RekognitionReport {
        let output = dataDirectory.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8)).json")
        let script = ServiceFixtures.packageRoot.appendingPathComponent("Tests/Fixtures/rekognition/rekognition_client.py").path
        let status = try await runProcess("/usr/bin/env", ["python3", script, name, url.absoluteString, ServiceFixtures.faceImages.path] + extra,
                                          environment: clientEnvironment.merging(environment) { $1 }, stdout: output)
        let data = try Data(contentsOf: output)
        try #require(status == 0, "the boto3 scenario \(name) exited with \(status): \(String(decoding: data, as: UTF8.self))")
        return try JSONDecoder().decode(RekognitionReport.self, from: data)
    }
}

/// What a boto3 scenario saw.
struct RekognitionReport: Decodable {
    struct Check: Decodable { let name: String; let ok: Bool; let detail: String }
    let checks: [Check]
    let figures: [String: JSONValue]

    /// Records a failure for each failed check and each expected check that did not run.
    func expectAll(_ names: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        for check in checks where !check.ok {
            Issue.record("\(check.name): \(check.detail)", sourceLocation: sourceLocation)
        }
        let ran = Set(checks.map(\.name))
        for name in names where !ran.contains(name) {
            Issue.record("check \(name) did not run", sourceLocation: sourceLocation)
        }
    }
}

enum JSONValue: Decodable, CustomStringConvertible {
    case number(Double), text(String)
    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) { self = .number(number) } else { self = .text(try container.decode(String.self)) }
    }
    var description: String {
        switch self {
        case .number(let n): return String(n)
        case .text(let t): return t
        }
    }
}

private let boto3Available = ServiceFixtures.pythonCanImport("boto3")

/// boto3's `rekognition` client (and the AWS CLI) against `facerec-server`: every operation,
/// pagination, Rekognition's error shapes, SigV4 refusals, durability across a restart.
@Suite("Rekognition API with boto3", .serialized, .enabled(if: boto3Available, "boto3 is not installed (pip install boto3)"))
struct RekognitionBoto3Tests {
    @Test("every operation through boto3: collections, faces, search, compare, detect, users, pagination, S3Object")
    func operations() async throws {
        let directory = try LocalTestDirectory.make("rekognition-ops")
        defer { try? FileManager.default.removeItem(at: directory) }
        // An object in the embedded store's bucket `photos`, for Image.S3Object.
        let store = try DirectoryObjectStore(root: LocalPipelineLayout(dataDirectory: directory).bucketDirectory("photos"))
        try await store.put(try Data(contentsOf: ServiceFixtures.images(1)[0]), key: "people/first.jpg")
        let report = try await RekognitionServer.with(dataDirectory: directory) { server in
            try await server.scenario("operations", extra: ["photos", "people/first.jpg"])
        }
        report.expectAll([
            "CreateCollection", "ListCollections pages", "ListCollections paginator", "IndexFaces same image same ImageId",
            "IndexFaces UnindexedFaces reasons", "IndexFaces MaxFaces", "DetectFaces multi", "ListFaces pages",
            "DescribeCollection", "SearchFaces", "SearchFaces MaxFaces", "SearchFacesByImage", "CompareFaces itself",
            "CompareFaces threshold", "DetectFaces", "DetectFaces S3Object", "InvalidS3ObjectException",
            "CreateUser ListUsers pages", "AssociateFaces", "AssociateFaces refusals", "AssociateFaces LOW_MATCH_CONFIDENCE",
            "ListFaces UserId", "SearchUsers FaceId", "SearchUsers UserId", "SearchUsersByImage",
            "DeleteFaces associated refused", "DisassociateFaces", "DeleteFaces", "deleted face not found by search",
            "DeleteUser frees faces", "DeleteCollection",
        ])
    }

    @Test("errors come back in Rekognition's shape, as the SDK's modeled exceptions")
    func errors() async throws {
        let directory = try LocalTestDirectory.make("rekognition-errors")
        defer { try? FileManager.default.removeItem(at: directory) }
        let report = try await RekognitionServer.with(dataDirectory: directory) { try await $0.scenario("errors") }
        report.expectAll([
            "ResourceAlreadyExistsException", "ResourceNotFoundException", "ResourceNotFoundException DeleteUser",
            "InvalidParameterException CollectionId", "InvalidParameterException FaceId", "InvalidParameterException no face",
            "InvalidParameterException threshold", "InvalidImageFormatException", "ImageTooLargeException",
            "InvalidPaginationTokenException", "ConflictException", "modeled exception class", "read-only key may list",
            "AccessDeniedException",
        ])
    }

    @Test("SigV4: a wrong secret, an unknown key, an unsigned request, an expired date and a changed body are refused")
    func signatures() async throws {
        let directory = try LocalTestDirectory.make("rekognition-auth")
        defer { try? FileManager.default.removeItem(at: directory) }
        let report = try await RekognitionServer.with(dataDirectory: directory) { try await $0.scenario("auth") }
        report.expectAll(["wrong secret", "unknown access key", "unsigned request", "expired date", "date within skew accepted",
                          "tampered body", "tampered body changed nothing"])
    }

    @Test("the 100 sample images: indexed with ExternalImageId = stem, each finds itself first with Similarity ≥ 99")
    func doneWhen() async throws {
        let directory = try LocalTestDirectory.make("rekognition-100")
        defer { try? FileManager.default.removeItem(at: directory) }
        let report = try await RekognitionServer.with(dataDirectory: directory) { try await $0.scenario("done-when") }
        report.expectAll(["indexed every sample image", "each image finds itself first with Similarity >= 99",
                          "CompareFaces of an image with itself gives one match"])
        print("rekognition done-when figures: \(report.figures)")
    }

    @Test("a restart keeps collections, faces, embeddings and users")
    func restart() async throws {
        let directory = try LocalTestDirectory.make("rekognition-restart")
        defer { try? FileManager.default.removeItem(at: directory) }
        let before = try await RekognitionServer.with(dataDirectory: directory) { try await $0.scenario("restart-before") }
        before.expectAll(["indexed before restart"])
        let faceId = try #require(before.figures["face_id"]?.description)
        let after = try await RekognitionServer.with(dataDirectory: directory) {
            try await $0.scenario("restart-after", environment: ["EXPECTED_FACE_ID": faceId])
        }
        after.expectAll(["face kept", "user kept", "embedding kept"])
    }

    @Test("a server shedding load answers ProvisionedThroughputExceededException and still serves calls without images")
    func overload() async throws {
        let directory = try LocalTestDirectory.make("rekognition-overload")
        defer { try? FileManager.default.removeItem(at: directory) }
        // No image may wait: every image call is shed, deterministically.
        let report = try await RekognitionServer.with(dataDirectory: directory, extraArguments: ["--rekognition-max-pending", "0"]) {
            try await $0.scenario("overload")
        }
        report.expectAll(["ProvisionedThroughputExceededException", "calls without images are still served"])
    }

    @Test("`facerec-server collections import data.pt` makes the course gallery a collection with a user per name")
    func importGallery() async throws {
        let directory = try LocalTestDirectory.make("rekognition-import")
        defer { try? FileManager.default.removeItem(at: directory) }
        let status = try await runProcess(ServiceFixtures.binaries.appendingPathComponent("facerec-server").path,
                                          ["collections", "import", ServiceFixtures.gallery.path, "--collection-id", "course",
                                           "--data-dir", directory.path],
                                          environment: ProcessInfo.processInfo.environment)
        #expect(status == 0)
        let gallery = try Gallery.load(contentsOf: ServiceFixtures.gallery)
        let report = try await RekognitionServer.with(dataDirectory: directory) {
            try await $0.scenario("imported", environment: ["IMPORTED_COLLECTION": "course", "EXPECTED_FACES": String(gallery.count),
                                                            "EXPECTED_USERS": String(Set(gallery.names).count)])
        }
        report.expectAll(["imported faces", "imported users", "imported faces carry their names", "SearchUsers on an imported face"])
    }

    @Test("the AWS CLI: create-collection, index-faces, search-faces-by-image, list-faces, delete-collection")
    func awsCLI() async throws {
        let aws = try #require(Self.which("aws"), "the AWS CLI is not installed")
        let directory = try LocalTestDirectory.make("rekognition-cli")
        defer { try? FileManager.default.removeItem(at: directory) }
        let image = try ServiceFixtures.images(1)[0]
        try await RekognitionServer.with(dataDirectory: directory) { server in
            func cli(_ arguments: [String]) async throws -> [String: Any] {
                let output = directory.appendingPathComponent("cli-\(UUID().uuidString.prefix(8)).json")
                var environment = server.clientEnvironment
                environment["AWS_MAX_ATTEMPTS"] = "1"
                environment["AWS_CONFIG_FILE"] = "/dev/null"
                environment["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
                let status = try await runProcess(aws, ["rekognition"] + arguments + ["--endpoint-url", server.url.absoluteString,
                                                                                      "--region", "us-east-1", "--output", "json"],
                                                  environment: environment, stdout: output)
                let data = try Data(contentsOf: output)
                try #require(status == 0, "aws rekognition \(arguments.first ?? "") exited with \(status)")
                return data.isEmpty ? [:] : try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            }
            let created = try await cli(["create-collection", "--collection-id", "cli-collection"])
            #expect(created["StatusCode"] as? Int == 200)
            let indexed = try await cli(["index-faces", "--collection-id", "cli-collection", "--image-bytes", "fileb://\(image.path)",
                                         "--external-image-id", "first"])
            let records = try #require(indexed["FaceRecords"] as? [[String: Any]])
            #expect(records.count == 1)
            let searched = try await cli(["search-faces-by-image", "--collection-id", "cli-collection",
                                          "--image-bytes", "fileb://\(image.path)"])
            let top = try #require((searched["FaceMatches"] as? [[String: Any]])?.first)
            #expect((top["Face"] as? [String: Any])?["ExternalImageId"] as? String == "first")
            #expect((top["Similarity"] as? Double ?? 0) >= 99)
            let listed = try await cli(["list-faces", "--collection-id", "cli-collection"])
            #expect((listed["Faces"] as? [Any])?.count == 1)
            let deleted = try await cli(["delete-collection", "--collection-id", "cli-collection"])
            #expect(deleted["StatusCode"] as? Int == 200)
        }
    }

    static func which(_ name: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}
