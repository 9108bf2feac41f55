import Foundation

/// What RunInstances needs.
public struct EC2RunInstancesRequest: Sendable, Hashable {
    public var imageId: String
    public var instanceType: String
    public var minCount: Int
    public var maxCount: Int
    public var keyName: String?
    public var securityGroupIds: [String]
    public var subnetId: String?
    /// The script as text; base64-encoded on the wire, as the API requires.
    public var userData: String?
    /// Tags put on the instances at launch (a `TagSpecification` for `instance`).
    public var tags: [String: String]
    /// The instance profile's name (or use ``iamInstanceProfileArn``).
    public var iamInstanceProfileName: String?
    public var iamInstanceProfileArn: String?

    public init(imageId: String, instanceType: String, minCount: Int = 1, maxCount: Int = 1, keyName: String? = nil,
                securityGroupIds: [String] = [], subnetId: String? = nil, userData: String? = nil,
                tags: [String: String] = [:], iamInstanceProfileName: String? = nil, iamInstanceProfileArn: String? = nil) {
        self.imageId = imageId
        self.instanceType = instanceType
        self.minCount = minCount
        self.maxCount = maxCount
        self.keyName = keyName
        self.securityGroupIds = securityGroupIds
        self.subnetId = subnetId
        self.userData = userData
        self.tags = tags
        self.iamInstanceProfileName = iamInstanceProfileName
        self.iamInstanceProfileArn = iamInstanceProfileArn
    }
}

/// One instance as DescribeInstances/RunInstances report it.
public struct EC2Instance: Sendable, Hashable {
    public let instanceId: String
    /// `pending`, `running`, `shutting-down`, `terminated`, `stopping`, `stopped`.
    public let state: String
    public let imageId: String?
    public let instanceType: String?
    public let launchTime: Date?
    public let tags: [String: String]
    public let privateIpAddress: String?
    public let subnetId: String?
}

/// A DescribeInstances filter: `Name` and its accepted `Value`s (`tag:Role`,
/// `instance-state-name`, ...).
public struct EC2Filter: Sendable, Hashable {
    public var name: String
    public var values: [String]

    public init(name: String, values: [String]) {
        self.name = name
        self.values = values
    }
}

/// A state change from TerminateInstances.
public struct EC2StateChange: Sendable, Hashable {
    public let instanceId: String
    public let previousState: String
    public let currentState: String
}

/// One page of DescribeInstances.
public struct EC2InstancesPage: Sendable, Hashable {
    public let instances: [EC2Instance]
    public let nextToken: String?
}

/// A small EC2 client on the query protocol (`Action=...&Version=2016-11-15`, form body,
/// XML responses).
///
/// Retries: DescribeInstances and TerminateInstances are idempotent. RunInstances is made
/// idempotent the way the SDKs do it: every call carries a fresh `ClientToken`, so a retry
/// after a lost response returns the instances of the first attempt instead of launching a
/// second batch.
public struct EC2Client: Sendable {
    let core: AWSServiceCore
    static let apiVersion = "2016-11-15"

    public init(configuration: AWSClientConfiguration) {
        core = AWSServiceCore(service: "ec2", configuration: configuration)
    }

    /// Launches instances; returns them as RunInstances reports them (usually `pending`).
    public func runInstances(_ request: EC2RunInstancesRequest, clientToken: String = UUID().uuidString) async throws -> [EC2Instance] {
        guard request.minCount >= 1, request.maxCount >= request.minCount else {
            throw AWSClientError.invalidArgument(operation: "RunInstances", field: "minCount/maxCount",
                                                 reason: "\(request.minCount)/\(request.maxCount) (need 1 ≤ min ≤ max)")
        }
        var params = [
            AWSQueryItem("ImageId", request.imageId), AWSQueryItem("InstanceType", request.instanceType),
            AWSQueryItem("MinCount", String(request.minCount)), AWSQueryItem("MaxCount", String(request.maxCount)),
            AWSQueryItem("ClientToken", clientToken),
        ]
        if let keyName = request.keyName { params.append(AWSQueryItem("KeyName", keyName)) }
        for (index, group) in request.securityGroupIds.enumerated() {
            params.append(AWSQueryItem("SecurityGroupId.\(index + 1)", group))
        }
        if let subnet = request.subnetId { params.append(AWSQueryItem("SubnetId", subnet)) }
        if let userData = request.userData {
            params.append(AWSQueryItem("UserData", Data(userData.utf8).base64EncodedString()))
        }
        if let name = request.iamInstanceProfileName { params.append(AWSQueryItem("IamInstanceProfile.Name", name)) }
        if let arn = request.iamInstanceProfileArn { params.append(AWSQueryItem("IamInstanceProfile.Arn", arn)) }
        if !request.tags.isEmpty {
            params.append(AWSQueryItem("TagSpecification.1.ResourceType", "instance"))
            for (index, tag) in request.tags.sorted(by: { $0.key < $1.key }).enumerated() {
                params.append(AWSQueryItem("TagSpecification.1.Tag.\(index + 1).Key", tag.key))
                params.append(AWSQueryItem("TagSpecification.1.Tag.\(index + 1).Value", tag.value))
            }
        }
        let xml = try await call("RunInstances", params, idempotent: true)
        return xml.child("instancesSet")?.children("item").map(Self.instance) ?? []
    }

