import Foundation
import Testing

@testable import FaceRecognition

/// With the real vggface2 weights (not downloadable on CI machines), the recognizer must print
/// exactly the course's labels. Runs when FACENET_WEIGHTS points at 20180402-114759-vggface2.pt
/// (or its safetensors conversion).
@Suite("RealWeights: course labels with the vggface2 FaceNet", .ownThreads)
struct RealWeightsTests {
    static let weightsPath = ProcessInfo.processInfo.environment["FACENET_WEIGHTS"]

    @Test("face_images_1000 names equal face_images_1000.csv",
          .enabled(if: weightsPath != nil,
                   "FACENET_WEIGHTS is not set: point it at 20180402-114759-vggface2.pt (docs/TESTING.md) to run this check"),
          .enabled(if: TestPaths.hasData("face_images_1000.csv"), TestPaths.needs("face_images_1000")))
    func courseLabels() throws {
        let recognizer = FaceRecognizer(detector: try MTCNNTestSupport.detector(),
                                        facenet: try FaceNet(contentsOf: URL(fileURLWithPath: Self.weightsPath!)),
                                        gallery: try Gallery.load(contentsOf: GalleryTests.coursePT))
        let csv = try String(contentsOf: TestPaths.data("face_images_1000.csv"), encoding: .utf8)
        var wrong: [String] = []
        var total = 0
        for line in csv.split(separator: "\n").dropFirst() {
            let parts = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let url = TestPaths.data("face_images_1000/\(parts[0]).jpg")
            let faces = try recognizer.recognize(try ImageDecoder.decode(contentsOf: url, options: .init(applyEXIFOrientation: false)))
            total += 1
            if faces.first?.match?.name != parts[1] { wrong.append("\(parts[0]): \(faces.first?.match?.name ?? "none") ≠ \(parts[1])") }
        }
        #expect(total == 1000)
        #expect(wrong.isEmpty, "\(wrong.prefix(10))")
    }
}
