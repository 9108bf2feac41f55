import Foundation

/// The query protocol (`Action=...&Version=...` as a form body, XML answers) that EC2, IAM and
/// Auto Scaling speak.
extension AWSServiceCore {
    /// The unsigned request for `action` with `params` (what ``query(_:version:_:idempotent:)``
    /// signs and sends; tests compare it with botocore's serializer).
    func queryRequest(_ action: String, version: String, _ params: [AWSQueryItem]) -> AWSHTTPRequest {
        let body = AWSURIEncoding.formEncode([AWSQueryItem("Action", action), AWSQueryItem("Version", version)] + params)
        return AWSHTTPRequest(method: "POST", endpoint: endpoint, path: "/", headers: [
            AWSHTTPHeader("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
        ], body: Data(body.utf8))
    }

    /// Sends `action` and returns the parsed XML answer; service errors surface as
    /// ``AWSServiceError`` with the AWS code (`EntityAlreadyExists`, `ValidationError`, ...).
    func query(_ action: String, version: String, _ params: [AWSQueryItem], idempotent: Bool) async throws -> AWSXMLElement {
        let response = try await execute(queryRequest(action, version: version, params), operation: action, idempotent: idempotent)
        return try xml(response, operation: action)
    }
}

/// Builds query-protocol parameter lists (`Prefix.member.N.Field`).
struct AWSQueryParameters {
    private(set) var items: [AWSQueryItem] = []

    mutating func add(_ name: String, _ value: String?) {
        if let value { items.append(AWSQueryItem(name, value)) }
    }

    mutating func add(_ name: String, _ value: Int?) { add(name, value.map(String.init)) }

    mutating func add(_ name: String, _ value: Bool?) { add(name, value.map { $0 ? "true" : "false" }) }

    /// A double as botocore writes it (`str(float)`: `120.0`, `0.5`): the shortest round-trip form.
    mutating func add(_ name: String, _ value: Double?) { add(name, value.map { String($0) }) }

    /// A double for people: `120` rather than `120.0`.
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
