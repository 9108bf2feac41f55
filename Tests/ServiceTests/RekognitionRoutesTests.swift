import CloudPipeline
import CloudPipelineTestSupport
import FaceRecognition
import FaceRecognitionService
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The Rekognition API mounted beside the upload API on one router, in process: calls signed
/// by the pipeline's own SigV4 signer (as Soto would sign them), the course's multipart
/// `POST /` still answered, the clock injected.
@Suite("Rekognition routes in process", .serialized)
struct RekognitionRoutesTests {
    static let credentials = AWSCredentials(accessKeyId: "AKIDROUTES", secretAccessKey: "routes-secret")
    static let analyzer = RekognitionFaceAnalyzer(
        detector: try! RekognitionFaceAnalyzer.makeDetector(weightsDirectory: ServiceFixtures.mtcnnDirectory),
        facenet: try! FaceNet(contentsOf: ServiceFixtures.weightsFile), lanes: 2)

    static func rekognition(directory: URL, now: @escaping @Sendable () -> Date) async throws -> RekognitionAPI {
        let collections = try await RekognitionSetup.openCollections(dataDirectory: directory)
        let backend = PipelineBackend.local(LocalPipelineLayout(dataDirectory: directory))
        var keys = RekognitionKeys()
        keys.add(accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey)
        return RekognitionAPI(operations: RekognitionOperations(collections: collections, analyzer: analyzer,
                                                                images: PipelineImageSource(backend: backend)),
                              verifier: SigV4Verifier(keys: keys), now: now)
    }

    /// Headers and body of `operation`, signed at `date` for host `localhost`.
    static func signed(_ operation: String, _ json: String, date: Date) -> (HTTPFields, ByteBuffer) {
        let request = AWSHTTPRequest(method: "POST", scheme: "http", host: "localhost", path: "/",
                                     headers: [AWSHTTPHeader("Content-Type", RekognitionAPI.contentType),
                                               AWSHTTPHeader("X-Amz-Target", "RekognitionService.\(operation)")],
                                     body: Data(json.utf8))
        let signed = SigV4Signer(service: "rekognition", region: "us-east-1").sign(request, credentials: credentials, date: date).request
        var headers = HTTPFields()
        for header in signed.headers { headers[HTTPFields.Element.Name(header.name)!] = header.value }
        headers[HTTPFields.Element.Name("Host")!] = "localhost"
        return (headers, ByteBuffer(data: signed.body))
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
    }

    @Test("one router: X-Amz-Target calls go to Rekognition, the multipart POST / to the upload API; both are counted in /metrics")
    func sideBySide() async throws {
        let fixture = try await UploadRoutesTests.Fixture(configuration: .init(resultTimeout: .seconds(120)))
        defer { fixture.remove() }
        let signedAt = Date(timeIntervalSince1970: 1_800_000_000)
        let rekognition = try await Self.rekognition(directory: fixture.directory, now: { signedAt.addingTimeInterval(60) })
        // What facerec-server serves: the upload API's router with Rekognition in front.
        let router = rekognition.makeRouter(with: fixture.api)
        let file = try ServiceFixtures.images(1)[0]
        let image = try Data(contentsOf: file)
        let expectedLabel = try await ServiceFixtures.engine.analyze(image).label
        let form = UploadRoutesTests.multipart(image, filename: file.lastPathComponent)

        try await fixture.withWorker {
            try await Application(router: router).test(.router) { client in
                let (createHeaders, createBody) = Self.signed("CreateCollection", #"{"CollectionId":"in-process"}"#, date: signedAt)
                let created = try await client.execute(uri: "/", method: .post, headers: createHeaders, body: createBody)
                #expect(created.status == .ok)
                #expect(created.headers[.contentType] == RekognitionAPI.contentType)
                #expect(try Self.json(created)["CollectionArn"] as? String == "aws:rekognition:us-east-1:000000000000:collection/in-process")

                let (listHeaders, listBody) = Self.signed("ListCollections", "{}", date: signedAt)
                let listed = try await client.execute(uri: "/", method: .post, headers: listHeaders, body: listBody)
                #expect(try Self.json(listed)["CollectionIds"] as? [String] == ["in-process"])

                let (missingHeaders, missingBody) = Self.signed("DescribeCollection", #"{"CollectionId":"absent"}"#, date: signedAt)
                let missing = try await client.execute(uri: "/", method: .post, headers: missingHeaders, body: missingBody)
                #expect(missing.status == .badRequest)
                #expect(try Self.json(missing)["__type"] as? String == "ResourceNotFoundException")

                let (unknownHeaders, unknownBody) = Self.signed("DetectLabels", "{}", date: signedAt)
                let unknown = try await client.execute(uri: "/", method: .post, headers: unknownHeaders, body: unknownBody)
                #expect(try Self.json(unknown)["__type"] as? String == "UnknownOperationException")

                // The course's upload form on the same path still gets STEM:NAME.
                let legacy = try await client.execute(uri: "/", method: .post, headers: form.headers, body: form.body)
                #expect(legacy.status == .ok)
                #expect(String(buffer: legacy.body) == "\(file.deletingPathExtension().lastPathComponent):\(expectedLabel)")

                // Both kinds of call are counted: 2 Rekognition answers and the upload 200, 2 Rekognition answers 400.
                let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
                #expect(metrics.contains(#"facerec_http_requests_total{route="/",status="200"} 3"#), "\(metrics)")
                #expect(metrics.contains(#"facerec_http_requests_total{route="/",status="400"} 2"#), "\(metrics)")
            }
        }
    }

    @Test("the clock is the server's: a request signed 6 minutes earlier is expired, one signed 4 minutes earlier is not")
    func clockSkew() async throws {
        let directory = try LocalTestDirectory.make("rekognition-clock")
        defer { try? FileManager.default.removeItem(at: directory) }
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let router = Router()
        try await Self.rekognition(directory: directory, now: { now }).addRoutes(to: router)
        try await Application(router: router).test(.router) { client in
            let (oldHeaders, oldBody) = Self.signed("ListCollections", "{}", date: now.addingTimeInterval(-360))
            let old = try await client.execute(uri: "/", method: .post, headers: oldHeaders, body: oldBody)
            #expect(old.status == .badRequest)
            let error = try Self.json(old)
            #expect(error["__type"] as? String == "InvalidSignatureException")
            #expect((error["message"] as? String)?.hasPrefix("Signature expired") == true)
            let (recentHeaders, recentBody) = Self.signed("ListCollections", "{}", date: now.addingTimeInterval(-240))
            let recent = try await client.execute(uri: "/", method: .post, headers: recentHeaders, body: recentBody)
            #expect(recent.status == .ok)
        }
    }
}
