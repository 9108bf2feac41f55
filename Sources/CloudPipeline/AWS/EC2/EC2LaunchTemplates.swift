import Foundation

/// What a launch template version launches (the subset the fleet uses).
public struct EC2LaunchTemplateData: Sendable, Hashable {
    public var imageId: String?
    public var instanceType: String?
    /// The script as text; base64-encoded on the wire.
    public var userData: String?
    public var iamInstanceProfileName: String?
    public var iamInstanceProfileArn: String?
    public var securityGroupIds: [String]
    public var keyName: String?
    /// `required`: IMDSv2 only (session tokens), as the workers' credentials provider uses.
    public var httpTokens: String?
    /// Tags put on the instances at launch.
    public var instanceTags: [String: String]

    public init(imageId: String? = nil, instanceType: String? = nil, userData: String? = nil,
                iamInstanceProfileName: String? = nil, iamInstanceProfileArn: String? = nil,
                securityGroupIds: [String] = [], keyName: String? = nil, httpTokens: String? = nil,
                instanceTags: [String: String] = [:]) {
        self.imageId = imageId
        self.instanceType = instanceType
        self.userData = userData
        self.iamInstanceProfileName = iamInstanceProfileName
        self.iamInstanceProfileArn = iamInstanceProfileArn
        self.securityGroupIds = securityGroupIds
        self.keyName = keyName
        self.httpTokens = httpTokens
        self.instanceTags = instanceTags
    }
}

/// A launch template as CreateLaunchTemplate/DescribeLaunchTemplates report it.
public struct EC2LaunchTemplate: Sendable, Hashable {
    public let launchTemplateId: String
    public let launchTemplateName: String
    public let defaultVersionNumber: Int
    public let latestVersionNumber: Int
}

/// One version of a launch template.
public struct EC2LaunchTemplateVersion: Sendable, Hashable {
    public let launchTemplateId: String
    public let launchTemplateName: String
    public let versionNumber: Int
    public let defaultVersion: Bool
    public let data: EC2LaunchTemplateData
}

/// A subnet as DescribeSubnets reports it.
public struct EC2Subnet: Sendable, Hashable {
    public let subnetId: String
    public let vpcId: String
    public let availabilityZone: String
}

/// Launch templates (what an Auto Scaling group launches) and subnets.
///
/// Errors: `InvalidLaunchTemplateName.AlreadyExistsException` (create),
/// `InvalidLaunchTemplateName.NotFoundException` (describe by name),
/// `InvalidSubnetID.NotFound`.
extension EC2Client {
    public func createLaunchTemplate(name: String, data: EC2LaunchTemplateData, versionDescription: String? = nil,
                                     clientToken: String = UUID().uuidString) async throws -> EC2LaunchTemplate {
        var params = [AWSQueryItem("LaunchTemplateName", name), AWSQueryItem("ClientToken", clientToken)]
        if let versionDescription { params.append(AWSQueryItem("VersionDescription", versionDescription)) }
        params += Self.parameters(data)
        let xml = try await call("CreateLaunchTemplate", params, idempotent: true)
        guard let template = xml.child("launchTemplate").flatMap(Self.launchTemplate) else {
            throw AWSClientError.invalidResponse(service: "ec2", operation: "CreateLaunchTemplate", detail: "launchTemplate is missing")
        }
        return template
    }

    /// The templates called `names` (every one if empty). A missing name is
    /// `InvalidLaunchTemplateName.NotFoundException`.
    public func describeLaunchTemplates(names: [String] = []) async throws -> [EC2LaunchTemplate] {
        let params = names.enumerated().map { AWSQueryItem("LaunchTemplateName.\($0.offset + 1)", $0.element) }
        let xml = try await call("DescribeLaunchTemplates", params, idempotent: true)
        return (xml.child("launchTemplates")?.children("item") ?? []).compactMap(Self.launchTemplate)
    }

    /// Versions of template `name`: numbers, or `$Latest` / `$Default`; every version if empty.
    public func describeLaunchTemplateVersions(name: String, versions: [String] = []) async throws -> [EC2LaunchTemplateVersion] {
        var params = [AWSQueryItem("LaunchTemplateName", name)]
        params += versions.enumerated().map { AWSQueryItem("LaunchTemplateVersion.\($0.offset + 1)", $0.element) }
        let xml = try await call("DescribeLaunchTemplateVersions", params, idempotent: true)
        return (xml.child("launchTemplateVersionSet")?.children("item") ?? []).map(Self.launchTemplateVersion)
    }

    /// Adds a version to template `name`; it does not become the default by itself.
    public func createLaunchTemplateVersion(name: String, data: EC2LaunchTemplateData, versionDescription: String? = nil,
                                            clientToken: String = UUID().uuidString) async throws -> EC2LaunchTemplateVersion {
        var params = [AWSQueryItem("LaunchTemplateName", name), AWSQueryItem("ClientToken", clientToken)]
        if let versionDescription { params.append(AWSQueryItem("VersionDescription", versionDescription)) }
        params += Self.parameters(data)
        let xml = try await call("CreateLaunchTemplateVersion", params, idempotent: true)
        guard let item = xml.child("launchTemplateVersion") else {
            throw AWSClientError.invalidResponse(service: "ec2", operation: "CreateLaunchTemplateVersion", detail: "launchTemplateVersion is missing")
        }
        return Self.launchTemplateVersion(item)
    }

