import FaceRecognition
import Foundation

/// What the service loads to recognise faces: MTCNN's weights, and optionally FaceNet's weights
/// with a gallery and a distance threshold. The executables fill it from their command line
/// (`RecognitionOptions` in the internal `ServiceCommandLine` target); an embedding server
/// builds it in code.
public struct RecognitionConfiguration: Sendable, Equatable {
    /// FaceNet weights (.pt or .safetensors). `nil`: detection only, never a name.
    public var weights: String?
    /// The course data.pt or a gallery file from `facerec enroll` (needed with `weights`).
    public var gallery: String?
    /// Directory with MTCNN's pnet.pt, rnet.pt, onet.pt.
    public var mtcnnWeights: String
    /// Distance beyond which a face is Unknown (`nil`: always the nearest entry).
    public var threshold: Float?

    public init(weights: String? = nil, gallery: String? = nil,
                mtcnnWeights: String = MTCNN.defaultWeightsDirectory.path, threshold: Float? = nil) {
        self.weights = weights
        self.gallery = gallery
        self.mtcnnWeights = mtcnnWeights
        self.threshold = threshold
    }

    /// Throws ``ServiceStartupError`` when the combination cannot work (weights without a gallery).
    public func validate() throws {
        if weights != nil, gallery == nil { throw ServiceStartupError("--weights needs --gallery") }
    }

    /// The command-line arguments that reproduce these options (for spawned workers).
    public var arguments: [String] {
        var out = ["--mtcnn-weights", absolute(mtcnnWeights)]
        if let weights { out += ["--weights", absolute(weights)] }
        if let gallery { out += ["--gallery", absolute(gallery)] }
        if let threshold { out += ["--threshold", String(threshold)] }
        return out
    }

    /// Loads the networks. Weights or a gallery missing or unusable are a
    /// ``ServiceStartupError`` with ``StartupChecks/configurationExitCode`` (restarting cannot
    /// mend them); no `--weights` at all means detection only, said plainly on stderr. `lanes`
    /// analyses run at once, each with its share of the cores' BLAS threads, of up to
    /// `maxBatchSize` images.
    public func makeEngine(lanes: Int, maxBatchSize: Int = 8) throws -> FaceRecognitionEngine {
        BLASThreads.configure(parallelCallers: lanes)
        let detector: MTCNN
        do {
            detector = try MTCNN(weightsDirectory: URL(fileURLWithPath: mtcnnWeights))
        } catch {
            // The library's message says what is missing and how to fetch it; add where to point the service.
            throw ServiceStartupError("\(error) Give their folder with --mtcnn-weights DIR or FACEREC_MTCNN_WEIGHTS.",
                                      exitCode: StartupChecks.configurationExitCode)
        }
        guard let weights else {
            ServiceLog.notice("no FaceNet weights given (--weights): running detection only. Results are NoFace or \(FaceRecognitionEngine.unidentifiedLabel), never a name.")
            return FaceRecognitionEngine(mode: .detectionOnly(detector), lanes: lanes, maxBatchSize: maxBatchSize)
        }
        guard FileManager.default.fileExists(atPath: weights) else {
            throw ServiceStartupError("FaceNet weights not found at \(weights) (see weights/README.md)",
                                      exitCode: StartupChecks.configurationExitCode)
        }
        let facenet: FaceNet
        do {
            facenet = try FaceNet(contentsOf: URL(fileURLWithPath: weights))
        } catch {
            throw ServiceStartupError("cannot use \(weights) as FaceNet weights: \(error)", exitCode: StartupChecks.configurationExitCode)
        }
        let loadedGallery: Gallery
        do {
            loadedGallery = try Gallery.load(contentsOf: URL(fileURLWithPath: gallery ?? ""))
        } catch {
            throw ServiceStartupError("cannot load the gallery \(gallery ?? "-"): \(error)", exitCode: StartupChecks.configurationExitCode)
        }
        let recognizer = FaceRecognizer(detector: detector, facenet: facenet, gallery: loadedGallery,
                                        options: .init(threshold: threshold))
        return FaceRecognitionEngine(mode: .identify(recognizer), lanes: lanes, maxBatchSize: maxBatchSize)
    }

    private func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}

/// A start-up failure with a message for the operator. The executables print it and exit with
/// ``exitCode`` (1 unless the failure is one retrying cannot fix, e.g.
/// ``StartupChecks/configurationExitCode``).
public struct ServiceStartupError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public let exitCode: Int32
    public init(_ description: String, exitCode: Int32 = 1) {
        self.description = description
        self.exitCode = exitCode
    }
}

/// Plain messages for the operator on stderr (logs go through swift-log).
public enum ServiceLog {
    /// The name messages begin with: the executable's (`facerec-server`, `facerec-worker`, …).
    public static let program = CommandLine.arguments.first.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "facerec"

    /// `program: message` on standard error.
    public static func notice(_ message: String) {
        FileHandle.standardError.write(Data("\(program): \(message)\n".utf8))
    }
}
