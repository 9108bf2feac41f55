import Foundation
import Testing

@testable import FaceRecognition

/// `--precision int8` in `facerec embed` and `identify`.
@Suite("facerec --precision int8", .ownThreads)
struct CLIInt8Tests {
    @Test("embed --no-detect --precision int8 prints an embedding close to float32's; without --calibration it is refused")
    func embedInt8() throws {
        let c = try #require(try FaceNetParityTests.goldens.cases.first { $0.height == 160 && $0.inputs.count == 1 })
        let crop = FaceNetParityTests.fixtures.appendingPathComponent(c.inputs[0])
        // Three of face_images_100's ten distinct photos keep the debug-build test short.
        let calibration = (0..<3).map { TestPaths.data(String(format: "face_images_100/test_%02d.jpg", $0)).path }
        let result = try CLITests.run(["embed", "--weights", CLITests.weightsFile.path, "--no-detect", "--precision", "int8"]
                                      + calibration.flatMap { ["--calibration", $0] } + [crop.path])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("calibrating on 3 face crops"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let embedding = try #require(object["embedding"] as? [Double]).map { Float($0) }
        try #require(embedding.count == 512)
        let cosine = zip(embedding, c.embeddings[0]).reduce(0) { $0 + $1.0 * $1.1 }
        // Calibrated on face_images_100 resized to 160 (blurrier than this crop): the CLI wiring is
        // what is checked here; FaceNetInt8Tests bounds the accuracy.
        #expect(cosine >= 0.95)
        #expect(cosine < 0.99999) // int8, not float32

        let refused = try CLITests.run(["embed", "--weights", CLITests.weightsFile.path, "--no-detect",
                                        "--precision", "int8", crop.path])
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("--calibration"))
        let stray = try CLITests.run(["embed", "--weights", CLITests.weightsFile.path, "--no-detect",
                                      "--calibration", calibration[0], crop.path])
        #expect(stray.status == 64)
        let unknown = try CLITests.run(["embed", "--weights", CLITests.weightsFile.path, "--precision", "int4", crop.path])
        #expect(unknown.status == 64)
        // An empty or missing calibration folder: one line saying why, with the path once.
        let empty = try CLITests.scratch("int8-empty")
        defer { try? FileManager.default.removeItem(at: empty) }
        for folder in [empty.path, empty.appendingPathComponent("missing").path] {
            let nothing = try CLITests.run(["embed", "--weights", CLITests.weightsFile.path, "--no-detect", "--precision", "int8",
                                            "--calibration", folder, crop.path])
            #expect(nothing.status == 64)
            #expect(nothing.stderr.split(separator: "\n").count == 1, "\(nothing.stderr)")
            #expect(nothing.stderr.hasPrefix("facerec: --calibration: no image to calibrate on (\(folder): "), "\(nothing.stderr)")
        }
    }

    @Test("identify --precision int8 names four sample faces as float32 does")
    func identifyInt8() throws {
        let faces = TestPaths.data("face_images_100")
        let images = (0..<4).map { faces.appendingPathComponent(String(format: "test_%02d.jpg", $0)).path }
        let common = ["identify", "--weights", try CLITests.weightsFile.path, "--threshold", "none",
                      "--gallery", GalleryTests.coursePT.path] + (try CLITests.mtcnnArguments())
        let float = try CLITests.run(common + images)
        let calibration = (5..<8).flatMap { ["--calibration", faces.appendingPathComponent(String(format: "test_%02d.jpg", $0)).path] }
        let int8 = try CLITests.run(common + ["--precision", "int8"] + calibration + images)
        #expect(float.status == 0, "stderr: \(float.stderr)")
        #expect(int8.status == 0, "stderr: \(int8.stderr)")
        #expect(int8.stdout.split(separator: "\n").count == 4)
        #expect(int8.stdout == float.stdout)
    }
}
