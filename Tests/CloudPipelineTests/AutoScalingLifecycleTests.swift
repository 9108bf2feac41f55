@testable import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Testing

/// The worker's side of the termination lifecycle hook: IMDSv2 reads of the instance id and the
/// target lifecycle state (a local stand-in for the metadata service), and CompleteLifecycleAction
/// that never throws.
@Suite("Auto Scaling lifecycle (IMDS)")
struct AutoScalingLifecycleTests {
    final class State: @unchecked Sendable {
        // @unchecked: `reads` is only touched under `lock`.
        private let lock = NSLock()
        private var reads = 0
        /// The state answered on each read: InService for `inServiceReads` reads, then Terminated.
        let inServiceReads: Int
        init(inServiceReads: Int) { self.inServiceReads = inServiceReads }
        func next() -> String {
            lock.withLock {
                reads += 1
                return reads > inServiceReads ? "Terminated" : "InService"
            }
        }
        var count: Int { lock.withLock { reads } }
    }

    func metadataServer(_ state: State) throws -> LocalHTTPServer {
        try LocalHTTPServer { request in
            if request.method == "PUT" && request.path == "/latest/api/token" {
                guard request.headers["x-aws-ec2-metadata-token-ttl-seconds"] != nil else { return .init(status: 400) }
                return .init(status: 200, text: "imds-token")
            }
            guard request.method == "GET", request.headers["x-aws-ec2-metadata-token"] == "imds-token" else { return .init(status: 401) }
            switch request.path {
            case "/latest/meta-data/instance-id": return .init(status: 200, text: "i-0123456789abcdef0")
            case "/latest/meta-data/autoscaling/target-lifecycle-state": return .init(status: 200, text: state.next())
            default: return .init(status: 404)
            }
        }
    }

    func environment(_ server: LocalHTTPServer) -> [String: String] {
        ["FACEREC_ASG_NAME": "facerec-workers", "FACEREC_LIFECYCLE_HOOK": "facerec-workers-drain",
         "AWS_EC2_METADATA_SERVICE_ENDPOINT": server.endpoint.absoluteString]
    }

    @Test("no FACEREC_ASG_NAME, no lifecycle; the hook name defaults to <group>-drain")
    func construction() throws {
        #expect(AutoScalingLifecycle(environment: [:]) == nil)
        #expect(AutoScalingLifecycle(environment: ["FACEREC_ASG_NAME": " "]) == nil)
        let lifecycle = try #require(AutoScalingLifecycle(environment: ["FACEREC_ASG_NAME": "fleet"]))
        #expect(lifecycle.hookName == "fleet-drain")
        #expect(lifecycle.metadata.endpoint == InstanceMetadataClient.defaultEndpoint)
    }

    @Test("instance id and target lifecycle state through IMDSv2 (token first)")
    func reads() async throws {
        let state = State(inServiceReads: 1)
        let server = try metadataServer(state)
        defer { server.stop() }
        let lifecycle = try #require(AutoScalingLifecycle(environment: environment(server)))
        #expect(lifecycle.metadata.endpoint == server.endpoint)
        #expect(try await lifecycle.instanceId() == "i-0123456789abcdef0")
        #expect(try await lifecycle.targetLifecycleState() == "InService")
        #expect(try await lifecycle.targetLifecycleState() == "Terminated")
        let requests = server.requests
        #expect(requests.map(\.method) == ["PUT", "GET", "PUT", "GET", "PUT", "GET"])
    }

    @Test("waitUntilTerminating returns once InService turns into Terminated, not before")
    func waits() async throws {
        let state = State(inServiceReads: 3)
        let server = try metadataServer(state)
        defer { server.stop() }
        let lifecycle = try #require(AutoScalingLifecycle(environment: environment(server), pollInterval: .milliseconds(50)))
        try await lifecycle.waitUntilTerminating()
        #expect(state.count == 4)
    }

    @Test("waitUntilTerminating keeps polling through metadata failures and stops on cancellation")
    func cancellation() async throws {
        let server = try LocalHTTPServer { _ in .init(status: 500) }
        defer { server.stop() }
        let lifecycle = try #require(AutoScalingLifecycle(environment: environment(server), pollInterval: .milliseconds(20)))
        let task = Task { try await lifecycle.waitUntilTerminating() }
        // Failed polls (each a token request answered 500) do not end the wait.
        #expect(await eventually(timeout: .seconds(300)) { server.requests.count >= 3 })
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }

    @Test("complete() sends CompleteLifecycleAction CONTINUE for this instance")
    func completes() async throws {
        let server = try metadataServer(State(inServiceReads: 0))
        defer { server.stop() }
        let recorder = QueryBotocoreGoldenTests.Recorder()
        let client = AutoScalingClient(configuration: AWSClientConfiguration(
            region: "eu-west-1", credentials: StaticCredentialsProvider(AWSCredentials(accessKeyId: "AKID", secretAccessKey: "s")),
            retry: .none, transport: recorder))
        let lifecycle = try #require(AutoScalingLifecycle(environment: environment(server), autoScaling: client))
        await lifecycle.complete()
        await lifecycle.recordHeartbeat()
        let bodies = recorder.requests.map { String(decoding: $0.body, as: UTF8.self) }
        #expect(bodies == [
            "Action=CompleteLifecycleAction&Version=2011-01-01&LifecycleHookName=facerec-workers-drain&AutoScalingGroupName=facerec-workers&LifecycleActionResult=CONTINUE&InstanceId=i-0123456789abcdef0",
            "Action=RecordLifecycleActionHeartbeat&Version=2011-01-01&LifecycleHookName=facerec-workers-drain&AutoScalingGroupName=facerec-workers&InstanceId=i-0123456789abcdef0",
        ])
    }

    @Test("complete() against moto (which does not implement it) logs and returns")
    func completeFailureIsSwallowed() async throws {
        let moto = try await MotoEnvironment.shared()
        let server = try metadataServer(State(inServiceReads: 0))
        defer { server.stop() }
        let lifecycle = try #require(AutoScalingLifecycle(
            environment: environment(server), autoScaling: AutoScalingClient(configuration: moto.configuration(retry: .none))))
        await lifecycle.complete()  // must not throw or hang
        // and without any AWS settings at all
        try await #require(AutoScalingLifecycle(environment: environment(server))).complete()
    }
}
