import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL 15 server for the tests (Debian's binaries), started once per test
/// process by `scripts/postgres-server.sh` on a Unix socket in a temporary directory, with
/// trust authentication. A watchdog stops it and removes the directory when this process
/// exits, pass, fail or crash. Each test takes a database of its own (``makeDatabase(_:)``).
public struct PostgresTestServer: Sendable {
    /// `postgres://postgres@/postgres?host=<socket directory>`.
    public let url: String
    public let socketDirectory: String

    /// Debian's PostgreSQL 15 programs (`$PG_BIN` overrides).
    public static let binDirectory = ProcessInfo.processInfo.environment["PG_BIN"] ?? "/usr/lib/postgresql/15/bin"
    public static let script = AWSTestPaths.packageRoot.appendingPathComponent("scripts/postgres-server.sh")

    /// Whether initdb is there (the tests skip without it).
    public static let available = FileManager.default.isExecutableFile(atPath: binDirectory + "/initdb")
    public static let unavailableReason = "PostgreSQL 15 is not installed (\(binDirectory)/initdb; apt-get install postgresql-15)"

    /// The server of this test process, started on first use.
    public static func shared() async throws -> PostgresTestServer {
        try await PostgresLauncher.shared.server()
    }

    /// A new, empty database on this server; its URL.
    public func makeDatabase(_ label: String) async throws -> String {
        let name = "\(label.lowercased().filter { $0.isLetter || $0.isNumber })_\(UUID().uuidString.prefix(8).lowercased())"
        try await psql("CREATE DATABASE \(name)")
        return "postgres://postgres@/\(name)?host=\(socketDirectory)"
    }

    /// Runs `sql` through psql on `database`; its output (unaligned, tuples only).
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") async throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("psql-\(UUID().uuidString).out")
        defer { try? FileManager.default.removeItem(at: output) }
        let status = try await runProcess(Self.binDirectory + "/psql",
                                          ["-h", socketDirectory, "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1",
                                           "-A", "-t", "-c", sql],
                                          environment: ProcessInfo.processInfo.environment, stdout: output)
        guard status == 0 else { throw PostgresUnavailable(description: "psql exited with \(status) on: \(sql)") }
        return try String(contentsOf: output, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The database name in a URL from ``makeDatabase(_:)``.
    public static func databaseName(_ url: String) -> String {
        URLComponents(string: url).map { String($0.path.dropFirst()) } ?? ""
    }
}

/// Why the PostgreSQL server is not available.
public struct PostgresUnavailable: Error, CustomStringConvertible {
    public let description: String
}

private actor PostgresLauncher {
    static let shared = PostgresLauncher()
    private var task: Task<PostgresTestServer, any Error>?

    func server() async throws -> PostgresTestServer {
        if let task { return try await task.value }
        let task = Task { try await Self.start() }
        self.task = task
        return try await task.value
    }

    private static func start() async throws -> PostgresTestServer {
        // Short: a Unix socket's path is limited to 107 bytes.
        let directory = "/tmp/facerec-pg-\(getpid())-\(UUID().uuidString.prefix(8).lowercased())"
        let status = try await runProcess("/bin/bash", [PostgresTestServer.script.path, "start", "--state-dir", directory,
                                                        "--owner-pid", String(getpid())],
                                          environment: ProcessInfo.processInfo.environment)
        guard status == 0 else {
            throw PostgresUnavailable(description: "scripts/postgres-server.sh start exited with \(status)")
        }
        return PostgresTestServer(url: "postgres://postgres@/postgres?host=\(directory)", socketDirectory: directory)
    }
}
