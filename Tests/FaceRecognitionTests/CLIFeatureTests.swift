import Foundation
import Testing

@testable import FaceRecognition

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `facerec` on a terminal: the progress bar appears only there, never shares a line with a
/// result or a message, and is gone at the end.
@Suite("facerec CLI on a terminal", .ownThreads,
       .enabled(if: TestPaths.hasData("face_images_1000/test_000.jpg"), TestPaths.needs("face_images_1000")))
struct CLITerminalTests {
    /// Runs facerec with standard output and standard error on one pseudo-terminal: what a user sees.
    static func runOnTerminal(_ arguments: [String]) throws -> (status: Int32, raw: String) {
        // posix_openpt and friends are not in Swift's Glibc module: look them up in libc.
        typealias OpenPT = @convention(c) (Int32) -> Int32
        typealias OnPT = @convention(c) (Int32) -> Int32
        typealias PTSName = @convention(c) (Int32) -> UnsafeMutablePointer<CChar>?
        let libc = dlopen(nil, RTLD_NOW)
        func symbol<T>(_ name: String, _ type: T.Type) throws -> T {
            unsafeBitCast(try #require(dlsym(libc, name), "\(name) not found"), to: type)
        }
        let master = try symbol("posix_openpt", OpenPT.self)(O_RDWR | O_NOCTTY)
        try #require(master >= 0)
        defer { close(master) }
        try #require(try symbol("grantpt", OnPT.self)(master) == 0 && symbol("unlockpt", OnPT.self)(master) == 0)
        let name = try #require(try symbol("ptsname", PTSName.self)(master))
        let slave = open(String(cString: name), O_RDWR | O_NOCTTY)
        try #require(slave >= 0)
        let process = Process()
        process.executableURL = CLITests.binary
        process.arguments = arguments
        let handle = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        close(slave)
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(master, &buffer, buffer.count)
            if n > 0 { bytes += buffer[0..<n] } else if n < 0 && errno == EINTR { continue } else { break }
        }
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: bytes, as: UTF8.self))
    }

    /// The lines a terminal shows for `raw`: carriage return goes to column 0, ESC [ K erases to
    /// the end of the line, newline ends the line.
    static func screen(_ raw: String) -> [String] {
        var lines: [String] = []
        // Scalars, not Characters: "\r\n" (the terminal's newline) is one Character.
        var line: [Unicode.Scalar] = [], column = 0
        var chars = Array(raw.unicodeScalars)[...]
        while let c = chars.popFirst() {
            switch c {
            case "\r": column = 0
            case "\n":
                lines.append(String(String.UnicodeScalarView(line))); line = []; column = 0
            case "\u{1B}":
                if chars.starts(with: ["[", "K"]) { chars = chars.dropFirst(2); line.removeSubrange(min(column, line.count)...) }
            default:
                if column < line.count { line[column] = c } else { line.append(c) }
                column += 1
            }
        }
        if !line.isEmpty { lines.append(String(String.UnicodeScalarView(line))) }
        return lines
    }

    /// 24 course images and one broken file in the middle, in a scratch folder.
    static func folder() throws -> (dir: URL, stems: [String]) {
        let dir = try CLITests.scratch("tty")
        let source = TestPaths.data("face_images_1000")
        let stems = (0..<24).map { String(format: "test_%03d", $0) }
        for stem in stems {
            try FileManager.default.copyItem(at: source.appendingPathComponent("\(stem).jpg"), to: dir.appendingPathComponent("\(stem).jpg"))
        }
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0, 1, 2]).write(to: dir.appendingPathComponent("test_010b.jpg"))
        return (dir, stems)
    }

    @Test("identify on a terminal: a progress bar that never collides with a result or warning line and is erased at the end")
    func progressOnTerminal() throws {
        let (dir, stems) = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let arguments = ["identify", "--weights", try CLITests.weightsFile.path, "--gallery", GalleryTests.coursePT.path,
                         "--threshold", "none", "--jobs", "1"] + (try CLITests.mtcnnArguments()) + [dir.path]
        let result = try Self.runOnTerminal(arguments)
        #expect(result.status == 4)
        #expect(result.raw.contains("images/s"), "no progress bar on a terminal: \(result.raw)")
        let lines = Self.screen(result.raw)
        let agreement = try RecognitionAgreementTests.expected
        let expected = stems.map { "\($0):\(agreement[$0]!.name)" }
        let warning = "facerec: \(dir.path)/test_010b.jpg: truncated image"
        // Every line on screen is exactly a result or the warning: no bar left, nothing run together.
        #expect(lines.filter { !$0.hasPrefix("facerec: ") } == expected, "\(lines)")
        #expect(lines.filter { $0.hasPrefix("facerec: ") }.count == 1, "\(lines)")
        #expect(lines.contains { $0.hasPrefix(warning) }, "\(lines)")
        #expect(!lines.contains { $0.contains("images/s") }, "\(lines)")

        // --quiet: no bar at all; the warning still shows.
        let quiet = try Self.runOnTerminal(arguments + ["--quiet"])
        #expect(!quiet.raw.contains("images/s"))
        #expect(!quiet.raw.contains("\u{1B}[K"))
        #expect(Self.screen(quiet.raw).contains { $0.hasPrefix(warning) })
    }

    @Test("no progress bar when standard error is not a terminal")
    func noProgressOnPipe() throws {
        let (dir, _) = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLITests.run(["detect"] + (try CLITests.mtcnnArguments()) + [dir.path])
        #expect(result.status == 4)
        #expect(!result.stderr.contains("images/s"))
        #expect(!result.stderr.contains("\r"))
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stdout.split(separator: "\n").count == 24)
    }
}

