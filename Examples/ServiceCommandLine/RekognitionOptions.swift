import ArgumentParser
import FaceRecognitionService
import Foundation

/// The Rekognition API's options: who may call it and how much it queues.
public struct RekognitionOptions: ParsableArguments, Sendable {
    @Option(help: "Keys file for the Rekognition API: `ACCESS_KEY_ID SECRET_ACCESS_KEY [read-only]` per line (default: $FACEREC_KEYS_FILE). FACEREC_ACCESS_KEY_ID/FACEREC_SECRET_ACCESS_KEY add one more pair.")
    public var keysFile: String?

    @Option(help: "Images the Rekognition API analyses or queues at once before answering ProvisionedThroughputExceededException.")
    public var rekognitionMaxPending = 256

    @Option(help: CollectionsDatabaseHelp.text)
    public var collectionsDatabase: String?

    public init() {}

    /// SQLite under `dataDirectory`, or the PostgreSQL database of --collections-database / $FACEREC_COLLECTIONS_DATABASE.
    public func collectionsDatabase(dataDirectory: URL, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> CollectionsDatabase {
        do {
            return try CollectionsDatabase.resolve(option: collectionsDatabase, environment: environment, dataDirectory: dataDirectory)
        } catch {
            throw ServiceStartupError("--collections-database: \(error)", exitCode: StartupChecks.configurationExitCode)
        }
    }

    /// The keys from the environment and the keys file.
    public func keys(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RekognitionKeys {
        var keys = RekognitionKeys.fromEnvironment(environment)
        if let path = keysFile ?? environment["FACEREC_KEYS_FILE"].flatMap({ $0.isEmpty ? nil : $0 }) {
            keys = keys.merging(try RekognitionKeys.load(contentsOf: URL(fileURLWithPath: path)))
        }
        return keys
    }
}

/// The --collections-database option's help, shared by the commands that open collections.
public enum CollectionsDatabaseHelp {
    public static let text = ArgumentHelp(
        "PostgreSQL database for the Rekognition API's collections, shared by server replicas: postgres://user[:password]@host[:port]/db[?sslmode=disable|prefer|require] or postgres://user@/db?host=/socket/dir (default: $\(CollectionsDatabase.environmentVariable); none: SQLite in --data-dir).")
}
