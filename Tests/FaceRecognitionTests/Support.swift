import Foundation

/// Paths shared by the tests: the package root, committed fixtures and the shared data set.
enum TestPaths {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures")
    /// `FACEREC_TEST_DATA`, or `../shared/data` beside the package.
    static let sharedData: URL = {
        if let path = ProcessInfo.processInfo.environment["FACEREC_TEST_DATA"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data")
    }()
}