/// Folders as inputs, every face, and the commands built on them.
@Suite("facerec CLI: folders and all faces", .ownThreads)
struct CLIFolderTests {
    static var weights: String { get throws { try CLITests.weightsFile.path } }
    static let multiface = TestPaths.data("photos/multiface.jpg").path

    static func json(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// The faces `detect --keep-all` finds in multiface.jpg.
    static func multifaceBoxes() throws -> [[Double]] {
        let result = try CLITests.run(["detect", "--keep-all"] + (try CLITests.mtcnnArguments()) + [multiface])
        let faces = try #require(try json(result.stdout).first?["faces"] as? [[String: Any]])
        return faces.map { $0["box"] as! [Double] }
    }

    @Test("a folder is searched recursively, images recognised by content and sorted by path, other files ignored")
    func folders() throws {
        let fm = FileManager.default
        let dir = try CLITests.scratch("folders")
        defer { try? fm.removeItem(at: dir) }
        let faces = TestPaths.data("face_images_100")
        try fm.createDirectory(at: dir.appendingPathComponent("b/deeper"), withIntermediateDirectories: true)
        try fm.copyItem(at: faces.appendingPathComponent("test_03.jpg"), to: dir.appendingPathComponent("b/deeper/z.jpg"))
        try fm.copyItem(at: faces.appendingPathComponent("test_01.jpg"), to: dir.appendingPathComponent("a.jpg"))
        try fm.copyItem(at: faces.appendingPathComponent("test_02.jpg"), to: dir.appendingPathComponent("b/photo-without-extension"))
        try Data("notes".utf8).write(to: dir.appendingPathComponent("b/notes.txt"))
        try ImageEncoder.png(try RGBImage(width: 40, height: 30, pixels: [UInt8](repeating: 9, count: 40 * 30 * 3)))
            .write(to: dir.appendingPathComponent("b/flat.PNG"))
        let expected = ["a.jpg", "b/deeper/z.jpg", "b/flat.PNG", "b/photo-without-extension"].map { dir.path + "/" + $0 }

        let detect = try CLITests.run(["detect"] + (try CLITests.mtcnnArguments()) + [dir.path])
        #expect(detect.status == 0, "\(detect.stderr)")
        #expect(try Self.json(detect.stdout).map { $0["image"] as! String } == expected)

        let embed = try CLITests.run(["embed", "--no-detect", "--weights", try Self.weights, dir.path])
        #expect(embed.status == 0, "\(embed.stderr)")
        #expect(try Self.json(embed.stdout).map { $0["image"] as! String } == expected)

        let identify = try CLITests.run(["identify", "--weights", try Self.weights, "--gallery", GalleryTests.coursePT.path]
                                        + (try CLITests.mtcnnArguments()) + [dir.path])
        #expect(identify.status == 0, "\(identify.stderr)")
        #expect(identify.stdout.split(separator: "\n").map { String($0.split(separator: ":")[0]) }
                == ["a", "z", "flat", "photo-without-extension"])

        // A folder without images is an unusable input.
        let empty = dir.appendingPathComponent("empty")
        try fm.createDirectory(at: empty, withIntermediateDirectories: true)
        let none = try CLITests.run(["detect"] + (try CLITests.mtcnnArguments()) + [empty.path])
        #expect(none.status == 1)
        #expect(none.stderr == "facerec: \(empty.path): no JPEG or PNG images in this folder\n")
    }

