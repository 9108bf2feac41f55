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
