import Foundation

/// ``InstanceProvider`` on EC2: launches workers from a template and tags each with
/// ``tagKey``=``tagValue`` at launch, so that ``running()`` and ``terminate(_:)`` only ever
/// see this pipeline's instances.
public struct EC2InstanceProvider: InstanceProvider {
    public let client: EC2Client
    /// What to launch (AMI, type, security groups, subnet, user data, profile, extra tags).
    public let template: EC2RunInstancesRequest
    public let tagKey: String
    public let tagValue: String
    /// Most instances one `launch` may start.
    public let limit: Int

    public init(client: EC2Client, template: EC2RunInstancesRequest, tagKey: String = "facerec:pipeline",
                tagValue: String, limit: Int = 20) {
        self.client = client
        self.template = template
        self.tagKey = tagKey
        self.tagValue = tagValue
        self.limit = limit
    }

    private var ownTag: EC2Filter { EC2Filter(name: "tag:\(tagKey)", values: [tagValue]) }

    public func running() async throws -> [WorkerInstance] {
        let instances = try await map("running") {
            try await client.describeAllInstances(filters: [ownTag, EC2Filter(name: "instance-state-name", values: ["pending", "running"])])
        }
        return instances.map(Self.worker).sorted { $0.id < $1.id }
    }

    public func launch(count: Int) async throws -> [WorkerInstance] {
        guard (1...limit).contains(count) else { throw InstanceProviderError.invalidCount(count, limit: limit) }
        var request = template
        request.minCount = count
        request.maxCount = count
        request.tags[tagKey] = tagValue
        let launched = try await map("launch") { try await client.runInstances(request) }
        return launched.map(Self.worker)
    }

    public func terminate(_ ids: [String]) async throws {
        guard !ids.isEmpty else { return }
        let ours = try await map("terminate") {
            try await client.describeAllInstances(filters: [ownTag, EC2Filter(name: "instance-id", values: ids)])
        }
        let known = Dictionary(ours.map { ($0.instanceId, $0.state) }, uniquingKeysWith: { first, _ in first })
        if let stranger = ids.first(where: { known[$0] == nil }) {
            throw InstanceProviderError.unknownInstance(stranger)
        }
        let live = ids.filter { known[$0] != "terminated" && known[$0] != "shutting-down" }
        if !live.isEmpty {
            _ = try await map("terminate") { try await client.terminateInstances(live) }
        }
    }

    static func worker(_ instance: EC2Instance) -> WorkerInstance {
        let state: WorkerInstance.State
        switch instance.state {
        case "pending": state = .pending
        case "running": state = .running
        case "shutting-down", "stopping": state = .stopping
        default: state = .stopped
        }
        return WorkerInstance(id: instance.instanceId, state: state, launchedAt: instance.launchTime)
    }

    private func map<T>(_ operation: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as AWSServiceError {
            throw InstanceProviderError.backend(operation: operation, detail: error.description)
        } catch let error as AWSClientError {
            throw InstanceProviderError.backend(operation: operation, detail: error.description)
        }
    }
}
