import Foundation

/// An IAM role as CreateRole/GetRole report it.
public struct IAMRole: Sendable, Hashable {
    public let roleName: String
    public let roleId: String
    public let arn: String
    public let path: String
    /// The trust policy, URL-decoded (IAM sends it percent-encoded).
    public let assumeRolePolicyDocument: String?
}

/// An instance profile and the roles in it (at most one on AWS).
public struct IAMInstanceProfile: Sendable, Hashable {
    public let instanceProfileName: String
    public let instanceProfileId: String
    public let arn: String
    public let roles: [IAMRole]
}

/// A small IAM client on the query protocol (`Version=2010-05-08`).
///
/// IAM is global: requests go to `https://iam.amazonaws.com` (or the configured endpoint, e.g.
/// moto) and are signed for region `us-east-1` whatever the configured region is. Errors come
/// back as ``AWSServiceError`` with IAM's codes: `EntityAlreadyExists`, `NoSuchEntity`,
/// `LimitExceeded` (a second role for an instance profile), `MalformedPolicyDocument`.
public struct IAMClient: Sendable {
    let core: AWSServiceCore
    static let apiVersion = "2010-05-08"
    /// The global endpoint.
    public static let globalEndpoint = URL(string: "https://iam.amazonaws.com")!

    public init(configuration: AWSClientConfiguration) {
        var global = configuration
        global.region = "us-east-1"
        global.endpoint = configuration.endpoint ?? Self.globalEndpoint
        core = AWSServiceCore(service: "iam", configuration: global)
    }

    /// Creates a role trusted by `assumeRolePolicyDocument` (JSON).
    public func createRole(name: String, assumeRolePolicyDocument: String, path: String = "/",
                           description: String? = nil, tags: [String: String] = [:]) async throws -> IAMRole {
        var params = AWSQueryParameters()
        params.add("RoleName", name)
        params.add("AssumeRolePolicyDocument", assumeRolePolicyDocument)
        params.add("Path", path)
        params.add("Description", description)
        for (index, tag) in tags.sorted(by: { $0.key < $1.key }).enumerated() {
            params.add("Tags.member.\(index + 1).Key", tag.key)
            params.add("Tags.member.\(index + 1).Value", tag.value)
        }
        let xml = try await call("CreateRole", params, idempotent: false)
        return try Self.role(xml.first("Role"), operation: "CreateRole")
    }

    /// The role called `name`; `NoSuchEntity` if there is none.
    public func getRole(name: String) async throws -> IAMRole {
        var params = AWSQueryParameters()
        params.add("RoleName", name)
        let xml = try await call("GetRole", params, idempotent: true)
        return try Self.role(xml.first("Role"), operation: "GetRole")
    }

    /// Replaces the role's trust policy.
    public func updateAssumeRolePolicy(roleName: String, policyDocument: String) async throws {
        var params = AWSQueryParameters()
        params.add("RoleName", roleName)
        params.add("PolicyDocument", policyDocument)
        _ = try await call("UpdateAssumeRolePolicy", params, idempotent: true)
    }

    /// Creates or replaces the role's inline policy `policyName`.
    public func putRolePolicy(roleName: String, policyName: String, policyDocument: String) async throws {
        var params = AWSQueryParameters()
        params.add("RoleName", roleName)
        params.add("PolicyName", policyName)
        params.add("PolicyDocument", policyDocument)
        _ = try await call("PutRolePolicy", params, idempotent: true)
    }

    /// The inline policy's document (URL-decoded); `NoSuchEntity` if the role has no such policy.
    public func getRolePolicy(roleName: String, policyName: String) async throws -> String {
        var params = AWSQueryParameters()
        params.add("RoleName", roleName)
        params.add("PolicyName", policyName)
        let xml = try await call("GetRolePolicy", params, idempotent: true)
        guard let document = xml.first("PolicyDocument")?.text else {
            throw AWSClientError.invalidResponse(service: "iam", operation: "GetRolePolicy", detail: "PolicyDocument is missing")
        }
        return Self.decodeDocument(document)
    }

    public func createInstanceProfile(name: String, path: String = "/") async throws -> IAMInstanceProfile {
        var params = AWSQueryParameters()
        params.add("InstanceProfileName", name)
        params.add("Path", path)
        let xml = try await call("CreateInstanceProfile", params, idempotent: false)
        return try Self.instanceProfile(xml.first("InstanceProfile"), operation: "CreateInstanceProfile")
    }

    /// The instance profile called `name` with its roles; `NoSuchEntity` if there is none.
    public func getInstanceProfile(name: String) async throws -> IAMInstanceProfile {
        var params = AWSQueryParameters()
        params.add("InstanceProfileName", name)
        let xml = try await call("GetInstanceProfile", params, idempotent: true)
        return try Self.instanceProfile(xml.first("InstanceProfile"), operation: "GetInstanceProfile")
    }

    /// Puts `roleName` into the instance profile (`LimitExceeded` if it already holds a role).
    public func addRoleToInstanceProfile(instanceProfileName: String, roleName: String) async throws {
        var params = AWSQueryParameters()
        params.add("InstanceProfileName", instanceProfileName)
        params.add("RoleName", roleName)
        _ = try await call("AddRoleToInstanceProfile", params, idempotent: false)
    }

    // MARK: Protocol

    func call(_ action: String, _ params: AWSQueryParameters, idempotent: Bool) async throws -> AWSXMLElement {
        try await core.query(action, version: Self.apiVersion, params.items, idempotent: idempotent)
    }

    /// IAM returns policy documents percent-encoded (RFC 3986); moto sometimes as plain JSON.
    static func decodeDocument(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("{") { return trimmed }
        return trimmed.removingPercentEncoding ?? trimmed
    }

    static func role(_ element: AWSXMLElement?, operation: String) throws -> IAMRole {
        guard let element, let name = element.string("RoleName"), let arn = element.string("Arn") else {
            throw AWSClientError.invalidResponse(service: "iam", operation: operation, detail: "Role is missing")
        }
        return IAMRole(roleName: name, roleId: element.string("RoleId") ?? "", arn: arn, path: element.string("Path") ?? "/",
                       assumeRolePolicyDocument: element.string("AssumeRolePolicyDocument").map(decodeDocument))
    }

    static func instanceProfile(_ element: AWSXMLElement?, operation: String) throws -> IAMInstanceProfile {
        guard let element, let name = element.string("InstanceProfileName"), let arn = element.string("Arn") else {
            throw AWSClientError.invalidResponse(service: "iam", operation: operation, detail: "InstanceProfile is missing")
        }
        let roles = try (element.child("Roles")?.children("member") ?? []).map { try role($0, operation: operation) }
        return IAMInstanceProfile(instanceProfileName: name, instanceProfileId: element.string("InstanceProfileId") ?? "",
                                  arn: arn, roles: roles)
    }
}
