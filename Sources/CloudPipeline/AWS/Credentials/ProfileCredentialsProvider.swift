import Foundation

/// Static keys from the shared files, as the SDKs read them:
/// - the profile is `AWS_PROFILE` (else `default`);
/// - `AWS_SHARED_CREDENTIALS_FILE` (else `~/.aws/credentials`) has sections `[name]`;
/// - `AWS_CONFIG_FILE` (else `~/.aws/config`) has `[default]` and `[profile name]`;
/// - a key in the credentials file wins over the same key in the config file.
///
/// Role assumption (`role_arn`, `source_profile`), SSO and `credential_process` need STS or
/// other services and are not supported: such a profile is reported as incomplete rather
/// than silently skipped.
public struct ProfileCredentialsProvider: AWSCredentialsProvider {
    public let profile: String
    public let credentialsFile: String
    public let configFile: String

    /// Resolves the profile name and file paths from `environment` as the SDKs do.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment, profile: String? = nil) {
        let home = environment["HOME"] ?? NSHomeDirectory()
        self.profile = profile ?? environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        self.credentialsFile = Self.expand(environment["AWS_SHARED_CREDENTIALS_FILE"], home: home) ?? home + "/.aws/credentials"
        self.configFile = Self.expand(environment["AWS_CONFIG_FILE"], home: home) ?? home + "/.aws/config"
    }

    public init(profile: String, credentialsFile: String, configFile: String) {
        self.profile = profile
        self.credentialsFile = credentialsFile
        self.configFile = configFile
    }

    public func credentials() async throws -> AWSCredentials {
        try resolve()
    }

    func resolve() throws(AWSCredentialsError) -> AWSCredentials {
        let source = "profile \(profile.debugDescription)"
        let fromCredentials = try Self.section(named: profile, in: credentialsFile, configStyle: false)
        let fromConfig = try Self.section(named: profile, in: configFile, configStyle: true)
        if fromCredentials == nil && fromConfig == nil {
            throw .notConfigured(source: source, detail: "no such profile in \(credentialsFile) or \(configFile)")
        }
        let merged = (fromConfig ?? [:]).merging(fromCredentials ?? [:]) { _, credentialsValue in credentialsValue }
        let id = merged["aws_access_key_id"].flatMap { $0.isEmpty ? nil : $0 }
        let secret = merged["aws_secret_access_key"].flatMap { $0.isEmpty ? nil : $0 }
        guard let id else {
            if merged["role_arn"] != nil || merged["sso_session"] != nil || merged["credential_process"] != nil {
                throw .incomplete(source: source, missing: "aws_access_key_id (role, SSO and process credentials are not supported)")
            }
            throw .incomplete(source: source, missing: "aws_access_key_id")
        }
        guard let secret else { throw .incomplete(source: source, missing: "aws_secret_access_key") }
        return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: merged["aws_session_token"])
    }

    /// The region the profile names (`region` in either file), for ``CloudConfiguration``.
    public func region() throws(AWSCredentialsError) -> String? {
        let fromCredentials = try Self.section(named: profile, in: credentialsFile, configStyle: false)
        let fromConfig = try Self.section(named: profile, in: configFile, configStyle: true)
        return fromCredentials?["region"] ?? fromConfig?["region"]
    }

    static func expand(_ path: String?, home: String) -> String? {
        guard let path, !path.isEmpty else { return nil }
        if path == "~" { return home }
        if path.hasPrefix("~/") { return home + path.dropFirst() }
        return path
    }

    /// The keys of section `name` in the INI file at `path`; `nil` when the file or the
    /// section is absent. In the config file a profile other than `default` is written
    /// `[profile name]` (a bare `[name]` is accepted too, as the CLI does).
    static func section(named name: String, in path: String, configStyle: Bool) throws(AWSCredentialsError) -> [String: String]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .unreadableFile(path: path, detail: "not readable as UTF-8 text")
        }
        let sections = try INIFile.parse(text, path: path)
        if configStyle && name != "default", let values = sections["profile \(name)"] { return values }
        return sections[name]
    }
}

/// The INI dialect of the AWS shared files: `[section]`, `key = value`, `#`/`;` comments,
/// keys case-insensitive, indented lines continuing a nested block (kept but ignored).
enum INIFile {
    static func parse(_ text: String, path: String) throws(AWSCredentialsError) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            if line.first == " " || line.first == "\t" { continue } // nested sub-section values
            if trimmed.hasPrefix("[") {
                guard trimmed.hasSuffix("]") else {
                    throw .unreadableFile(path: path, detail: "line \(lineNumber): section header without closing ']'")
                }
                let name = trimmed.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                let collapsed = name.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                current = collapsed
                if sections[collapsed] == nil { sections[collapsed] = [:] }
                continue
            }
            guard let eq = trimmed.firstIndex(of: "=") else {
                // Only the line number: the line itself may hold a secret.
                throw .unreadableFile(path: path, detail: "line \(lineNumber): expected 'key = value'")
            }
            guard let section = current else {
                throw .unreadableFile(path: path, detail: "line \(lineNumber): key outside any [section]")
            }
            let key = trimmed[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            var value = trimmed[trimmed.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            // Inline comments need whitespace before the marker, as in botocore.
            for marker in [" #", " ;", "\t#", "\t;"] {
                if let range = value.range(of: marker) {
                    value = String(value[..<range.lowerBound]).trimmingCharacters(in: .whitespaces)
                }
            }
            sections[section]?[key] = value
        }
        return sections
    }
}
