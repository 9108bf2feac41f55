import CloudPipelineTestSupport
import Foundation
import Testing

@testable import FaceRecognition

/// The `facerec` executable as users run it: output formats, exit codes, batch behaviour.
@Suite("facerec CLI", .ownThreads)
struct CLITests {
    /// `facerec` is built next to the test bundle.
    static let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("facerec")

    /// The synthetic FaceNet weights as a safetensors file, written once per test process and
    /// removed when it exits (a failure fails the tests that need the file).
    static var weightsFile: URL { get throws { try writtenWeights.get() } }
    private static let writtenWeights = Result {
        let url = ProcessScratchFiles.url("facerec-cli-weights.safetensors")
        try SafeTensors.write(try FaceNetParityTests.weights, to: url)
        return url
    }

    /// A fresh scratch folder; the caller removes it.
    static func scratch(_ name: String = "cli") throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Runs `facerec`; `environment` replaces the process's, `directory` is its working directory.
    static func run(_ arguments: [String], environment: [String: String]? = nil, in directory: URL? = nil)
        throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = directory }
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

    @Test("identify prints STEM:NAME like facenet-pytorch; a bad image is reported and the rest still printed",
          .enabled(if: TestPaths.hasData("face_images_1000/test_000.jpg"), TestPaths.needs("face_images_1000")))
    func identify() throws {
        let faces = TestPaths.data("face_images_1000")
        let stems = ["test_000", "test_001", "test_002", "test_005", "test_008", "test_013"]
        let broken = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(getpid()).jpg")
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0, 1, 2]).write(to: broken)
        defer { try? FileManager.default.removeItem(at: broken) }
        let flat = FileManager.default.temporaryDirectory.appendingPathComponent("flat-\(getpid()).png")
        try ImageEncoder.png(try RGBImage(width: 120, height: 90, pixels: [UInt8](repeating: 77, count: 120 * 90 * 3))).write(to: flat)
        defer { try? FileManager.default.removeItem(at: flat) }

        let images = stems.map { faces.appendingPathComponent("\($0).jpg").path } + [broken.path, flat.path]
        // --threshold none: always the nearest entry, as the course's reference pipeline does.
        let result = try Self.run(["identify", "--weights", Self.weightsFile.path, "--threshold", "none",
                                   "--gallery", GalleryTests.coursePT.path] + Self.mtcnnArguments() + images)
        #expect(result.status == 4, "stderr: \(result.stderr)")
        #expect(result.stderr.contains(broken.path))
        let agreement = try RecognitionAgreementTests.expected
        let expected = stems.map { "\($0):\(agreement[$0]!.name)" } + ["flat-\(getpid()):NoFace"]
        #expect(result.stdout.split(separator: "\n").map(String.init) == expected)
    }

    @Test("missing weights, a bad gallery and missing MTCNN weights have distinct exit codes")
    func exitCodes() throws {
        let image = TestPaths.data("face_images_100/test_00.jpg").path
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
        let c = try #require(try FaceNetParityTests.goldens.cases.first { $0.height == 160 && $0.inputs.count == 1 })
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

    @Test("enroll builds a gallery from people/NAME/*.jpg and names every skipped image",
          .enabled(if: TestPaths.hasData("face_images_1000/test_000.jpg"), TestPaths.needs("face_images_1000")))
    func enroll() throws {
        let fm = FileManager.default
        let root = fm.temporaryDirectory.appendingPathComponent("people-\(getpid())")
        defer { try? fm.removeItem(at: root) }
        let faces = TestPaths.data("face_images_1000")
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

/// `gallery add|remove|import` never rewrite a file facerec did not write: the course data.pt (a
/// torch pickle) is refused without `--out`, with exit 5 and a one-line reason, and stays
/// byte-for-byte the same whatever is asked.
@Suite("facerec gallery: torch files are never rewritten", .ownThreads)
struct CLIGalleryTorchTests {
    /// Whether `python3 -c "import torch"` works here (checked once, at test time).
    static let torchAvailable: Bool = (try? python(["-c", "import torch"]).status == 0) ?? false

    static func python(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let err = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        try process.run()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stderr, as: UTF8.self))
    }

    /// A fresh directory holding a writable copy of the course data.pt; the caller removes it.
    static func scratchCopy() throws -> (dir: URL, pt: URL) {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("gallery-torch-\(UUID())")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        let pt = dir.appendingPathComponent("data.pt")
        try Data(contentsOf: GalleryTests.coursePT).write(to: pt)
        return (dir, pt)
    }

    static let face = TestPaths.data("face_images_100/test_01.jpg").path

    /// The refusal is one line naming the file, the reason and the fix.
    static func expectRefusal(_ result: (status: Int32, stdout: String, stderr: String), naming file: URL,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == 5, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(file.path), sourceLocation: sourceLocation)
        #expect(result.stderr.contains("torch checkpoint"), sourceLocation: sourceLocation)
        #expect(result.stderr.contains("--out data.safetensors"), sourceLocation: sourceLocation)
    }

    @Test("gallery remove data.pt NAME without --out: exit 5, a one-line reason, data.pt unchanged")
    func removeRefused() throws {
        let (dir, pt) = try Self.scratchCopy()
        defer { try? FileManager.default.removeItem(at: dir) }
        let before = try Data(contentsOf: pt)
        let loaded = try Gallery.load(contentsOf: pt)
        #expect(loaded.identities.contains("Paul"))

        Self.expectRefusal(try CLITests.run(["gallery", "remove", pt.path, "Paul"]), naming: pt)
        #expect(try Data(contentsOf: pt) == before)
        #expect(try Gallery.loadDetectingFormat(contentsOf: pt).format == .torch)
        #expect(try Gallery.load(contentsOf: pt) == loaded)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["data.pt"])
    }

    @Test("gallery remove data.pt NAME --out x.safetensors writes everything but NAME; data.pt unchanged")
    func removeToOut() throws {
        let (dir, pt) = try Self.scratchCopy()
        defer { try? FileManager.default.removeItem(at: dir) }
        let before = try Data(contentsOf: pt)
        let original = try Gallery.load(contentsOf: pt)
        let out = dir.appendingPathComponent("x.safetensors")

        let result = try CLITests.run(["gallery", "remove", pt.path, "Paul", "--out", out.path])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(try Data(contentsOf: pt) == before)
        let (edited, format) = try Gallery.loadDetectingFormat(contentsOf: out)
        #expect(format == .safetensors)
        var expected = original
        let removed = expected.remove(name: "Paul")
        #expect(removed == 1)
        #expect(!edited.identities.contains("Paul"))
        #expect(edited == expected)
        #expect(edited.count == original.count - 1)

        // --out also works from a safetensors gallery, which is left as it was.
        let copy = dir.appendingPathComponent("y.safetensors")
        let third = try CLITests.run(["gallery", "remove", out.path, "Gerry", "--out", copy.path])
        #expect(third.status == 0, "stderr: \(third.stderr)")
        #expect(try Gallery.load(contentsOf: out) == edited)
        #expect(!(try Gallery.load(contentsOf: copy)).identities.contains("Gerry"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["data.pt", "x.safetensors", "y.safetensors"])
    }

    @Test("gallery add on data.pt without --out is refused before the weights are read; with --out it adds")
    func addRefusedThenToOut() throws {
        let (dir, pt) = try Self.scratchCopy()
        defer { try? FileManager.default.removeItem(at: dir) }
        let before = try Data(contentsOf: pt)
        // Missing weights would be exit 3: exit 5 shows the gallery was checked first.
        Self.expectRefusal(try CLITests.run(["gallery", "add", pt.path, "--name", "Newcomer",
                                             "--weights", "/nonexistent/facenet.pt", Self.face]), naming: pt)
        Self.expectRefusal(try CLITests.run(["gallery", "add", pt.path, "--name", "Newcomer",
                                             "--weights", CLITests.weightsFile.path] + CLITests.mtcnnArguments() + [Self.face]),
                           naming: pt)
        #expect(try Data(contentsOf: pt) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["data.pt"])

        let out = dir.appendingPathComponent("people.safetensors")
        let added = try CLITests.run(["gallery", "add", pt.path, "--name", "Newcomer", "--out", out.path,
                                      "--weights", CLITests.weightsFile.path] + CLITests.mtcnnArguments() + [Self.face])
        #expect(added.status == 0, "stderr: \(added.stderr)")
        #expect(try Data(contentsOf: pt) == before)
        let original = try Gallery.load(contentsOf: pt)
        let edited = try Gallery.load(contentsOf: out)
        #expect(edited.names == original.names + ["Newcomer"])
        #expect(Array(edited.embeddings.prefix(original.embeddings.count)) == original.embeddings)
    }

    @Test("a .pt output name is refused: gallery remove --out, gallery add, gallery import, enroll --out")
    func ptOutputRefused() throws {
        let (dir, pt) = try Self.scratchCopy()
        defer { try? FileManager.default.removeItem(at: dir) }
        let before = try Data(contentsOf: pt)
        let newPT = dir.appendingPathComponent("people.pt")
        let runs = [
            try CLITests.run(["gallery", "remove", pt.path, "Paul", "--out", newPT.path]),
            try CLITests.run(["gallery", "remove", pt.path, "Paul", "--out", pt.path]),
            try CLITests.run(["gallery", "add", newPT.path, "--name", "X", "--weights", "/nonexistent/facenet.pt", Self.face]),
            try CLITests.run(["gallery", "import", pt.path, newPT.path]),
            try CLITests.run(["enroll", "--weights", "/nonexistent/facenet.pt", "--out", pt.path, dir.path]),
        ]
        for result in runs {
            #expect(result.status == 5, "stderr: \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "stderr: \(result.stderr)")
            #expect(result.stderr.contains("safetensors"), "stderr: \(result.stderr)")
        }
        #expect(try Data(contentsOf: pt) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["data.pt"])
    }

    @Test("gallery import refuses its own input and existing non-gallery outputs, and never changes the input")
    func importOutputs() throws {
        let fm = FileManager.default
        let (dir, pt) = try Self.scratchCopy()
        defer { try? fm.removeItem(at: dir) }
        let before = try Data(contentsOf: pt)
        let notes = dir.appendingPathComponent("notes.safetensors")
        try Data("my notes".utf8).write(to: notes)
        let link = dir.appendingPathComponent("link.safetensors")
        try fm.createSymbolicLink(atPath: link.path, withDestinationPath: "data.pt")

        for output in [pt, notes, link] {
            let result = try CLITests.run(["gallery", "import", pt.path, output.path])
            #expect(result.status == 5, "stderr: \(result.stderr)")
            #expect(result.stderr.contains(output.path), "stderr: \(result.stderr)")
        }
        #expect(try Data(contentsOf: pt) == before)
        #expect(try Data(contentsOf: notes) == Data("my notes".utf8))

        let out = dir.appendingPathComponent("people.safetensors")
        #expect(try CLITests.run(["gallery", "import", pt.path, out.path]).status == 0)
        // Importing again over a facerec gallery replaces it; a gallery is never imported onto itself.
        #expect(try CLITests.run(["gallery", "import", pt.path, out.path]).status == 0)
        #expect(try CLITests.run(["gallery", "import", out.path, out.path]).status == 5)
        #expect(try Gallery.load(contentsOf: out) == Gallery.load(contentsOf: pt))
        #expect(try Data(contentsOf: pt) == before)
    }

    @Test("torch.load still reads data.pt after refused and --out edits",
          .enabled(if: CLIGalleryTorchTests.torchAvailable, "python3 cannot import torch: the torch.load check is skipped"))
    func torchStillLoads() throws {
        let (dir, pt) = try Self.scratchCopy()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try CLITests.run(["gallery", "remove", pt.path, "Paul"]).status == 5)
        #expect(try CLITests.run(["gallery", "add", pt.path, "--name", "X", "--weights", "/nonexistent/facenet.pt", Self.face]).status == 5)
        #expect(try CLITests.run(["gallery", "import", pt.path, pt.path]).status == 5)
        #expect(try CLITests.run(["gallery", "remove", pt.path, "Paul", "--out", dir.appendingPathComponent("x.safetensors").path]).status == 0)
        let check = try Self.python(["-c", "import sys, torch; e, n = torch.load(sys.argv[1]); assert len(e) == len(n) == 90, (len(e), len(n))", pt.path])
        #expect(check.status == 0, "torch.load failed: \(check.stderr)")
    }
}
