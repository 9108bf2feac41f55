import Foundation
import Testing

@testable import FaceRecognition

/// The contract every `facerec` subcommand keeps (README, "The facerec tool"): exit statuses,
/// one `facerec: ` prefix, file errors in plain words naming the path once, CLI flags (never
/// library names) in messages, output formats chosen by extension.
@Suite("facerec CLI contract", .ownThreads)
struct CLIContractTests {
    typealias Run = (status: Int32, stdout: String, stderr: String)

    static var weights: String { get throws { try CLITests.weightsFile.path } }
    static let face = TestPaths.data("face_images_100/test_00.jpg").path
    static let face2 = TestPaths.data("face_images_100/test_01.jpg").path
    static let coursePT = GalleryTests.coursePT.path

    static func run(_ arguments: [String], environment: [String: String]? = nil, in directory: URL? = nil) throws -> Run {
        try CLITests.run(arguments, environment: environment, in: directory)
    }
    static func mtcnn() throws -> [String] { try CLITests.mtcnnArguments() }

    /// Every stderr line of a failing run is ours (`facerec: `) or ArgumentParser's usage hint, and
    /// no Foundation error text or library parameter name leaks through.
    static func expectClean(_ result: Run, sourceLocation: SourceLocation = #_sourceLocation) {
        for line in result.stderr.split(separator: "\n") {
            let ok = line.hasPrefix("facerec: ") || line.hasPrefix("Usage: ") || line.hasPrefix("  See '")
                || line.hasPrefix("Help: ") || line.hasPrefix("        ")
            #expect(ok, "stderr line without the facerec: prefix: \(line)", sourceLocation: sourceLocation)
        }
        for leak in ["Error:", "NSCocoaErrorDomain", "Code=", "UserInfo", "NSPOSIX", "Error Domain", "minFaceSize",
                     "overwrite: true", "weightsDir", "imageSize"] {
            #expect(!result.stderr.contains(leak), "stderr leaks '\(leak)': \(result.stderr)", sourceLocation: sourceLocation)
        }
    }

    /// A folder with one good face image and one file that is not an image.
    static func mixedInputs() throws -> (dir: URL, good: String, bad: String) {
        let dir = try CLITests.scratch("mixed")
        let good = dir.appendingPathComponent("good.jpg")
        try FileManager.default.copyItem(atPath: face, toPath: good.path)
        let bad = dir.appendingPathComponent("text.jpg")
        try Data("not an image\n".utf8).write(to: bad)
        return (dir, good.path, bad.path)
    }

    @Test("without --mtcnn-weights the library's lookup decides: $FACEREC_MTCNN_WEIGHTS, then ./weights; none found lists every folder tried")
    func detectorWeightsLookup() throws {
        let dir = try CLITests.scratch("lookup")
        defer { try? FileManager.default.removeItem(at: dir) }
        let mtcnnFolder = try #require(try Self.mtcnn().last)
        // A bare environment: no FACEREC_* from the test runner, a data folder of our own.
        let bare = ["PATH": "/usr/bin:/bin", "XDG_DATA_HOME": dir.appendingPathComponent("data").path]

        let fromEnvironment = try Self.run(["detect", Self.face], environment: bare.merging(["FACEREC_MTCNN_WEIGHTS": mtcnnFolder]) { $1 }, in: dir)
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)")

