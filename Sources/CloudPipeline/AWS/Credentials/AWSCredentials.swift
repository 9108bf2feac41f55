import Foundation

/// An access key pair, optionally temporary (session token + expiry).
///
/// The secret and the token never appear in `description`, `debugDescription`, mirrors
/// (`dump`, `String(reflecting:)`) or any error message of this module: only the access key id,
/// itself shortened, is shown so that logs can still tell two keys apart.
public struct AWSCredentials: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let accessKeyId: String
    public let secretAccessKey: String
    public let sessionToken: String?
    /// When temporary credentials stop working; `nil` for long-term keys.
    public let expiration: Date?

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken.flatMap { $0.isEmpty ? nil : $0 }
        self.expiration = expiration
    }

    /// The access key id with all but its first four characters masked (`AKIA****************`).
    public var redactedAccessKeyId: String { Self.redact(accessKeyId) }

    static func redact(_ id: String) -> String {
        guard id.count > 4 else { return String(repeating: "*", count: id.count) }
        return String(id.prefix(4)) + String(repeating: "*", count: id.count - 4)
    }

    public var description: String {
        var text = "AWSCredentials(accessKeyId: \(redactedAccessKeyId), secretAccessKey: <redacted>"
        if sessionToken != nil { text += ", sessionToken: <redacted>" }
        if let expiration { text += ", expiration: \(expiration)" }
        return text + ")"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["accessKeyId": redactedAccessKeyId, "secretAccessKey": "<redacted>",
                                "sessionToken": sessionToken == nil ? "nil" : "<redacted>",
                                "expiration": expiration as Any], displayStyle: .struct)
    }
}

/// Something that yields credentials (environment, profile files, instance metadata, ...).
public protocol AWSCredentialsProvider: Sendable {
    /// Current credentials; providers with temporary credentials refresh them before they
    /// expire.
    func credentials() async throws -> AWSCredentials
}

/// Always the same credentials (tests, or keys from a secrets manager).
public struct StaticCredentialsProvider: AWSCredentialsProvider {
    public let value: AWSCredentials
    public init(_ value: AWSCredentials) { self.value = value }
    public func credentials() async throws -> AWSCredentials { value }
}

/// Why credentials could not be found. Messages name the variable, file, profile or
/// metadata step at fault and never contain secret material.
public enum AWSCredentialsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The source has no credentials at all (so a chain moves on to the next source).
    case notConfigured(source: String, detail: String)
    /// The source has some of the settings but not all (a chain stops here: half a
    /// configuration is a mistake to report, not to skip).
    case incomplete(source: String, missing: String)
    /// A credentials/config file could not be read or parsed.
    case unreadableFile(path: String, detail: String)
    /// A step of the instance-metadata exchange failed.
    case instanceMetadata(step: String, detail: String)
    /// No source in the chain had credentials; one entry per source.
    case chainExhausted([String])

    public var description: String {
        switch self {
        case .notConfigured(let source, let detail):
            return "no AWS credentials from \(source): \(detail)"
        case .incomplete(let source, let missing):
            return "incomplete AWS credentials from \(source): \(missing) is missing"
        case .unreadableFile(let path, let detail):
            return "cannot read AWS credentials file \(path): \(detail)"
        case .instanceMetadata(let step, let detail):
            return "instance metadata credentials failed at \(step): \(detail)"
        case .chainExhausted(let reasons):
            return "no AWS credentials found: " + reasons.joined(separator: "; ")
        }
    }
}
