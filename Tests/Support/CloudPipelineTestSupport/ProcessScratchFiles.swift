import Foundation

/// Files a test process writes once and shares between its tests (the synthetic FaceNet
/// weights, ~94 MB), removed when the process exits: Swift Testing has no suite-wide teardown,
/// so an `atexit` handler does it. A process killed outright still leaves its file behind.
public enum ProcessScratchFiles {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var paths: [String] = []  // under `lock`
    private static let removalAtExit: Void = { atexit { ProcessScratchFiles.removeAll() } }()

    /// A path in the temporary directory named `name` and this process's id, removed at exit.
    public static func url(_ name: String) -> URL {
        _ = removalAtExit
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(getpid())-\(name)")
        lock.withLock { paths.append(url.path) }
        return url
    }

    static func removeAll() {
        lock.withLock { for path in paths { unlink(path) } }
    }
}
