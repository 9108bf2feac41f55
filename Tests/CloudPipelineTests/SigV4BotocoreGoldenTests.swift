@testable import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Testing

/// Exact-string comparison with botocore's own signer (`SigV4Auth`, `S3SigV4Auth`) and with
/// boto3's `generate_presigned_url`, for fixed credentials, time and bodies. The goldens are
/// made by `Tests/Fixtures/aws/make_sigv4_goldens.py`. moto trusts `x-amz-content-sha256`
/// and never hashes bodies, so this is where payload hashing is checked.
@Suite("SigV4: botocore goldens")
struct SigV4BotocoreGoldenTests {
    struct Golden: Decodable {
        let access_key_id: String
        let secret_access_key: String
        let timestamp: String
        let cases: [Case]
    }

    struct Case: Decodable, CustomTestStringConvertible, Sendable {
        let name: String
        let kind: String
        let service: String
        let region: String
        let method: String
        let session_token: String?
        // header cases
        let scheme: String?
        let host: String?
        let port: Int?
        let path: String?
        let query: [[String]]?
        let headers: [[String]]?
        let body_base64: String?
        let unsigned_payload: Bool?
        let canonical_request: String?
        let string_to_sign: String?
        let authorization: String?
        let signed_request_headers: [String: String]?
        // presign cases
        let endpoint: String?
        let bucket: String?
        let key: String?
        let expires: Int?
        let url: String?

        var testDescription: String { name }
    }

    static let golden: Golden? = {
        let url = AWSTestPaths.fixtures.appendingPathComponent("sigv4_botocore.json")
        guard let data = try? Data(contentsOf: url) else { return nil }
        return try? JSONDecoder().decode(Golden.self, from: data)
    }()

    static let headerCases = golden?.cases.filter { $0.kind == "header" } ?? []
    static let presignCases = golden?.cases.filter { $0.kind == "presign" } ?? []

    func credentials(_ c: Case) throws -> AWSCredentials {
        let g = try #require(Self.golden)
        return AWSCredentials(accessKeyId: g.access_key_id, secretAccessKey: g.secret_access_key, sessionToken: c.session_token)
    }

    func date() throws -> Date {
        let golden = try #require(Self.golden)
        return try #require(SigV4Signer.date(fromTimestamp: golden.timestamp))
    }

    @Test("the goldens load")
    func loaded() {
        #expect(Self.headerCases.count == 9)
        #expect(Self.presignCases.count == 3)
    }

    @Test("header signing equals botocore", arguments: headerCases)
    func headerSigning(_ c: Case) throws {
        let request = AWSHTTPRequest(
            method: c.method, scheme: try #require(c.scheme), host: try #require(c.host), port: c.port, path: try #require(c.path),
            query: (c.query ?? []).map { AWSQueryItem($0[0], $0[1]) },
            headers: (c.headers ?? []).map { AWSHTTPHeader($0[0], $0[1]) },
            body: try #require(Data(base64Encoded: c.body_base64 ?? "")))
        let signer = SigV4Signer(service: c.service, region: c.region)
        let (signed, signature) = signer.sign(request, credentials: try credentials(c), date: try date(),
                                              payload: c.unsigned_payload == true ? .unsigned : .signed)
        #expect(signature.canonicalRequest == c.canonical_request)
        #expect(signature.stringToSign == c.string_to_sign)
        #expect(signature.authorization == c.authorization)
        for (name, value) in try #require(c.signed_request_headers) {
            #expect(signed.headerValues(name) == [value], "header \(name)")
        }
        // No header of ours that botocore did not add.
        for name in ["x-amz-content-sha256", "x-amz-security-token"] where c.signed_request_headers?[name] == nil {
            #expect(signed.headerValues(name).isEmpty, "unexpected header \(name)")
        }
    }

    @Test("presigned URLs equal boto3's generate_presigned_url", arguments: presignCases)
    func presignedURL(_ c: Case) async throws {
        let client = S3Client(configuration: AWSClientConfiguration(
            region: c.region, endpoint: URL(string: try #require(c.endpoint)),
            credentials: StaticCredentialsProvider(try credentials(c))), addressingStyle: .path)
        let method = try #require(S3PresignedMethod(rawValue: c.method))
        let url = try await client.presignedURL(method, bucket: try #require(c.bucket), key: try #require(c.key),
                                                expires: try #require(c.expires), date: try date())
        #expect(url.absoluteString == c.url)
    }

    @Test("presigned URL expiry outside 1...604800 s is rejected")
    func presignExpiryBounds() throws {
        let signer = SigV4Signer(service: "s3", region: "us-east-1")
        let request = AWSHTTPRequest(method: "GET", host: "example.com", path: "/b/k")
        let creds = AWSCredentials(accessKeyId: "AKID", secretAccessKey: "secret")
        for bad in [0, -1, 604_801] {
            #expect(throws: SigV4Error.invalidExpiry(bad)) {
                _ = try signer.presignedURL(for: request, credentials: creds, date: Date(), expires: bad)
            }
        }
    }

    @Test("a changed body changes the S3 signature (the payload hash is signed)")
    func payloadIsSigned() throws {
        let signer = SigV4Signer(service: "s3", region: "us-east-1")
        let creds = AWSCredentials(accessKeyId: "AKID", secretAccessKey: "secret")
        let a = AWSHTTPRequest(method: "PUT", host: "127.0.0.1", port: 5000, path: "/b/k", body: Data("one".utf8))
        var b = a
        b.body = Data("two".utf8)
        let date = Date(timeIntervalSince1970: 1_800_000_000)
        let sa = signer.sign(a, credentials: creds, date: date)
        let sb = signer.sign(b, credentials: creds, date: date)
        #expect(sa.request.headerValues("x-amz-content-sha256") == [SigV4Signer.hexSHA256(Data("one".utf8))])
        #expect(sa.signature.signature != sb.signature.signature)
    }
}
