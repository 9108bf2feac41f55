import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// Where the Rekognition API's collections persist: SQLite under the data directory (the
/// embedded default), or a PostgreSQL database that several server replicas share.
public enum CollectionsDatabase: Sendable, Equatable, CustomStringConvertible {
    case sqlite(dataDirectory: URL)
    case postgres(PostgresDatabaseURL)

    /// Names the PostgreSQL database when `--collections-database` is not given.
    public static let environmentVariable = "FACEREC_COLLECTIONS_DATABASE"

    /// The database `option` names, else `$FACEREC_COLLECTIONS_DATABASE`, else SQLite under `dataDirectory`.
    public static func resolve(option: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                               dataDirectory: URL) throws -> CollectionsDatabase {
        guard let text = option ?? environment[environmentVariable], !text.isEmpty else { return .sqlite(dataDirectory: dataDirectory) }
        return .postgres(try PostgresDatabaseURL(text))
    }

    public var description: String {
        switch self {
        case .sqlite(let directory): return "SQLite \(directory.appendingPathComponent(SQLiteFaceCollectionStore.fileName).path)"
        case .postgres(let url): return "PostgreSQL \(url)"
        }
    }
}

/// A `postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]` URL, or
/// for a Unix socket `postgres://user@/database?host=/socket/directory[&port=N]` (libpq's form:
/// the socket is `<directory>/.s.PGSQL.<port>`).
public struct PostgresDatabaseURL: Sendable, Equatable, CustomStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unixSocket(path: String)
    }
    public enum TLSMode: String, Sendable, Equatable { case disable, prefer, require }

    public var endpoint: Endpoint
    public var username: String
    public var password: String?
    public var database: String?
    public var tls: TLSMode

    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    public init(_ text: String) throws {
        guard let components = URLComponents(string: text), let scheme = components.scheme,
              scheme == "postgres" || scheme == "postgresql" else {
            throw Invalid(description: "not a postgres:// URL: \(Self.redacted(text))")
        }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        var port = 5432
        if let given = components.port ?? query["port"].flatMap(Int.init) {
            guard (1...65535).contains(given) else { throw Invalid(description: "port \(given) is out of range") }
            port = given
        }
        if let socketDirectory = query["host"], socketDirectory.hasPrefix("/") {
            endpoint = .unixSocket(path: "\(socketDirectory)/.s.PGSQL.\(port)")
        } else if let host = components.host, !host.isEmpty {
            endpoint = .tcp(host: host, port: port)
        } else {
            throw Invalid(description: "no host in \(Self.redacted(text)) (give host[:port], or ?host=/socket/directory)")
        }
        username = components.user.flatMap { $0.isEmpty ? nil : $0 } ?? "postgres"
        password = components.password
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? nil : path
        let mode = query["sslmode"] ?? "prefer"
        guard let tls = TLSMode(rawValue: mode) else {
            throw Invalid(description: "sslmode \(mode) is not one of disable, prefer, require")
        }
        // A Unix socket never uses TLS.
        if case .unixSocket = endpoint { self.tls = .disable } else { self.tls = tls }
    }

    /// The URL with its password hidden, for logs.
    public var description: String {
        let user = password == nil ? username : "\(username):***"
        switch endpoint {
        case .tcp(let host, let port): return "postgres://\(user)@\(host):\(port)/\(database ?? "")"
        case .unixSocket(let path): return "postgres://\(user)@/\(database ?? "") (socket \(path))"
        }
    }

    static func redacted(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.password != nil else { return text }
        components.password = "***"
        return components.string ?? "(unreadable URL)"
    }

    /// The connection pool's settings.
    public func clientConfiguration() -> PostgresClient.Configuration {
        switch endpoint {
        case .unixSocket(let path):
            return PostgresClient.Configuration(unixSocketPath: path, username: username, password: password, database: database)
        case .tcp(let host, let port):
            let tls: PostgresClient.Configuration.TLS
            switch self.tls {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(.makeClientConfiguration())
            case .require: tls = .require(.makeClientConfiguration())
            }
            return PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
    }

    /// A single connection's settings (the notification listener's).
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        switch endpoint {
        case .unixSocket(let path):
            return PostgresConnection.Configuration(unixSocketPath: path, username: username, password: password, database: database)
        case .tcp(let host, let port):
            let tls: PostgresConnection.Configuration.TLS
            switch self.tls {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
            return PostgresConnection.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
    }
}
