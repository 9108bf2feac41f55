import Foundation
import Testing

/// Paths shared by the tests: the package root, committed fixtures and the data sets.
enum TestPaths {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures")
    /// The sample data committed with the package (`SampleData/`: face_images_100, its CSV,
    /// data.pt, photos/multiface.jpg, the AWS SigV4 suite).
    static let sampleData = packageRoot.appendingPathComponent("SampleData")
    /// The larger sets (face_images_1000, the portraits): `FACEREC_TEST_DATA`, or
    /// `../shared/data` beside the package.
    static let extendedData: URL = {
        if let path = ProcessInfo.processInfo.environment["FACEREC_TEST_DATA"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data")
    }()

    /// `relative` in the committed sample if it is there, else in the extended data.
    static func data(_ relative: String) -> URL {
        let committed = sampleData.appendingPathComponent(relative)
        return FileManager.default.fileExists(atPath: committed.path) ? committed : extendedData.appendingPathComponent(relative)
    }

    /// Whether every one of `relatives` can be found (committed or extended).
    static func hasData(_ relatives: String...) -> Bool {
        relatives.allSatisfy { FileManager.default.fileExists(atPath: data($0).path) }
    }

    /// The reason a test that needs the extended data gives when it is absent.
    static func needs(_ what: String) -> Comment {
        Comment(rawValue: "needs \(what) from FACEREC_TEST_DATA (default ../shared/data): not found at \(extendedData.path)")
    }
}

/// A committed fixture that could not be loaded: its path, what went wrong, and how to remake it.
/// Static fixtures hold a `Result` and hand it out through a throwing accessor, so a missing or
/// broken file fails the tests that need it, with this message, instead of ending the process
/// (and every test after it) in a static initialiser.
struct FixtureError: Error, CustomStringConvertible {
    let path: String
    let underlying: any Error
    let remedy: String

    var description: String { "cannot load fixture \(path): \(underlying) — \(remedy)" }

    /// `load(url)`, its error wrapped with `url` and `remedy`.
    static func loading<T>(_ url: URL, remedy: String, _ load: (URL) throws -> T) -> Result<T, any Error> {
        Result { () throws(any Error) -> T in
            do { return try load(url) } catch { throw FixtureError(path: url.path, underlying: error, remedy: remedy) }
        }
    }
}

/// Runs each test of the suite it marks on the threads of ``HeavyTestExecutor`` instead of
/// Swift's cooperative pool. The pool has one thread per core (two on CI) and runs every async
/// test in the process: a synchronous test that computes for seconds (a FaceNet pass in a debug
/// build) or waits for a child process (`facerec`) holds one of those threads all that time, and
/// the time-bound tests beside it (long polls, leases, servers) stall. With this trait the heavy
/// tests take turns on threads of their own, as many as there are cores, and leave the pool to
/// the rest.
struct OwnThreads: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        try await withTaskExecutorPreference(HeavyTestExecutor.shared) { try await function() }
    }
}

extension Trait where Self == OwnThreads {
    /// The suite's tests run on ``HeavyTestExecutor``, off the cooperative pool (see ``OwnThreads``).
    static var ownThreads: Self { OwnThreads() }
}

/// A task executor with a fixed set of threads (one per core) taking jobs in order: as wide as
/// the cooperative pool, so the heavy suites run no wider than they did on it, but separate
/// from it. A job here is a whole synchronous test body, or the stretch of an async one between
/// two suspensions.
final class HeavyTestExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: `jobs` is only touched under `condition`'s lock.
    static let shared = HeavyTestExecutor(threads: max(2, ProcessInfo.processInfo.activeProcessorCount))

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    private init(threads: Int) {
        for index in 0..<threads {
            let thread = Thread { [unowned self] in self.work() }
            thread.name = "heavy-tests-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func work() {
        let executor = asUnownedTaskExecutor()
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: executor)
        }
    }
}
