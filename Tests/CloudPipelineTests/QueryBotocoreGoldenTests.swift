@testable import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Testing

/// Auto Scaling and IAM query requests compared byte for byte with boto3's (botocore's
/// serializer and signer): body, canonical request, string to sign, Authorization. moto does not
/// implement CompleteLifecycleAction and RecordLifecycleActionHeartbeat, so this is where those
/// two are checked. Goldens: `Tests/Fixtures/aws/make_query_goldens.py`.
@Suite("Query protocol: botocore goldens")
struct QueryBotocoreGoldenTests {
    struct Golden: Decodable {
        let access_key_id: String
        let secret_access_key: String
        let timestamp: String
        let cases: [Case]
    }

    struct Case: Decodable, CustomTestStringConvertible, Sendable {
        let name: String
        let service: String
        let region: String
        let operation: String
        let url: String
        let session_token: String?
        let body: String
        let content_type: String
        let canonical_request: String
        let string_to_sign: String
        let authorization: String
        let x_amz_date: String

        var testDescription: String { name }
    }

    static let golden: Golden? = {
        guard let data = try? Data(contentsOf: AWSTestPaths.fixtures.appendingPathComponent("query_botocore.json")) else { return nil }
        return try? JSONDecoder().decode(Golden.self, from: data)
    }()

    static let cases = golden?.cases ?? []

    /// Records each signed request and answers with an empty success document.
    final class Recorder: AWSHTTPTransport, @unchecked Sendable {
        // @unchecked: `sent` is only touched under `lock`.
        private let lock = NSLock()
        private var sent: [AWSHTTPRequest] = []
        var requests: [AWSHTTPRequest] { lock.withLock { sent } }

        func send(_ request: AWSHTTPRequest, timeout: Duration) async throws -> AWSHTTPResponse {
            lock.withLock { sent.append(request) }
            let action = AWSURIEncoding.parseQuery(String(decoding: request.body, as: UTF8.self)).first { $0.name == "Action" }?.value ?? "X"
            return AWSHTTPResponse(statusCode: 200, headers: [:], body: Data("<\(action)Response><\(action)Result/></\(action)Response>".utf8))
        }
    }

    func configuration(_ c: Case, _ recorder: Recorder) throws -> AWSClientConfiguration {
        let g = try #require(Self.golden)
        let date = try #require(SigV4Signer.date(fromTimestamp: g.timestamp))
        let credentials = AWSCredentials(accessKeyId: g.access_key_id, secretAccessKey: g.secret_access_key, sessionToken: c.session_token)
        return AWSClientConfiguration(region: c.region, credentials: StaticCredentialsProvider(credentials), retry: .none,
                                      transport: recorder, clock: { date })
    }

    @Test("the goldens load")
    func loaded() {
        #expect(Self.cases.count == 6)
        #expect(Set(Self.cases.map(\.operation)).isSuperset(of: ["complete_lifecycle_action", "record_lifecycle_action_heartbeat"]))
    }

    @Test("our request equals boto3's", arguments: cases)
    func sameRequest(_ c: Case) async throws {
        let recorder = Recorder()
        let configuration = try configuration(c, recorder)
        let autoScaling = AutoScalingClient(configuration: configuration)
        let hook = "facerec-workers-drain", group = "facerec-workers", instance = "i-0123456789abcdef0"
        let core: AWSServiceCore
        let params: AWSQueryParameters
        let action: String
        switch c.operation {
        case "complete_lifecycle_action" where c.session_token == nil:
            action = "CompleteLifecycleAction"
            params = AutoScalingClient.completeLifecycleActionParameters(groupName: group, hookName: hook, result: "CONTINUE",
                                                                         instanceId: instance, token: nil)
            core = autoScaling.core
            try await autoScaling.completeLifecycleAction(groupName: group, hookName: hook, result: "CONTINUE", instanceId: instance)
        case "complete_lifecycle_action":
            action = "CompleteLifecycleAction"
            let token = "bcd2f1b8-9a78-44d3-8a7a-4dd07d7cf635"
            params = AutoScalingClient.completeLifecycleActionParameters(groupName: group, hookName: hook, result: "ABANDON",
                                                                         instanceId: nil, token: token)
            core = autoScaling.core
            try await autoScaling.completeLifecycleAction(groupName: group, hookName: hook, result: "ABANDON", token: token)
        case "record_lifecycle_action_heartbeat":
            action = "RecordLifecycleActionHeartbeat"
            params = AutoScalingClient.heartbeatParameters(groupName: group, hookName: hook, instanceId: instance, token: nil)
            core = autoScaling.core
            try await autoScaling.recordLifecycleActionHeartbeat(groupName: group, hookName: hook, instanceId: instance)
        case "put_scaling_policy":
            action = "PutScalingPolicy"
            let policy = TargetTrackingScalingPolicy(
                groupName: group, policyName: "facerec-workers-backlog-per-instance", targetValue: 120,
                metrics: FleetDeployment.backlogPerInstance(queueName: "facerec-input", groupName: group))
            core = autoScaling.core
            params = AWSQueryParameters()  // checked through the recorded request only
            try await autoScaling.putScalingPolicy(policy)
        case "put_role_policy":
            action = "PutRolePolicy"
            let iam = IAMClient(configuration: configuration)
            core = iam.core
            let document = #"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::in/*"]}]}"#
            var p = AWSQueryParameters()
            p.add("RoleName", "facerec-workers-worker")
            p.add("PolicyName", "facerec-worker")
            p.add("PolicyDocument", document)
            params = p
            try await iam.putRolePolicy(roleName: "facerec-workers-worker", policyName: "facerec-worker", policyDocument: document)
        default:
            Issue.record("unknown operation \(c.operation)")
            return
        }
        let sent = try #require(recorder.requests.first)
        #expect(recorder.requests.count == 1)
        #expect(String(decoding: sent.body, as: UTF8.self) == c.body)
        #expect(sent.headerValues("Authorization") == [c.authorization])
        #expect(sent.headerValues("X-Amz-Date") == [c.x_amz_date])
        #expect(sent.headerValues("Content-Type") == [c.content_type])
        #expect("\(sent.scheme)://\(sent.host)\(sent.path)" == c.url)

        // The canonical request and string to sign, from the same unsigned request.
        if !params.items.isEmpty {
            let version = c.service == "iam" ? IAMClient.apiVersion : AutoScalingClient.apiVersion
            let unsigned = core.queryRequest(action, version: version, params.items)
            let g = try #require(Self.golden)
            let credentials = AWSCredentials(accessKeyId: g.access_key_id, secretAccessKey: g.secret_access_key, sessionToken: c.session_token)
            let signature = core.signer.sign(unsigned, credentials: credentials, date: try #require(SigV4Signer.date(fromTimestamp: g.timestamp))).signature
            #expect(signature.canonicalRequest == c.canonical_request)
            #expect(signature.stringToSign == c.string_to_sign)
        }
    }
}