    /// Makes `defaultVersion` the template's default version.
    @discardableResult
    public func modifyLaunchTemplate(name: String, defaultVersion: Int) async throws -> EC2LaunchTemplate? {
        let xml = try await call("ModifyLaunchTemplate", [
            AWSQueryItem("LaunchTemplateName", name), AWSQueryItem("SetDefaultVersion", String(defaultVersion)),
        ], idempotent: true)
        return xml.child("launchTemplate").flatMap(Self.launchTemplate)
    }

    /// The subnets `ids` (every one if empty); an unknown id is `InvalidSubnetID.NotFound`.
    public func describeSubnets(ids: [String] = []) async throws -> [EC2Subnet] {
        let params = ids.enumerated().map { AWSQueryItem("SubnetId.\($0.offset + 1)", $0.element) }
        let xml = try await call("DescribeSubnets", params, idempotent: true)
        return (xml.child("subnetSet")?.children("item") ?? []).map { item in
            EC2Subnet(subnetId: item.string("subnetId") ?? "", vpcId: item.string("vpcId") ?? "",
                      availabilityZone: item.string("availabilityZone") ?? "")
        }
    }

    // MARK: Serialization

    static func parameters(_ data: EC2LaunchTemplateData) -> [AWSQueryItem] {
        let prefix = "LaunchTemplateData."
        var params: [AWSQueryItem] = []
        if let imageId = data.imageId { params.append(AWSQueryItem(prefix + "ImageId", imageId)) }
        if let type = data.instanceType { params.append(AWSQueryItem(prefix + "InstanceType", type)) }
        if let keyName = data.keyName { params.append(AWSQueryItem(prefix + "KeyName", keyName)) }
        if let userData = data.userData {
            params.append(AWSQueryItem(prefix + "UserData", Data(userData.utf8).base64EncodedString()))
        }
        if let name = data.iamInstanceProfileName { params.append(AWSQueryItem(prefix + "IamInstanceProfile.Name", name)) }
        if let arn = data.iamInstanceProfileArn { params.append(AWSQueryItem(prefix + "IamInstanceProfile.Arn", arn)) }
        for (index, group) in data.securityGroupIds.enumerated() {
            params.append(AWSQueryItem(prefix + "SecurityGroupId.\(index + 1)", group))
        }
        if let tokens = data.httpTokens { params.append(AWSQueryItem(prefix + "MetadataOptions.HttpTokens", tokens)) }
        if !data.instanceTags.isEmpty {
            params.append(AWSQueryItem(prefix + "TagSpecification.1.ResourceType", "instance"))
            for (index, tag) in data.instanceTags.sorted(by: { $0.key < $1.key }).enumerated() {
                params.append(AWSQueryItem(prefix + "TagSpecification.1.Tag.\(index + 1).Key", tag.key))
                params.append(AWSQueryItem(prefix + "TagSpecification.1.Tag.\(index + 1).Value", tag.value))
            }
        }
        return params
    }

    static func launchTemplate(_ item: AWSXMLElement) -> EC2LaunchTemplate? {
        guard let id = item.string("launchTemplateId"), let name = item.string("launchTemplateName") else { return nil }
        return EC2LaunchTemplate(launchTemplateId: id, launchTemplateName: name,
                                 defaultVersionNumber: item.string("defaultVersionNumber").flatMap { Int($0) } ?? 0,
                                 latestVersionNumber: item.string("latestVersionNumber").flatMap { Int($0) } ?? 0)
    }

    static func launchTemplateVersion(_ item: AWSXMLElement) -> EC2LaunchTemplateVersion {
        let data = item.child("launchTemplateData")
        var tags: [String: String] = [:]
        for spec in data?.child("tagSpecificationSet")?.children("item") ?? [] where spec.string("resourceType") == "instance" {
            for tag in spec.child("tagSet")?.children("item") ?? [] {
                if let key = tag.string("key") { tags[key] = tag.string("value") ?? "" }
            }
        }
        let userData = data?.string("userData").flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) }
        let groups = (data?.child("securityGroupIdSet")?.children("item") ?? []).map(\.text)
        return EC2LaunchTemplateVersion(
            launchTemplateId: item.string("launchTemplateId") ?? "", launchTemplateName: item.string("launchTemplateName") ?? "",
            versionNumber: item.string("versionNumber").flatMap { Int($0) } ?? 0,
            defaultVersion: item.string("defaultVersion") == "true",
            data: EC2LaunchTemplateData(
                imageId: data?.string("imageId"), instanceType: data?.string("instanceType"), userData: userData,
                iamInstanceProfileName: data?.child("iamInstanceProfile")?.string("name"),
                iamInstanceProfileArn: data?.child("iamInstanceProfile")?.string("arn"),
                securityGroupIds: groups, keyName: data?.string("keyName"),
                httpTokens: data?.child("metadataOptions")?.string("httpTokens"), instanceTags: tags))
    }
}