    /// One page of instances matching `filters` (and `instanceIds`, if given).
    public func describeInstances(filters: [EC2Filter] = [], instanceIds: [String] = [], maxResults: Int? = nil,
                                  nextToken: String? = nil) async throws -> EC2InstancesPage {
        var params: [AWSQueryItem] = []
        for (index, filter) in filters.enumerated() {
            params.append(AWSQueryItem("Filter.\(index + 1).Name", filter.name))
            for (valueIndex, value) in filter.values.enumerated() {
                params.append(AWSQueryItem("Filter.\(index + 1).Value.\(valueIndex + 1)", value))
            }
        }
        for (index, id) in instanceIds.enumerated() { params.append(AWSQueryItem("InstanceId.\(index + 1)", id)) }
        if let maxResults { params.append(AWSQueryItem("MaxResults", String(maxResults))) }
        if let nextToken { params.append(AWSQueryItem("NextToken", nextToken)) }
        let xml = try await call("DescribeInstances", params, idempotent: true)
        let reservations = xml.child("reservationSet")?.children("item") ?? []
        let instances = reservations.flatMap { $0.child("instancesSet")?.children("item").map(Self.instance) ?? [] }
        let token = xml.string("nextToken").flatMap { $0.isEmpty ? nil : $0 }
        return EC2InstancesPage(instances: instances, nextToken: token)
    }

    /// Every instance matching `filters`, following `NextToken`.
    public func describeAllInstances(filters: [EC2Filter] = [], pageSize: Int? = nil) async throws -> [EC2Instance] {
        var all: [EC2Instance] = []
        var token: String?
        repeat {
            let page = try await describeInstances(filters: filters, maxResults: pageSize, nextToken: token)
            all += page.instances
            token = page.nextToken
        } while token != nil
        return all
    }

    /// Terminates `instanceIds`; returns each one's state change.
    public func terminateInstances(_ instanceIds: [String]) async throws -> [EC2StateChange] {
        guard !instanceIds.isEmpty else { return [] }
        let params = instanceIds.enumerated().map { AWSQueryItem("InstanceId.\($0.offset + 1)", $0.element) }
        let xml = try await call("TerminateInstances", params, idempotent: true)
        return (xml.child("instancesSet")?.children("item") ?? []).map { item in
            EC2StateChange(instanceId: item.string("instanceId") ?? "",
                           previousState: item.child("previousState")?.string("name") ?? "",
                           currentState: item.child("currentState")?.string("name") ?? "")
        }
    }

    // MARK: Protocol

    func call(_ action: String, _ params: [AWSQueryItem], idempotent: Bool) async throws -> AWSXMLElement {
        try await core.query(action, version: Self.apiVersion, params, idempotent: idempotent)
    }

    static func instance(_ item: AWSXMLElement) -> EC2Instance {
        var tags: [String: String] = [:]
        for tag in item.child("tagSet")?.children("item") ?? [] {
            if let key = tag.string("key") { tags[key] = tag.string("value") ?? "" }
        }
        return EC2Instance(instanceId: item.string("instanceId") ?? "",
                           state: item.child("instanceState")?.string("name") ?? "",
                           imageId: item.string("imageId"), instanceType: item.string("instanceType"),
                           launchTime: item.string("launchTime").flatMap(AWSDates.iso8601), tags: tags,
                           privateIpAddress: item.string("privateIpAddress"), subnetId: item.string("subnetId"))
    }
}
