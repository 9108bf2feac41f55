import Foundation
import Testing

@testable import FaceRecognition

/// The `facerec` executable as users run it: output formats, exit codes, batch behaviour.
@Suite("facerec CLI")
struct CLITests {
    /// `facerec` is built next to the test bundle.
    static let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("facerec")

    /// The synthetic FaceNet weights as a safetensors file, written once per test process.
    static let weightsFile: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("facerec-cli-\(getpid()).safetensors")
        try! SafeTensors.write(FaceNetParityTests.weights, to: url)
        return url
    }()

    static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    static func mtcnnArguments() throws -> [String] {
        let dir = try #require(MTCNNTestSupport.weightsDirectory)
        return ["--mtcnn-weights", dir.path]
    }

    @Test("identify prints STEM:NAME like facenet-pytorch; a bad image is reported and the rest still printed")
    func identify() throws {
        let faces = TestPaths.sharedData.appendingPathComponent("face_images_1000")
        let stems = ["test_000", "test_001", "test_002", "test_005", "test_008", "test_013"]
        let broken = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(getpid()).jpg")
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0, 1, 2]).write(to: broken)
        defer { try? FileManager.default.removeItem(at: broken) }
        let flat = FileManager.default.temporaryDirectory.appendingPathComponent("flat-\(getpid()).png")
        try ImageEncoder.png(try RGBImage(width: 120, height: 90, pixels: [UInt8](repeating: 77, count: 120 * 90 * 3))).write(to: flat)
        defer { try? FileManager.default.removeItem(at: flat) }

        let images = stems.map { faces.appendingPathComponent("\($0).jpg").path } + [broken.path, flat.path]
        let result = try Self.run(["identify", "--weights", Self.weightsFile.path,
                                   "--gallery", GalleryTests.coursePT.path] + Self.mtcnnArguments() + images)
        #expect(result.status == 4, "stderr: \(result.stderr)")
        #expect(result.stderr.contains(broken.path))
        let expected = stems.map { "\($0):\(RecognitionAgreementTests.expected[$0]!.name)" } + ["flat-\(getpid()):NoFace"]
        #expect(result.stdout.split(separator: "\n").map(String.init) == expected)
    }

    @Test("missing weights, a bad gallery and missing MTCNN weights have distinct exit codes")
    func exitCodes() throws {
        let image = TestPaths.sharedData.appendingPathComponent("face_images_100/test_00.jpg").path
        let gallery = GalleryTests.coursePT.path
        let missing = try Self.run(["identify", "--weights", "/nonexistent.pt", "--gallery", gallery, image])
        #expect(missing.status == 3)
        #expect(missing.stderr.contains("weights/README.md"))
        let badGallery = try Self.run(["identify", "--weights", Self.weightsFile.path, "--gallery", image]
                                      + Self.mtcnnArguments() + [image])
        #expect(badGallery.status == 5)
        let noMTCNN = try Self.run(["identify", "--weights", Self.weightsFile.path, "--gallery", gallery,
                                    "--mtcnn-weights", "/nonexistent", image])
        #expect(noMTCNN.status == 6)
        #expect(noMTCNN.stderr.contains("fetch_mtcnn_weights.sh"))
    }

    @Test("embed --no-detect prints facenet-pytorch's embedding as JSON")
    func embedNoDetect() throws {
        let c = try #require(FaceNetParityTests.goldens.cases.first { $0.height == 160 && $0.inputs.count == 1 })
        let crop = FaceNetParityTests.fixtures.appendingPathComponent(c.inputs[0])
        let result = try Self.run(["embed", "--weights", Self.weightsFile.path, "--no-detect", crop.path])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["image"] as? String == crop.path)
        let embedding = try #require(object["embedding"] as? [Double])
        #expect(embedding.count == 512)
        let worst = zip(embedding, c.embeddings[0]).map { abs(Float($0) - $1) }.max() ?? 1
        #expect(worst <= 1e-4)
    }

    @Test("gallery import, list, remove round trip")
    func galleryCommands() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("g-\(getpid()).safetensors")
        defer { try? FileManager.default.removeItem(at: out) }
        #expect(try Self.run(["gallery", "import", GalleryTests.coursePT.path, out.path]).status == 0)
        let list = try Self.run(["gallery", "list", out.path])
        #expect(list.status == 0)
        #expect(list.stdout.contains("Gerry\t"))
        #expect(try Self.run(["gallery", "remove", out.path, "Gerry"]).status == 0)
        #expect(!(try Self.run(["gallery", "list", out.path]).stdout.contains("Gerry\t")))
        #expect(try Self.run(["gallery", "remove", out.path, "Gerry"]).status == 1)
    }

    @Test("enroll builds a gallery from people/NAME/*.jpg and names every skipped image")
    func enroll() throws {
        let fm = FileManager.default
        let root = fm.temporaryDirectory.appendingPathComponent("people-\(getpid())")
        defer { try? fm.removeItem(at: root) }
        let faces = TestPaths.sharedData.appendingPathComponent("face_images_1000")
        for (name, stems) in [("Ainsworth", ["test_001", "test_011"]), ("JK", ["test_000"])] {
            let dir = root.appendingPathComponent(name)
            try fm.createDirectory(at: dir, withIntermediateDirectories: true)
            for stem in stems { try fm.copyItem(at: faces.appendingPathComponent("\(stem).jpg"), to: dir.appendingPathComponent("\(stem).jpg")) }
        }
        let flat = root.appendingPathComponent("JK/empty.png")
        try ImageEncoder.png(try RGBImage(width: 100, height: 100, pixels: [UInt8](repeating: 200, count: 100 * 100 * 3))).write(to: flat)
        let out = root.appendingPathComponent("gallery.safetensors")
        let result = try Self.run(["enroll", "--weights", Self.weightsFile.path, "--out", out.path] + Self.mtcnnArguments() + [root.path])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("skipping \(flat.path): no face"))
        let gallery = try Gallery.load(contentsOf: out)
        #expect(gallery.names == ["Ainsworth", "Ainsworth", "JK"])
    }
}
