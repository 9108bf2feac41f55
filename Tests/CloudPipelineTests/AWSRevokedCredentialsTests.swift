import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Testing

/// Credentials that stop being valid must stop working, with a typed error and no secret in it.
///
/// moto (with authentication on) checks signatures and whether the access key exists, but not the
/// request time (`X-Amz-Date` skew), presigned-URL expiry, key status `Inactive` or STS session
/// tokens (it refuses every session token, valid or not): see docs/ROBUSTNESS.md, "Security
/// checks". A key that has been deleted is the revocation it can check, so this suite issues a
/// real key through IAM (boto3, the reference client), uses it, deletes it, and uses it again.
@Suite("AWS revoked credentials", .serialized)
struct AWSRevokedCredentialsTests {
    @Test("a key deleted in IAM is refused by SQS (InvalidClientTokenId) and S3 (InvalidAccessKeyId), typed, without its secret")
    func deletedKey() async throws {
        let moto = try await MotoEnvironment.shared()
        let issued = try #require(try await Boto3.json("""
            key = client("iam").create_access_key(UserName="facerec-tests")["AccessKey"]
            print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
            """, moto: moto) as? [String: String])
        let credentials = AWSCredentials(accessKeyId: try #require(issued["id"]), secretAccessKey: try #require(issued["secret"]))
        let sqs = SQSClient(configuration: moto.configuration(credentials: credentials))
        let s3 = S3Client(configuration: moto.configuration(credentials: credentials))
        let bucket = MotoEnvironment.uniqueName("revoked")
        // Valid while issued: the same calls succeed.
        let queueURL = try await sqs.createQueue(name: MotoEnvironment.uniqueName("revoked"))
        try await s3.createBucket(bucket)
        try await s3.putObject(bucket: bucket, key: "before", body: Data("ok".utf8))

        _ = try await Boto3.run("""
            client("iam").delete_access_key(UserName="facerec-tests", AccessKeyId=sys.argv[1])
            """, [credentials.accessKeyId], moto: moto)

        do {
            _ = try await sqs.getQueueAttributes(queueUrl: queueURL)
            Issue.record("SQS must refuse a deleted key")
        } catch let error as AWSServiceError {
            #expect(error.service == "sqs" && error.statusCode == 403 && error.code == "InvalidClientTokenId")
            #expect(!"\(error)".contains(credentials.secretAccessKey))
        }
        do {
            try await s3.putObject(bucket: bucket, key: "after", body: Data("no".utf8))
            Issue.record("S3 must refuse a deleted key")
        } catch let error as AWSServiceError {
            #expect(error.statusCode == 403 && error.code == "InvalidAccessKeyId" && error.operation == "PutObject")
            #expect(!"\(error)".contains(credentials.secretAccessKey))
        }
        // Nothing was written with the revoked key (checked with the fixture's own key).
        let keys = try await S3Client(configuration: moto.configuration()).listAllObjects(bucket: bucket).map(\.key)
        #expect(keys == ["before"])
    }

    @Test("the pipeline's queue and store wrap a revoked key's refusal as typed backend errors")
    func pipelineSurfacesRefusal() async throws {
        let moto = try await MotoEnvironment.shared()
        let bad = AWSCredentials(accessKeyId: "AKIAREVOKED000000000", secretAccessKey: "revoked-secret-must-not-leak")
        let queueURL = try await SQSClient(configuration: moto.configuration()).createQueue(name: MotoEnvironment.uniqueName("refused"))
        let queue = SQSMessageQueue(client: SQSClient(configuration: moto.configuration(credentials: bad)), queueUrl: queueURL)
        do {
            _ = try await queue.send("x", attributes: [:])
            Issue.record("sending with an unknown key must fail")
        } catch let error as MessageQueueError {
            guard case .backend = error else { Issue.record("expected a backend error, got \(error)"); return }
            #expect(error.description.contains("HTTP 403 InvalidClientTokenId"))
            #expect(!error.description.contains("revoked-secret-must-not-leak"))
        }
        let store = S3ObjectStore(client: S3Client(configuration: moto.configuration(credentials: bad)), bucket: MotoEnvironment.uniqueName("refused"))
        do {
            try await store.put(Data("x".utf8), key: "k", contentType: nil)
            Issue.record("putting with an unknown key must fail")
        } catch let error as ObjectStoreError {
            guard case .backend = error else { Issue.record("expected a backend error, got \(error)"); return }
            #expect(error.description.contains("HTTP 403 InvalidAccessKeyId"))
            #expect(!error.description.contains("revoked-secret-must-not-leak"))
        }
    }
}