    @Test("identify --keep-all --top-k K --json: one object per face, the distance present even when the threshold rejects")
    func identifyAllFaces() throws {
        let boxes = try Self.multifaceBoxes()
        #expect(boxes.count >= 3)
        let base = ["identify", "--weights", try Self.weights, "--gallery", GalleryTests.coursePT.path, "--keep-all", "--json"]
            + (try CLITests.mtcnnArguments())
        let result = try CLITests.run(base + ["--top-k", "3", Self.multiface])
        #expect(result.status == 0, "\(result.stderr)")
        let objects = try Self.json(result.stdout)
        #expect(objects.count == boxes.count)
        for (i, object) in objects.enumerated() {
            #expect(object["image"] as? String == Self.multiface)
            #expect(object["face"] as? Int == i)
            #expect(object["box"] as? [Double] == boxes[i])
            let candidates = try #require(object["candidates"] as? [[String: Any]])
            #expect(candidates.count == 3)
            let distances = candidates.map { $0["distance"] as! Double }
            #expect(distances == distances.sorted())
            let distance = try #require(object["distance"] as? Double)
            #expect(distance == distances[0])
            // Synthetic embeddings sit about 1.3 from every gallery entry: beyond the default 1.1.
            #expect((object["threshold"] as? Double).map(Float.init) == FaceVerification.defaultThreshold.value)
            #expect(object["metric"] as? String == "euclidean")
            #expect(distance > 1.1)
            #expect(object["name"] as? String == "Unknown")
        }
        // A looser threshold names each face after its nearest candidate.
        let loose = try Self.json(try CLITests.run(base + ["--threshold", "2", Self.multiface]).stdout)
        #expect(loose.count == boxes.count)
        for (object, strict) in zip(loose, objects) {
            #expect(object["name"] as? String == (strict["candidates"] as! [[String: Any]])[0]["name"] as? String)
            #expect(object["distance"] as? Double == strict["distance"] as? Double)
            #expect((object["candidates"] as? [[String: Any]])?.count == 1)
        }
        // Text mode: every face's name on the image's line.
        let text = try CLITests.run(["identify", "--weights", try Self.weights, "--gallery", GalleryTests.coursePT.path, "--keep-all",
                                     "--threshold", "2"] + (try CLITests.mtcnnArguments()) + [Self.multiface])
        #expect(text.stdout == "multiface:" + loose.map { $0["name"] as! String }.joined(separator: ",") + "\n")
        // No face: one object saying so.
        let flat = try CLITests.scratch("flat")
        defer { try? FileManager.default.removeItem(at: flat) }
        let png = flat.appendingPathComponent("flat.png")
        try ImageEncoder.png(try RGBImage(width: 50, height: 50, pixels: [UInt8](repeating: 9, count: 50 * 50 * 3))).write(to: png)
        let noFace = try Self.json(try CLITests.run(base + [png.path]).stdout)
        #expect(noFace.count == 1)
        #expect(noFace[0]["name"] as? String == "NoFace")
        #expect(noFace[0]["face"] is NSNull)
    }

