import ArgumentParser
import CloudPipeline
import FaceRecognition
import FaceRecognitionService
import Foundation
import Logging

// The command-line side of the service's executables: ArgumentParser option groups over the
// library's plain configuration types. The FaceRecognitionService library itself does not
// depend on ArgumentParser.

/// The options every service executable shares to load the recognizer
/// (a ``RecognitionConfiguration`` on the command line).
public struct RecognitionOptions: ParsableArguments, Sendable {
    @Option(help: "FaceNet weights (.pt or .safetensors). Without it the service runs detection only and never reports a name.")
    public var weights: String?

    @Option(help: "Gallery: the course data.pt or a gallery file from `facerec enroll` (needed with --weights).")
    public var gallery: String?

    @Option(help: "Directory with MTCNN's pnet.pt, rnet.pt, onet.pt (default: $FACEREC_MTCNN_WEIGHTS, else ./weights, else ~/.local/share/facerec/weights).")
    public var mtcnnWeights: String?

    @Option(help: "Distance beyond which a face is Unknown (default: always the nearest entry).")
    public var threshold: Float?

    public init() {}

    /// The library's configuration these options describe.
    public var configuration: RecognitionConfiguration {
        // Without the flag, the library's lookup (the first of those folders that holds the three files).
        RecognitionConfiguration(weights: weights, gallery: gallery, mtcnnWeights: mtcnnWeights ?? MTCNN.defaultWeightsDirectory.path,
                                 threshold: threshold)
    }

    public func validate() throws {
        do {
            try configuration.validate()
        } catch let error as ServiceStartupError {
            throw ValidationError(error.description)
        }
    }

    /// The command-line arguments that reproduce these options (for spawned workers).
    public var arguments: [String] { configuration.arguments }

    /// See ``RecognitionConfiguration/makeEngine(lanes:maxBatchSize:)``.
    public func makeEngine(lanes: Int, maxBatchSize: Int = 8) throws -> FaceRecognitionEngine {
        if mtcnnWeights == nil {
            // No flag: say every folder the library's lookup tried, as `facerec` does, rather
            // than only the first one the configuration fell back to.
            do {
                _ = try WeightsLookup().mtcnnDirectory()
            } catch {
                throw ServiceStartupError("\(error) Or give their folder with --mtcnn-weights DIR.",
                                          exitCode: StartupChecks.configurationExitCode)
            }
        }
        return try configuration.makeEngine(lanes: lanes, maxBatchSize: maxBatchSize)
    }
}

/// Options naming the pipeline's data directory (the embedded default).
public struct PipelineOptions: ParsableArguments, Sendable {
    @Option(help: "Data directory of the embedded default (queues and stores) when no cloud variables are set.")
    public var dataDir: String = ProcessInfo.processInfo.environment["FACEREC_DATA_DIR"] ?? ".facerec"

    public init() {}

    public var dataDirectory: URL { URL(fileURLWithPath: dataDir).standardizedFileURL }
}

extension StartupChecks {
    /// ``StartupChecks.verifyCredentialsOrExit(_:services:logger:)`` for an executable: a refusal
    /// prints the reason on one line and exits with ``StartupChecks/configurationExitCode``.
    public static func verifyCredentialsOrExit(_ backend: PipelineBackend, services: Set<CredentialsCheck.Service>,
                                               logger: Logger) async throws {
        do {
            try await verifyCredentials(backend, services: services, logger: logger)
        } catch let error as ServiceStartupError {
            ServiceLog.notice(error.description)
            throw ExitCode(error.exitCode)
        }
    }
}
