import Foundation

/// The key pairs the Rekognition API accepts, as an AWS account's IAM users would hold them.
///
/// Sources, combined: `FACEREC_ACCESS_KEY_ID` / `FACEREC_SECRET_ACCESS_KEY` (one full-access
/// pair), and a keys file with one pair per line:
///
/// ```text
/// # access-key-id  secret-access-key  [read-only]
/// AKIDADMIN        s3cr3t
/// AKIDVIEWER       0th3r            read-only
/// ```
///
/// A `read-only` key may call the operations that change nothing (Describe/List/Search/Compare/
/// Detect); any other operation answers `AccessDeniedException`.
public struct RekognitionKeys: Sendable, Equatable {
    public struct Key: Sendable, Equatable {
        public let secretAccessKey: String
        public let readOnly: Bool
        public init(secretAccessKey: String, readOnly: Bool = false) {
            self.secretAccessKey = secretAccessKey
            self.readOnly = readOnly
        }
    }

    public private(set) var keys: [String: Key]

    public init(_ keys: [String: Key] = [:]) { self.keys = keys }

    public var isEmpty: Bool { keys.isEmpty }

    public func key(for accessKeyId: String) -> Key? { keys[accessKeyId] }

    public mutating func add(accessKeyId: String, secretAccessKey: String, readOnly: Bool = false) {
        keys[accessKeyId] = Key(secretAccessKey: secretAccessKey, readOnly: readOnly)
    }

    /// The pair in `FACEREC_ACCESS_KEY_ID` / `FACEREC_SECRET_ACCESS_KEY`, if both are set.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> RekognitionKeys {
        var keys = RekognitionKeys()
        if let id = environment["FACEREC_ACCESS_KEY_ID"], !id.isEmpty,
           let secret = environment["FACEREC_SECRET_ACCESS_KEY"], !secret.isEmpty {
            keys.add(accessKeyId: id, secretAccessKey: secret)
        }
        return keys
    }

    /// Parses a keys file (format above).
    /// - Throws: ``RekognitionKeysError`` naming the file and line at fault.
    public static func parse(_ text: String, file: String) throws(RekognitionKeysError) -> RekognitionKeys {
        var keys = RekognitionKeys()
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            if fields.isEmpty { continue }
            guard fields.count == 2 || (fields.count == 3 && fields[2] == "read-only") else {
                throw RekognitionKeysError(file: file, line: number + 1,
                                           reason: "expected `ACCESS_KEY_ID SECRET_ACCESS_KEY [read-only]`")
            }
            keys.add(accessKeyId: fields[0], secretAccessKey: fields[1], readOnly: fields.count == 3)
        }
        return keys
    }

    public static func load(contentsOf url: URL) throws -> RekognitionKeys {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw RekognitionKeysError(file: url.path, line: 0, reason: "cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: url.path)
    }

    /// `other`'s keys added to these (its entries win on a repeated id).
    public func merging(_ other: RekognitionKeys) -> RekognitionKeys {
        RekognitionKeys(keys.merging(other.keys) { _, new in new })
    }
}

/// A keys file that cannot be used.
public struct RekognitionKeysError: Error, Sendable, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let reason: String
    public var description: String { "\(file)\(line > 0 ? ":\(line)" : ""): \(reason)" }
}