    @Test("the threshold: --threshold, else the gallery's, else the default; cosine uses the converted default")
    func thresholdSources() throws {
        let dir = try CLITests.scratch("threshold")
        defer { try? FileManager.default.removeItem(at: dir) }
        let people = dir.appendingPathComponent("people/Ada")
        try FileManager.default.createDirectory(at: people, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: TestPaths.data("face_images_100/test_05.jpg").path,
                                         toPath: people.appendingPathComponent("a.jpg").path)
        let gallery = dir.appendingPathComponent("people.safetensors")
        let enroll = try CLITests.run(["enroll", "--weights", try Self.weights, "--out", gallery.path, "--threshold", "1.75"]
                                      + (try CLITests.mtcnnArguments()) + [dir.appendingPathComponent("people").path])
        #expect(enroll.status == 0, "\(enroll.stderr)")
        #expect(try Gallery.load(contentsOf: gallery).threshold == DistanceThreshold(1.75, metric: .euclidean))
        let face = TestPaths.data("face_images_100/test_07.jpg").path
        func threshold(_ extra: [String], gallery: String) throws -> Double? {
            let out = try CLITests.run(["identify", "--json", "--weights", try Self.weights, "--gallery", gallery]
                                       + (try CLITests.mtcnnArguments()) + extra + [face])
            return try Self.json(out.stdout).first?["threshold"] as? Double
        }
        #expect(try threshold([], gallery: gallery.path) == 1.75)
        #expect(try threshold(["--threshold", "0.5"], gallery: gallery.path) == 0.5)
        #expect(try threshold([], gallery: GalleryTests.coursePT.path).map(Float.init) == Float(1.1))
        #expect(try threshold(["--metric", "cosine"], gallery: GalleryTests.coursePT.path).map(Float.init) == Float(1.1) * Float(1.1) / 2)
        // A gallery edit keeps the stored threshold.
        #expect(try CLITests.run(["gallery", "remove", gallery.path, "Nobody"]).status == 1)
        let list = try CLITests.run(["gallery", "list", gallery.path])
        #expect(list.stderr.contains("threshold 1.75 (euclidean)"), "\(list.stderr)")
    }

    @Test("embed detects by default and embeds every face; --no-detect takes crops")
    func embedEveryFace() throws {
        let boxes = try Self.multifaceBoxes()
        let result = try CLITests.run(["embed", "--weights", try Self.weights] + (try CLITests.mtcnnArguments()) + [Self.multiface])
        #expect(result.status == 0, "\(result.stderr)")
        let objects = try Self.json(result.stdout)
        #expect(objects.count == boxes.count)
        for (i, object) in objects.enumerated() {
            #expect(object["face"] as? Int == i)
            #expect(object["box"] as? [Double] == boxes[i])
            let embedding = try #require(object["embedding"] as? [Double])
            #expect(embedding.count == 512)
            let norm = embedding.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(norm - 1) < 1e-4)
        }
        // The largest face's embedding is the one identify matches (same crop, same network).
        let identify = try CLITests.run(["identify", "--json", "--top-k", "1", "--weights", try Self.weights, "--gallery",
                                         GalleryTests.coursePT.path] + (try CLITests.mtcnnArguments()) + [Self.multiface])
        let match = try #require(try Self.json(identify.stdout).first)
        let gallery = try Gallery.load(contentsOf: GalleryTests.coursePT)
        let first = (objects[0]["embedding"] as! [Double]).map(Float.init)
        let nearest = (0..<gallery.count).map { FaceVerification.distance(first, Array(gallery.embedding(at: $0))) }.min()!
        #expect(abs(Double(nearest) - (match["distance"] as! Double)) < 1e-4)
    }

    @Test("crop --keep-all --out-dir writes every face; enroll on an empty folder is an error")
    func cropAllAndEmptyEnroll() throws {
        let boxes = try Self.multifaceBoxes()
        let dir = try CLITests.scratch("crops")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out/nested")
        let result = try CLITests.run(["crop", "--keep-all", "--size", "160", "--out-dir", out.path]
                                      + (try CLITests.mtcnnArguments()) + [Self.multiface])
        #expect(result.status == 0, "\(result.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        #expect(files == (0..<boxes.count).map { "multiface_\($0).png" }.sorted())
        for file in files {
            let image = try ImageDecoder.decode(contentsOf: out.appendingPathComponent(file))
            #expect(image.width == 160 && image.height == 160)
        }
        // Without --keep-all: one crop per image, named after it.
        let single = dir.appendingPathComponent("single")
        #expect(try CLITests.run(["crop", "--out-dir", single.path] + (try CLITests.mtcnnArguments()) + [Self.multiface]).status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: single.path) == ["multiface.png"])

        let people = dir.appendingPathComponent("people")
        try FileManager.default.createDirectory(at: people.appendingPathComponent("Ada"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: people.appendingPathComponent("Ada/readme.txt"))
        let gallery = dir.appendingPathComponent("g.safetensors")
        let enroll = try CLITests.run(["enroll", "--weights", try Self.weights, "--out", gallery.path]
                                      + (try CLITests.mtcnnArguments()) + [people.path])
        #expect(enroll.status == 1)
        #expect(enroll.stderr.hasPrefix("facerec: \(people.path): no images found"), "\(enroll.stderr)")
        #expect(!FileManager.default.fileExists(atPath: gallery.path))
    }
}

