import Foundation

/// Where the library looks for weights when it is not given a path, in order:
///
/// 1. the path passed explicitly (then nothing else is tried),
/// 2. the environment variable (`FACEREC_MTCNN_WEIGHTS` for the MTCNN folder,
///    `FACEREC_FACENET_WEIGHTS` for the FaceNet checkpoint),
/// 3. `weights/` in the current directory,
/// 4. `$XDG_DATA_HOME/facerec/weights` (default `~/.local/share/facerec/weights`).
///
/// The environment, current directory and home directory are values, so a test (or a server
/// with its own configuration) can look up with its own instead of the process's.
///
/// ```swift
/// let detector = try MTCNN(lookup: WeightsLookup())   // the process's environment
/// ```
public struct WeightsLookup: Sendable, Equatable {
    /// The folder holding `pnet.pt`, `rnet.pt` and `onet.pt`.
    public static let mtcnnEnvironmentVariable = "FACEREC_MTCNN_WEIGHTS"
    /// The FaceNet checkpoint file (`.pt` or `.safetensors`).
    public static let faceNetEnvironmentVariable = "FACEREC_FACENET_WEIGHTS"
    /// The FaceNet checkpoint looked for in each folder: facenet-pytorch's vggface2 release.
    public static let faceNetFileName = "20180402-114759-vggface2.pt"

    /// The variables read (`FACEREC_*`, `XDG_DATA_HOME`).
    public var environment: [String: String]
    /// Where `weights/` is resolved.
    public var currentDirectory: URL
    /// Where `~/.local/share` is resolved when `XDG_DATA_HOME` is unset.
    public var homeDirectory: URL

    /// A lookup with the process's environment, current directory and home by default.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                currentDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                homeDirectory: URL = FileManager.default.homeDirectoryForCurrentUser) {
        self.environment = environment
        self.currentDirectory = currentDirectory
        self.homeDirectory = homeDirectory
    }

    /// `$XDG_DATA_HOME/facerec/weights`, or `~/.local/share/facerec/weights` when
    /// `XDG_DATA_HOME` is unset or not absolute (as the XDG specification says).
    public var dataDirectory: URL {
        let base: URL
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") {
            base = URL(fileURLWithPath: xdg, isDirectory: true)
        } else {
            base = homeDirectory.appendingPathComponent(".local/share", isDirectory: true)
        }
        return base.appendingPathComponent("facerec/weights", isDirectory: true)
    }

    /// The shared folders of steps 3 and 4.
    private var folders: [URL] {
        [currentDirectory.appendingPathComponent("weights", isDirectory: true), dataDirectory]
    }

    /// A path from the environment, relative ones resolved against `currentDirectory`.
    private func environmentPath(_ name: String) -> URL? {
        guard let path = environment[name], !path.isEmpty else { return nil }
        return path.hasPrefix("/") ? URL(fileURLWithPath: path) : currentDirectory.appendingPathComponent(path)
    }

    /// The MTCNN folders tried, in order.
    public func mtcnnSearchPath(explicit: URL? = nil) -> [URL] {
        if let explicit { return [explicit] }
        return (environmentPath(Self.mtcnnEnvironmentVariable).map { [$0] } ?? []) + folders
    }

    /// The first folder of ``mtcnnSearchPath(explicit:)`` that holds all three MTCNN files.
    /// - Throws: ``MTCNNError/weightsNotFoundInSearchPath(searched:)`` listing the folders.
    public func mtcnnDirectory(explicit: URL? = nil) throws(MTCNNError) -> URL {
        let path = mtcnnSearchPath(explicit: explicit)
        let names = [MTCNN.weightFiles.pnet, MTCNN.weightFiles.rnet, MTCNN.weightFiles.onet]
        for folder in path where names.allSatisfy({ Self.isFile(folder.appendingPathComponent($0)) }) {
            return folder
        }
        throw .weightsNotFoundInSearchPath(searched: path.map(\.path))
    }

    /// The FaceNet checkpoints tried, in order.
    public func faceNetSearchPath(explicit: URL? = nil) -> [URL] {
        if let explicit { return [explicit] }
        return (environmentPath(Self.faceNetEnvironmentVariable).map { [$0] } ?? [])
            + folders.map { $0.appendingPathComponent(Self.faceNetFileName) }
    }

    /// The first existing file of ``faceNetSearchPath(explicit:)``.
    /// - Throws: ``WeightsError/notFound(what:searched:)`` listing the paths.
    public func faceNetFile(explicit: URL? = nil) throws(WeightsError) -> URL {
        let path = faceNetSearchPath(explicit: explicit)
        if let found = path.first(where: Self.isFile) { return found }
        throw .notFound(what: "FaceNet weights (\(Self.faceNetFileName), or the file \(Self.faceNetEnvironmentVariable) names)",
                        searched: path.map(\.path))
    }

    private static func isFile(_ url: URL) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &directory) && !directory.boolValue
    }
}