        try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("weights"), withDestinationURL: URL(fileURLWithPath: mtcnnFolder))
        let fromWorkingDirectory = try Self.run(["detect", Self.face], environment: bare, in: dir)
        #expect(fromWorkingDirectory.status == 0, "\(fromWorkingDirectory.stderr)")
        #expect(fromWorkingDirectory.stdout == fromEnvironment.stdout)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("weights"))

        let nowhere = try Self.run(["detect", Self.face], environment: bare, in: dir)
        #expect(nowhere.status == 6)
        #expect(nowhere.stderr.hasPrefix("facerec: MTCNN weights not found in "), "\(nowhere.stderr)")
        for folder in [dir.appendingPathComponent("weights").path, dir.appendingPathComponent("data/facerec/weights").path] {
            #expect(nowhere.stderr.contains(folder), "\(folder) not named in: \(nowhere.stderr)")
        }
        Self.expectClean(nowhere)
    }

    @Test("missing MTCNN weights exit 6 in every subcommand that detects, naming --mtcnn-weights")
    func missingDetectorWeights() throws {
        let dir = try CLITests.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let people = dir.appendingPathComponent("people/Ada")
        try FileManager.default.createDirectory(at: people, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.face, toPath: people.appendingPathComponent("a.jpg").path)
        let none = ["--mtcnn-weights", "/nonexistent/mtcnn"]
        let runs: [(String, [String])] = [
            ("detect", ["detect"] + none + [Self.face]),
            ("crop", ["crop"] + none + [Self.face, dir.appendingPathComponent("c.png").path]),
            ("crop (old --weights-dir)", ["crop", "--weights-dir", "/nonexistent/mtcnn", Self.face, dir.appendingPathComponent("c.png").path]),
            ("identify", ["identify", "--weights", try Self.weights, "--gallery", Self.coursePT] + none + [Self.face]),
            ("embed", ["embed", "--weights", try Self.weights] + none + [Self.face]),
            ("verify", ["verify", "--weights", try Self.weights] + none + [Self.face, Self.face2]),
            ("enroll", ["enroll", "--weights", try Self.weights, "--out", dir.appendingPathComponent("g.safetensors").path]
                + none + [dir.appendingPathComponent("people").path]),
            ("gallery add", ["gallery", "add", dir.appendingPathComponent("h.safetensors").path, "--name", "Ada",
                             "--weights", try Self.weights] + none + [Self.face]),
        ]
        for (name, arguments) in runs {
            let result = try Self.run(arguments)
            #expect(result.status == 6, "\(name): \(result.stderr)")
            #expect(result.stderr.hasPrefix("facerec: MTCNN weights not found"), "\(name): \(result.stderr)")
            #expect(result.stderr.contains("--mtcnn-weights"), "\(name): \(result.stderr)")
            #expect(!result.stderr.contains("--weights-dir"), "\(name): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(name): \(result.stderr)")
            Self.expectClean(result)
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("g.safetensors").path))
    }

    @Test("--weights-dir is still accepted (hidden) and --mtcnn-weights is listed in every detecting command's help")
    func mtcnnFlag() throws {
        let old = try Self.run(["detect", "--weights-dir", try Self.mtcnn()[1], Self.face])
        #expect(old.status == 0, "\(old.stderr)")
        for command in ["detect", "crop", "identify", "embed", "verify", "enroll"] {
            let help = try Self.run([command, "--help"])
            #expect(help.status == 0)
            #expect(help.stdout.contains("--mtcnn-weights"), "\(command)")
            #expect(!help.stdout.contains("--weights-dir"), "\(command)")
        }
    }

    @Test("missing or wrong FaceNet weights exit 3 in every subcommand that embeds")
    func missingFaceNetWeights() throws {
        let dir = try CLITests.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let people = dir.appendingPathComponent("people/Ada")
        try FileManager.default.createDirectory(at: people, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.face, toPath: people.appendingPathComponent("a.jpg").path)
        for weights in ["/nonexistent/facenet.pt", Self.face, dir.path] {
            let w = ["--weights", weights]
            let runs: [[String]] = [
                ["identify", "--gallery", Self.coursePT] + w + (try Self.mtcnn()) + [Self.face],
                ["embed"] + w + (try Self.mtcnn()) + [Self.face],
                ["embed", "--no-detect"] + w + [Self.face],
                ["verify"] + w + (try Self.mtcnn()) + [Self.face, Self.face2],
                ["enroll", "--out", dir.appendingPathComponent("g.safetensors").path] + w + (try Self.mtcnn()) + [dir.appendingPathComponent("people").path],
                ["gallery", "add", dir.appendingPathComponent("h.safetensors").path, "--name", "Ada"] + w + (try Self.mtcnn()) + [Self.face],
            ]
            for arguments in runs {
                let result = try Self.run(arguments)
                #expect(result.status == 3, "\(arguments): \(result.stderr)")
                #expect(result.stderr.contains(weights), "\(result.stderr)")
                #expect(result.stderr.components(separatedBy: weights).count == 2, "path printed once: \(result.stderr)")
                Self.expectClean(result)
            }
        }
        let directory = try Self.run(["embed", "--no-detect", "--weights", dir.path, Self.face])
        #expect(directory.stderr.contains("is a directory"), "\(directory.stderr)")
    }

    @Test("a missing or wrong gallery exits 5")
    func badGallery() throws {
        for gallery in ["/nonexistent/data.pt", Self.face, "/tmp"] {
            let identify = try Self.run(["identify", "--weights", try Self.weights, "--gallery", gallery] + (try Self.mtcnn()) + [Self.face])
            #expect(identify.status == 5, "\(identify.stderr)")
            Self.expectClean(identify)
            let list = try Self.run(["gallery", "list", gallery])
            #expect(list.status == 5, "\(list.stderr)")
            #expect(list.stderr.components(separatedBy: gallery).count == 2, "path printed once: \(list.stderr)")
            Self.expectClean(list)
        }
        #expect(try Self.run(["gallery", "list", "/nonexistent/data.pt"]).stderr == "facerec: gallery /nonexistent/data.pt: no such file\n")
        #expect(try Self.run(["gallery", "list", "/tmp"]).stderr == "facerec: gallery /tmp: is a directory\n")
    }

    @Test("good and unreadable inputs together exit 4 in every subcommand; only unreadable ones exit 1")
    func mixedInputsExit4() throws {
        let (dir, good, bad) = try Self.mixedInputs()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("missing.jpg").path
        let out = dir.appendingPathComponent("out").path
        let people = dir.appendingPathComponent("people/Ada")
        try FileManager.default.createDirectory(at: people, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: good, toPath: people.appendingPathComponent("a.jpg").path)
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0, 1]).write(to: people.appendingPathComponent("broken.jpg"))
        let commands: [(String, ([String]) throws -> [String])] = [
            ("detect", { ["detect"] + (try Self.mtcnn()) + $0 }),
            ("identify", { ["identify", "--weights", try Self.weights, "--gallery", Self.coursePT] + (try Self.mtcnn()) + $0 }),
            ("embed", { ["embed", "--weights", try Self.weights] + (try Self.mtcnn()) + $0 }),
            ("embed --no-detect", { ["embed", "--no-detect", "--weights", try Self.weights] + $0 }),
            ("crop --out-dir", { ["crop", "--out-dir", out] + (try Self.mtcnn()) + $0 }),
            ("gallery add", { ["gallery", "add", dir.appendingPathComponent("g-\(UUID()).safetensors").path, "--name", "Ada",
                               "--weights", try Self.weights] + (try Self.mtcnn()) + $0 }),
        ]
        for (name, arguments) in commands {
            let mixed = try Self.run(try arguments([good, bad, missing]))
            #expect(mixed.status == 4, "\(name): \(mixed.stderr)")
            #expect(mixed.stderr.contains("facerec: \(bad): not a JPEG or PNG image\n"), "\(name): \(mixed.stderr)")
            #expect(mixed.stderr.contains("facerec: \(missing): no such file\n"), "\(name): \(mixed.stderr)")
            #expect(mixed.stderr.components(separatedBy: bad).count == 2, "\(name): path printed once: \(mixed.stderr)")
            Self.expectClean(mixed)
            let allBad = try Self.run(try arguments([bad, missing]))
            #expect(allBad.status == 1, "\(name): \(allBad.stderr)")
            #expect(allBad.stdout.isEmpty, "\(name)")
            Self.expectClean(allBad)
        }
        let enroll = try Self.run(["enroll", "--weights", try Self.weights, "--out", dir.appendingPathComponent("e.safetensors").path]
                                  + (try Self.mtcnn()) + [dir.appendingPathComponent("people").path])
        #expect(enroll.status == 4, "\(enroll.stderr)")
        #expect(try Gallery.load(contentsOf: dir.appendingPathComponent("e.safetensors")).names == ["Ada"])
    }

    @Test("option values are checked with the flag's name: --min-face-size 0, --threshold -1, --size, --top-k")
    func optionValues() throws {
        let cases: [([String], String)] = [
            (["detect", "--min-face-size", "0", Self.face], "--min-face-size must be a positive number of pixels, got 0"),
            (["crop", "--min-face-size", "-3", Self.face, "/tmp/x.png"], "--min-face-size"),
            (["identify", "--weights", try Self.weights, "--gallery", Self.coursePT, "--threshold", "-1", Self.face],
             "--threshold must be a distance of 0 or more (or none), got -1"),
            (["verify", "--weights", try Self.weights, "--threshold", "-0.5", Self.face, Self.face2], "--threshold"),
            (["identify", "--weights", try Self.weights, "--gallery", Self.coursePT, "--threshold", "near", Self.face], "--threshold"),
            (["crop", "--size", "0", Self.face, "/tmp/x.png"], "--size must lie in 1...4096, got 0"),
            (["identify", "--weights", try Self.weights, "--gallery", Self.coursePT, "--top-k", "3", Self.face], "--json"),
            (["detect", "--bogus", Self.face], "Unknown option '--bogus'"),
            (["gallery", "list"], "Missing expected argument"),
            (["convert", "only-one.pt"], "Missing expected argument"),
            (["enroll", "--weights", try Self.weights], "Missing expected argument"),
        ]
        for (arguments, message) in cases {
            let result = try Self.run(arguments)
            #expect(result.status == 64, "\(arguments): \(result.stderr)")
            #expect(result.stderr.hasPrefix("facerec: "), "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("Usage: facerec"), "\(arguments): \(result.stderr)")
            #expect(!result.stderr.contains("Missing value"), "\(arguments): \(result.stderr)")
            Self.expectClean(result)
        }
    }

    @Test("file errors in plain words: a folder, a missing file, a missing output folder")
    func fileErrors() throws {
        let dir = try CLITests.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let mtcnn = try Self.mtcnn()
        // A folder where a file is needed.
        let crop = try Self.run(["crop"] + mtcnn + [dir.path, dir.appendingPathComponent("c.png").path])
        #expect(crop.status == 1)
        #expect(crop.stderr == "facerec: \(dir.path): is a directory\n")
        // A missing input.
        let missing = try Self.run(["crop"] + mtcnn + ["/nonexistent/x.jpg", dir.appendingPathComponent("c.png").path])
        #expect(missing.stderr == "facerec: /nonexistent/x.jpg: no such file\n")
        // An output in a folder that does not exist: the output is blamed, not the input.
        let target = dir.appendingPathComponent("missing/c.png").path
        let noFolder = try Self.run(["crop"] + mtcnn + [Self.face, target])
        #expect(noFolder.status == 1)
        #expect(noFolder.stderr == "facerec: cannot create \(target): no such directory\n")
        // enroll on a folder that does not exist.
        let enroll = try Self.run(["enroll", "--weights", try Self.weights, "--out", dir.appendingPathComponent("g.safetensors").path,
                                   dir.appendingPathComponent("nobody").path])
        #expect(enroll.status == 1)
        #expect(enroll.stderr == "facerec: \(dir.appendingPathComponent("nobody").path): no such file\n")
        // convert: an existing output needs --force (the flag, not the library parameter).
        let out = dir.appendingPathComponent("w.safetensors")
        try Data("x".utf8).write(to: out)
        let convert = try Self.run(["convert", try Self.mtcnn()[1] + "/pnet.pt", out.path])
        #expect(convert.status == 1)
        #expect(convert.stderr == "facerec: \(out.path) exists; pass --force to replace it\n")
        let converted = try Self.run(["convert", "--force", try Self.mtcnn()[1] + "/pnet.pt", out.path])
        #expect(converted.status == 0, "\(converted.stderr)")
        for result in [crop, missing, noFolder, enroll, convert] { Self.expectClean(result) }
    }

    @Test("output images: .png is written as PNG, .jpg/.jpeg and unknown extensions are refused (64)")
    func outputFormats() throws {
        let dir = try CLITests.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let mtcnn = try Self.mtcnn()
        for name in ["c.jpg", "c.JPEG", "c.gif", "c"] {
            let path = dir.appendingPathComponent(name).path
            for arguments in [["crop"] + mtcnn + [Self.face, path], ["detect", "--annotate", path] + mtcnn + [Self.face]] {
                let result = try Self.run(arguments)
                #expect(result.status == 64, "\(arguments): \(result.stderr)")
                #expect(result.stderr.contains(path), "\(result.stderr)")
                #expect(result.stderr.contains("use a .png name"), "\(result.stderr)")
                #expect(!FileManager.default.fileExists(atPath: path))
                Self.expectClean(result)
            }
        }
        let png = dir.appendingPathComponent("c.png")
        #expect(try Self.run(["crop"] + mtcnn + [Self.face, png.path]).status == 0)
        #expect(try Data(contentsOf: png).prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        let decoded = try ImageDecoder.decode(contentsOf: png)
        #expect(decoded.width == 240 && decoded.height == 240)
    }

    @Test("--version prints the package version; every subcommand takes --quiet")
    func versionAndQuiet() throws {
        let version = try Self.run(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout == "facerec \(FaceRecognitionPackage.version)\n")
        for command in [["identify"], ["verify"], ["embed"], ["detect"], ["crop"], ["enroll"], ["gallery", "list"],
                        ["gallery", "import"], ["gallery", "add"], ["gallery", "remove"], ["convert"], ["evaluate"]] {
            let help = try Self.run(command + ["--help"])
            #expect(help.status == 0, "\(command)")
            #expect(help.stdout.contains("-q, --quiet"), "\(command): \(help.stdout)")
        }
        let dir = try CLITests.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("g.safetensors").path
        let loud = try Self.run(["gallery", "import", Self.coursePT, out])
        #expect(loud.status == 0)
        #expect(loud.stderr.hasPrefix("facerec: wrote \(out)"))
        let quiet = try Self.run(["gallery", "import", "--quiet", Self.coursePT, out])
        #expect(quiet.status == 0)
        #expect(quiet.stderr.isEmpty)
        // --quiet never hides an error.
        let failing = try Self.run(["gallery", "list", "-q", "/nonexistent.pt"])
        #expect(failing.status == 5)
        #expect(!failing.stderr.isEmpty)
    }
}
