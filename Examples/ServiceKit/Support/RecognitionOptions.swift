import ArgumentParser
import FaceRecognition
import Foundation

/// The options every service executable shares to load the recognizer.
public struct RecognitionOptions: ParsableArguments, Sendable {
    @Option(help: "FaceNet weights (.pt or .safetensors). Without it the service runs detection only and never reports a name.")
    public var weights: String?

    @Option(help: "Gallery: the course data.pt or a gallery file from `facerec enroll` (needed with --weights).")
    public var gallery: String?

    @Option(help: "Directory with MTCNN's pnet.pt, rnet.pt, onet.pt.")
    public var mtcnnWeights: String = MTCNN.defaultWeightsDirectory.path

    @Option(help: "Distance beyond which a face is Unknown (default: always the nearest entry).")
    public var threshold: Float?

    public init() {}

    public func validate() throws {
        if weights != nil, gallery == nil { throw ValidationError("--weights needs --gallery") }
    }

    /// The command-line arguments that reproduce these options (for spawned workers).
    public var arguments: [String] {
        var out = ["--mtcnn-weights", absolute(mtcnnWeights)]
        if let weights { out += ["--weights", absolute(weights)] }
        if let gallery { out += ["--gallery", absolute(gallery)] }
        if let threshold { out += ["--threshold", String(threshold)] }
        return out
    }

    /// Loads the networks. A missing weights file is an error; no `--weights` at all means
    /// detection only, said plainly on stderr. `lanes` analyses run at once, each with its
    /// share of the cores' BLAS threads, of up to `maxBatchSize` images.
    public func makeEngine(lanes: Int, maxBatchSize: Int = 8) throws -> FaceRecognitionEngine {
        BLASThreads.configure(parallelCallers: lanes)
        let detector: MTCNN
        do {
            detector = try MTCNN(weightsDirectory: URL(fileURLWithPath: mtcnnWeights))
        } catch {
            throw ServiceStartupError("cannot load the MTCNN weights from \(mtcnnWeights): \(error). Run weights/fetch_mtcnn_weights.sh.")
        }
        guard let weights else {
            ServiceLog.notice("no FaceNet weights given (--weights): running detection only. Results are NoFace or \(FaceRecognitionEngine.unidentifiedLabel), never a name.")
            return FaceRecognitionEngine(mode: .detectionOnly(detector), lanes: lanes, maxBatchSize: maxBatchSize)
        }
        guard FileManager.default.fileExists(atPath: weights) else {
            throw ServiceStartupError("FaceNet weights not found at \(weights) (see weights/README.md)")
        }
        let facenet: FaceNet
        do {
            facenet = try FaceNet(contentsOf: URL(fileURLWithPath: weights))
        } catch {
            throw ServiceStartupError("cannot use \(weights) as FaceNet weights: \(error)")
        }
        let loadedGallery: Gallery
        do {
            loadedGallery = try Gallery.load(contentsOf: URL(fileURLWithPath: gallery ?? ""))
        } catch {
            throw ServiceStartupError("cannot load the gallery \(gallery ?? "-"): \(error)")
        }
        let recognizer = FaceRecognizer(detector: detector, facenet: facenet, gallery: loadedGallery,
                                        options: .init(threshold: threshold))
        return FaceRecognitionEngine(mode: .identify(recognizer), lanes: lanes, maxBatchSize: maxBatchSize)
    }

    private func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}

/// Options naming the pipeline's data directory (the embedded default).
public struct PipelineOptions: ParsableArguments, Sendable {
    @Option(help: "Data directory of the embedded default (queues and stores) when no cloud variables are set.")
    public var dataDir: String = ProcessInfo.processInfo.environment["FACEREC_DATA_DIR"] ?? ".facerec"

    public init() {}

    public var dataDirectory: URL { URL(fileURLWithPath: dataDir).standardizedFileURL }
}

/// A start-up failure with a message for the operator; the executables print it and exit 1.
public struct ServiceStartupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Plain messages for the operator on stderr (logs go through swift-log).
public enum ServiceLog {
    public static func notice(_ message: String) {
        FileHandle.standardError.write(Data("facerec: \(message)\n".utf8))
    }
}
