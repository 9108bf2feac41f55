import CloudPipeline
import CloudPipelineTestSupport
import FaceRecognition
import FaceRecognitionService
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The console's gallery upload (`POST /ui/import-gallery`) in process: signed like a
/// Rekognition call, refused unsigned, to read-only keys and for files that are not galleries.
@Suite("Console gallery import", .serialized)
struct ConsoleGalleryImportTests {
    static let writer = AWSCredentials(accessKeyId: "AKIDWRITER", secretAccessKey: "writer-secret")
    static let reader = AWSCredentials(accessKeyId: "AKIDREADER", secretAccessKey: "reader-secret")

    static func router(directory: URL, now: Date) async throws -> (Router<BasicRequestContext>, RekognitionAPI) {
        let collections = try await RekognitionSetup.openCollections(dataDirectory: directory)
        var keys = RekognitionKeys()
        keys.add(accessKeyId: writer.accessKeyId, secretAccessKey: writer.secretAccessKey)
        keys.add(accessKeyId: reader.accessKeyId, secretAccessKey: reader.secretAccessKey, readOnly: true)
        let api = RekognitionAPI(operations: RekognitionOperations(collections: collections, analyzer: RekognitionRoutesTests.analyzer,
                                                                   images: PipelineImageSource(backend: .local(LocalPipelineLayout(dataDirectory: directory)))),
                                 verifier: SigV4Verifier(keys: keys), now: { now })
        let router = Router()
        ConsoleRoutes.addRoutes(to: router, rekognition: api)
        return (router, api)
    }

    /// The page's request: the file as the body, the collection in the query, signed at `date`.
    static func signed(_ body: Data, collection: String, credentials: AWSCredentials, date: Date) -> (String, HTTPFields, ByteBuffer) {
        let request = AWSHTTPRequest(method: "POST", scheme: "http", host: "localhost", path: "/ui/import-gallery",
                                     query: [AWSQueryItem("CollectionId", collection)],
                                     headers: [AWSHTTPHeader("Content-Type", "application/octet-stream")], body: body)
        let signed = SigV4Signer(service: "rekognition", region: "us-east-1").sign(request, credentials: credentials, date: date).request
        var headers = HTTPFields()
        for header in signed.headers { headers[HTTPFields.Element.Name(header.name)!] = header.value }
        headers[HTTPFields.Element.Name("Host")!] = "localhost"
        return ("/ui/import-gallery?CollectionId=\(collection)", headers, ByteBuffer(data: signed.body))
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
    }

    @Test("data.pt becomes a collection with a face per embedding; a second import of the same id, a read-only key, an unsigned call and a non-gallery are refused in Rekognition's shape")
    func importGallery() async throws {
        let directory = try LocalTestDirectory.make("console-import")
        defer { try? FileManager.default.removeItem(at: directory) }
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let (router, api) = try await Self.router(directory: directory, now: now)
        let gallery = try Data(contentsOf: ServiceFixtures.gallery)
        let expected = try Gallery.load(contentsOf: ServiceFixtures.gallery)
        try await Application(router: router).test(.router) { client in
            let (uri, headers, body) = Self.signed(gallery, collection: "course", credentials: Self.writer, date: now)
            let imported = try await client.execute(uri: uri, method: .post, headers: headers, body: body)
            #expect(imported.status == .ok, "\(String(buffer: imported.body))")
            let answer = try Self.json(imported)
            #expect(answer["FaceCount"] as? Int == expected.names.count)
            #expect(answer["UserCount"] as? Int == Set(expected.names).count)
            #expect(try await api.operations.collections.describe("course").faceCount == expected.names.count)

            let again = try await client.execute(uri: uri, method: .post, headers: headers, body: body)
            #expect(try Self.json(again)["__type"] as? String == "ResourceAlreadyExistsException")

            let (readUri, readHeaders, readBody) = Self.signed(gallery, collection: "other", credentials: Self.reader, date: now)
            let readOnly = try await client.execute(uri: readUri, method: .post, headers: readHeaders, body: readBody)
            #expect(try Self.json(readOnly)["__type"] as? String == "AccessDeniedException")

            let unsigned = try await client.execute(uri: "/ui/import-gallery?CollectionId=other", method: .post, body: ByteBuffer(data: gallery))
            #expect(try Self.json(unsigned)["__type"] as? String == "MissingAuthenticationTokenException")

            let (badUri, badHeaders, badBody) = Self.signed(Data("not a gallery".utf8), collection: "other", credentials: Self.writer, date: now)
            let notGallery = try await client.execute(uri: badUri, method: .post, headers: badHeaders, body: badBody)
            #expect(notGallery.status == .badRequest)
            #expect(try Self.json(notGallery)["__type"] as? String == "InvalidParameterException")
        }
        #expect(try await api.operations.collections.ids(after: nil, limit: 10).ids.map(\.id) == ["course"])
    }
}