/// `facerec verify A B`.
@Suite("facerec verify", .ownThreads)
struct CLIVerifyTests {
    static var weights: String { get throws { try CLITests.weightsFile.path } }
    static let a = TestPaths.data("face_images_100/test_00.jpg").path
    static let b = TestPaths.data("face_images_100/test_01.jpg").path

    /// The largest face's embedding, from `facerec embed` (an independent path to the same numbers).
    static func embedding(_ path: String) throws -> [Float] {
        let out = try CLITests.run(["embed", "--weights", weights] + (try CLITests.mtcnnArguments()) + [path])
        let first = try #require(try CLIFolderTests.json(out.stdout).first)
        return (first["embedding"] as! [Double]).map(Float.init)
    }

    @Test("verify prints the verdict with distance, threshold and metric; --json has the same numbers")
    func verify() throws {
        let ea = try Self.embedding(Self.a), eb = try Self.embedding(Self.b)
        var sum: Float = 0
        for (x, y) in zip(ea, eb) { sum += (x - y) * (x - y) }
        let distance = sum.squareRoot()
        let base = ["verify", "--weights", try Self.weights] + (try CLITests.mtcnnArguments())

        let json = try CLITests.run(base + ["--json", Self.a, Self.b])
        #expect(json.status == 0, "\(json.stderr)")
        let object = try #require(try CLIFolderTests.json(json.stdout).first)
        #expect(object["image1"] as? String == Self.a)
        #expect(object["image2"] as? String == Self.b)
        #expect(abs((object["distance"] as! Double) - Double(distance)) < 1e-5)
        #expect((object["threshold"] as? Double).map(Float.init) == Float(1.1))
        #expect(object["metric"] as? String == "euclidean")
        #expect(object["verified"] as? Bool == (distance <= 1.1))

        // A threshold above the distance says same person; below, different people.
        let above = (distance + 0.01), below = (distance - 0.01)
        let same = try CLITests.run(base + ["--threshold", "\(above)", Self.a, Self.b])
        #expect(same.stdout.hasPrefix("same person: euclidean distance "), "\(same.stdout)")
        #expect(same.stdout.hasSuffix("<= threshold \(above)\n"), "\(same.stdout)")
        let different = try CLITests.run(base + ["--threshold", "\(below)", Self.a, Self.b])
        #expect(different.stdout.hasPrefix("different people: euclidean distance "), "\(different.stdout)")
        #expect(different.status == 0)

        // An image against itself is the same person at distance 0.
        let itself = try CLIFolderTests.json(try CLITests.run(base + ["--json", Self.a, Self.a]).stdout)
        #expect(itself.first?["distance"] as? Double == 0)
        #expect(itself.first?["verified"] as? Bool == true)

        // Cosine: the converted default threshold and the cosine distance.
        let cosine = try #require(try CLIFolderTests.json(try CLITests.run(base + ["--json", "--metric", "cosine", Self.a, Self.b]).stdout).first)
        #expect((cosine["threshold"] as? Double).map(Float.init) == Float(1.1) * Float(1.1) / 2)
        let expectedCosine = FaceVerification.distance(ea, eb, metric: .cosine)
        #expect(abs((cosine["distance"] as! Double) - Double(expectedCosine)) < 1e-5)
    }

    @Test("verify: an image without a face or an unreadable one exits 1 naming it once")
    func verifyFailures() throws {
        let dir = try CLITests.scratch("verify")
        defer { try? FileManager.default.removeItem(at: dir) }
        let flat = dir.appendingPathComponent("flat.png")
        try ImageEncoder.png(try RGBImage(width: 50, height: 50, pixels: [UInt8](repeating: 9, count: 50 * 50 * 3))).write(to: flat)
        let base = ["verify", "--weights", try Self.weights] + (try CLITests.mtcnnArguments())
        let noFace = try CLITests.run(base + [Self.a, flat.path])
        #expect(noFace.status == 1)
        #expect(noFace.stderr == "facerec: \(flat.path): no face found\n")
        let missing = try CLITests.run(base + [Self.a, "/nonexistent.jpg"])
        #expect(missing.status == 1)
        #expect(missing.stderr == "facerec: /nonexistent.jpg: no such file\n")
        #expect(missing.stdout.isEmpty)
    }
}
