import CloudPipeline
import CloudPipelineTestSupport
import FaceRecognition
@testable import FaceRecognitionService
import Foundation
import Testing

@Suite("Rekognition SigV4 verification")
struct RekognitionSigV4Tests {
    static let keys = RekognitionKeys(["AKIDEXAMPLE": .init(secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")])
    static let signedAt = Date(timeIntervalSince1970: 1_800_000_000)

    /// A request as botocore sends it, signed by the pipeline's own signer.
    static func signed(body: String = #"{"CollectionId":"c"}"#, secret: String = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                       service: String = "rekognition", date: Date = signedAt) -> IncomingSignedRequest {
        let request = AWSHTTPRequest(method: "POST", scheme: "http", host: "127.0.0.1", port: 8080, path: "/",
                                     headers: [AWSHTTPHeader("Content-Type", "application/x-amz-json-1.1"),
                                               AWSHTTPHeader("X-Amz-Target", "RekognitionService.DescribeCollection"),
                                               AWSHTTPHeader("User-Agent", "Boto3/1.43")],
                                     body: Data(body.utf8))
        let signed = SigV4Signer(service: service, region: "eu-west-1")
            .sign(request, credentials: AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: secret), date: date).request
        return IncomingSignedRequest(method: "POST", path: "/", query: "",
                                     headers: signed.headers + [AWSHTTPHeader("host", "127.0.0.1:8080")], body: signed.body)
    }

    let verifier = SigV4Verifier(keys: keys)

    @Test("a request signed with the configured key is accepted, with the scope's region")
    func accepted() throws {
        let caller = try verifier.verify(Self.signed(), now: Self.signedAt.addingTimeInterval(299))
        #expect(caller == VerifiedCaller(accessKeyId: "AKIDEXAMPLE", readOnly: false, region: "eu-west-1"))
    }

    @Test("a wrong secret, a changed body, a changed signed header: InvalidSignatureException 403")
    func mismatch() {
        #expect(throws: RekognitionError.signatureMismatch) { try verifier.verify(Self.signed(secret: "wrong"), now: Self.signedAt) }
        var changed = Self.signed()
        changed.body = Data(#"{"CollectionId":"d"}"#.utf8)
        #expect(throws: RekognitionError.signatureMismatch) { try verifier.verify(changed, now: Self.signedAt) }
        var target = Self.signed()
        target.headers = target.headers.map { $0.name == "X-Amz-Target" ? AWSHTTPHeader($0.name, "RekognitionService.DeleteCollection") : $0 }
        #expect(throws: RekognitionError.signatureMismatch) { try verifier.verify(target, now: Self.signedAt) }
    }

    @Test("expired or future dates beyond 5 minutes, unknown keys, other services, missing Authorization are refused")
    func refusals() {
        func type(_ request: IncomingSignedRequest, now: Date = Self.signedAt) -> String? {
            do { _ = try verifier.verify(request, now: now); return nil } catch { return error.type }
        }
        #expect(type(Self.signed(), now: Self.signedAt.addingTimeInterval(301)) == "InvalidSignatureException")
        #expect(type(Self.signed(), now: Self.signedAt.addingTimeInterval(-301)) == "InvalidSignatureException")
        #expect(type(Self.signed(service: "s3")) == "InvalidSignatureException")
        var unknown = Self.signed()
        unknown.headers = unknown.headers.map {
            $0.name == "Authorization" ? AWSHTTPHeader($0.name, $0.value.replacingOccurrences(of: "AKIDEXAMPLE", with: "AKIDOTHER")) : $0
        }
        #expect(type(unknown) == "UnrecognizedClientException")
        var unsigned = Self.signed()
        unsigned.headers.removeAll { $0.name == "Authorization" }
        #expect(type(unsigned) == "MissingAuthenticationTokenException")
    }
}

@Suite("Rekognition similarity, tokens, keys")
struct RekognitionMappingTests {
    @Test("similarity is 100 at distance 0, 80 at the verification threshold, 0 at 2, and strictly decreasing")
    func mapping() {
        #expect(SimilarityMapping.similarity(forDistance: 0) == 100)
        #expect(abs(SimilarityMapping.similarity(forDistance: FaceVerification.defaultThreshold.value) - 80) < 1e-4)
        #expect(SimilarityMapping.similarity(forDistance: 2) == 0)
        var previous = Float.infinity
        for step in 0...200 {
            let d = Float(step) / 100
            let s = SimilarityMapping.similarity(forDistance: d)
            #expect(s < previous)
            previous = s
            #expect(abs(SimilarityMapping.distance(forSimilarity: s) - d) < 1e-4)
        }
    }

    @Test("NextToken round-trips; a forged token is InvalidPaginationTokenException")
    func tokens() throws {
        #expect(try PageToken.decode(PageToken.encode("a-collection_1")) == "a-collection_1")
        #expect(throws: RekognitionError.self) { try PageToken.decode("!!!") }
        #expect(throws: RekognitionError.self) { try PageToken.decode(Data("v2:x".utf8).base64EncodedString()) }
    }

    @Test("a keys file: pairs, read-only keys, comments; a bad line is named")
    func keysFile() throws {
        let keys = try RekognitionKeys.parse("# comment\nAKID1 secret1\n\nAKID2 secret2 read-only # viewer\n", file: "keys.txt")
        #expect(keys.key(for: "AKID1") == .init(secretAccessKey: "secret1", readOnly: false))
        #expect(keys.key(for: "AKID2") == .init(secretAccessKey: "secret2", readOnly: true))
        #expect(throws: RekognitionKeysError(file: "keys.txt", line: 2, reason: "expected `ACCESS_KEY_ID SECRET_ACCESS_KEY [read-only]`")) {
            try RekognitionKeys.parse("AKID1 secret1\nAKID2\n", file: "keys.txt")
        }
    }
}

@Suite("Rekognition SQLite collection store")
struct RekognitionStoreTests {
    @Test("collections, faces with their embeddings, users and associations survive reopening the file")
    func reopen() async throws {
        let directory = try LocalTestDirectory.make("rekognition-store")
        defer { try? FileManager.default.removeItem(at: directory) }
        let embedding = (0..<FaceNet.embeddingSize).map { Float($0) / 1000 - 0.25 }
        let face = FaceRecordValue(faceId: "11111111-2222-3333-4444-555555555555", imageId: "img", externalImageId: "ext",
                                   box: BoundingBox(Width: 0.5, Height: 0.25, Left: 0.125, Top: 0.0625), confidence: 99.5,
                                   userId: nil, embedding: embedding)
        do {
            let collections = try await RekognitionSetup.openCollections(dataDirectory: directory)
            try await collections.create(CollectionRecord(id: "c1", createdAt: Date(timeIntervalSince1970: 1000), faceModelVersion: "v"))
            try await collections.create(CollectionRecord(id: "c2", createdAt: Date(timeIntervalSince1970: 2000), faceModelVersion: "v"))
            await #expect(throws: RekognitionError.self) {
                try await collections.create(CollectionRecord(id: "c1", createdAt: Date(), faceModelVersion: "v"))
            }
            try await collections.insert([face], collection: "c1")
            try await collections.createUser(UserRecord(userId: "u", clientRequestToken: "t"), collection: "c1")
            try await collections.setUser("u", faceIds: [face.faceId], collection: "c1")
            try await collections.delete("c2")
        }
        let reopened = try await SQLiteFaceCollectionStore(dataDirectory: directory).loadAll()
        #expect(reopened.map(\.collection.id) == ["c1"])
        #expect(reopened.first?.collection.createdAt == Date(timeIntervalSince1970: 1000))
        var expected = face
        expected.userId = "u"
        #expect(reopened.first?.faces == [expected])
        #expect(reopened.first?.users == [UserRecord(userId: "u", clientRequestToken: "t")])
    }
}
