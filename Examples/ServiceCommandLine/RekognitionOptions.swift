import ArgumentParser
import FaceRecognitionService
import Foundation

/// The Rekognition API's options: who may call it and how much it queues.
public struct RekognitionOptions: ParsableArguments, Sendable {
    @Option(help: "Keys file for the Rekognition API: `ACCESS_KEY_ID SECRET_ACCESS_KEY [read-only]` per line (default: $FACEREC_KEYS_FILE). FACEREC_ACCESS_KEY_ID/FACEREC_SECRET_ACCESS_KEY add one more pair.")
    public var keysFile: String?

    @Option(help: "Images the Rekognition API analyses or queues at once before answering ProvisionedThroughputExceededException.")
    public var rekognitionMaxPending = 256

    public init() {}

    /// The keys from the environment and the keys file.
    public func keys(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RekognitionKeys {
        var keys = RekognitionKeys.fromEnvironment(environment)
        if let path = keysFile ?? environment["FACEREC_KEYS_FILE"].flatMap({ $0.isEmpty ? nil : $0 }) {
            keys = keys.merging(try RekognitionKeys.load(contentsOf: URL(fileURLWithPath: path)))
        }
        return keys
    }
}
