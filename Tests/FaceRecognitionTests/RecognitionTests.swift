import Foundation
import Testing

@testable import FaceRecognition

@Suite("Gallery files and matching", .ownThreads)
struct GalleryTests {
    static let coursePT = TestPaths.data("data.pt")

    @Test("the course data.pt imports directly: 90 unit embeddings and their names")
    func importCourseGallery() throws {
        let gallery = try Gallery.load(contentsOf: Self.coursePT)
        #expect(gallery.count == 90)
        #expect(gallery.dimension == 512)
        for i in 0..<gallery.count {
            let norm = gallery.embedding(at: i).reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(norm - 1) < 1e-4)
        }
        #expect(gallery.identities.contains("Gerry"))
    }

    @Test("save and load round-trip through the safetensors gallery file")
    func roundTrip() throws {
        var gallery = try Gallery.load(contentsOf: Self.coursePT)
        try gallery.add(name: "Zoë \"quoted\"", embedding: Array(gallery.embedding(at: 0)))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("gallery-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try gallery.save(to: url)
        #expect(try Gallery.load(contentsOf: url) == gallery)
        #expect(gallery.remove(name: "Zoë \"quoted\"") == 1)
        #expect(gallery.count == 90)
    }

    @Test("bad gallery files and entries are clear errors")
    func badGalleries() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data("not a gallery".utf8).write(to: url)
        #expect(throws: GalleryError.self) { try Gallery.load(contentsOf: url) }
        // A valid safetensors file that is not a gallery (a weights file).
        try SafeTensors.write(StateDict(tensors: ["w": Tensor(shape: [2], scalars: [1, 2])]), to: url)
        #expect(throws: GalleryError.self) { try Gallery.load(contentsOf: url) }
        var gallery = Gallery(dimension: 4)
        #expect(throws: GalleryError.self) { try gallery.add(name: "a", embedding: [1, 2, 3]) }
        #expect(throws: GalleryError.self) { try gallery.add(name: "a", embedding: [1, .nan, 3, 4]) }
        #expect(throws: GalleryError.self) { try gallery.add(name: "", embedding: [1, 2, 3, 4]) }
    }

    @Test("nearest entries: each course embedding finds itself; top-k ascending; both metrics")
    func matching() throws {
        let gallery = try Gallery.load(contentsOf: Self.coursePT)
        let queries = (0..<gallery.count).map { Array(gallery.embedding(at: $0)) }
        for metric in MatchMetric.allCases {
            let matcher = GalleryMatcher(gallery: gallery, metric: metric)
            let results = try matcher.nearest(queries, k: 5)
            for (i, matches) in results.enumerated() {
                #expect(matches.count == 5)
                #expect(matches[0].distance < 1e-3)
                // Duplicate embeddings may exist in the course gallery: the self-match must tie.
                #expect(matches[0].index == i || matches[0].distance == matches.first { $0.index == i }?.distance)
                #expect(zip(matches, matches.dropFirst()).allSatisfy { $0.distance <= $1.distance })
            }
        }
        // Euclidean distances are exact (torch.dist semantics), not the GEMM shortcut.
        let query = Array(gallery.embedding(at: 3)).map { $0 * 0.5 }
        let top = try GalleryMatcher(gallery: gallery).nearest([query], k: 1)[0][0]
        var direct: Float = 0
        for (a, b) in zip(query, gallery.embedding(at: top.index)) { direct += (a - b) * (a - b) }
        #expect(top.distance == direct.squareRoot())
        #expect(throws: GalleryError.self) { try GalleryMatcher(gallery: gallery).nearest([[1, 2]]) }
    }
}

/// The course pipeline end to end against facenet-pytorch (make_identify_goldens.py): MTCNN(240)
/// → largest face → InceptionResnetV1 (synthetic weights) → nearest data.pt entry by torch.dist.
@Suite("Face recognition end to end", .ownThreads)
struct RecognitionAgreementTests {
    struct Expected { let name: String; let margin: Double }

    /// facenet-pytorch's answers; a missing or broken file fails the tests that read it.
    static var expected: [String: Expected] { get throws { try loadedExpected.get() } }
    private static let loadedExpected = FixtureError.loading(
        TestPaths.fixtures.appendingPathComponent("identify/face_images_1000_synthetic.csv"),
        remedy: "run Tests/Fixtures/make_identify_goldens.py") { url in
        let text = try String(contentsOf: url, encoding: .utf8)
        var rows: [String: Expected] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            rows[f[0]] = Expected(name: f[1], margin: Double(f[3]) ?? .infinity)
        }
        return rows
    }

    static func recognizer() throws -> FaceRecognizer {
        FaceRecognizer(detector: try MTCNNTestSupport.detector(), facenet: try FaceNetParityTests.facenet,
                       gallery: try Gallery.load(contentsOf: GalleryTests.coursePT))
    }

    @Test("all 1000 course images get facenet-pytorch's name (ties within 1e-5 excepted)",
          .enabled(if: TestPaths.hasData("face_images_1000/test_000.jpg"), TestPaths.needs("face_images_1000")))
    func agreement() throws {
        let recognizer = try Self.recognizer()
        let folder = TestPaths.data("face_images_1000")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".jpg") }.sorted()
        #expect(files.count == 1000)
        var agree = 0, tiesExcused = 0
        var disagreements: [String] = []
        for start in stride(from: 0, to: files.count, by: 16) {
            let batch = Array(files[start..<min(start + 16, files.count)])
            let images = try batch.map {
                try ImageDecoder.decode(contentsOf: folder.appendingPathComponent($0), options: .init(applyEXIFOrientation: false))
            }
            for (file, faces) in zip(batch, try recognizer.recognize(batch: images)) {
                let stem = String(file.dropLast(4))
                let want = try #require(try Self.expected[stem])
                let got = faces.first?.match?.name ?? ""
                if got == want.name { agree += 1 }
                else if want.margin < 1e-5 { tiesExcused += 1 }
                else { disagreements.append("\(stem): ours \(got), facenet-pytorch \(want.name) (margin \(want.margin))") }
            }
        }
        print("identify agreement with facenet-pytorch: \(agree)/1000 (\(tiesExcused) distance ties within 1e-5)")
        #expect(disagreements.isEmpty, "\(disagreements.prefix(10))")
        #expect(agree + tiesExcused == 1000)
    }

    @Test("a threshold turns far faces into unknowns; an image with no face has no faces")
    func thresholdAndNoFace() throws {
        let base = try Self.recognizer()
        let strict = FaceRecognizer(detector: base.detector, facenet: base.facenet, gallery: base.gallery,
                                    options: .init(threshold: 0.01, topK: 3))
        let image = try ImageDecoder.decode(contentsOf: TestPaths.data("face_images_100/test_00.jpg"))
        let faces = try strict.recognize(image)
        try #require(faces.count == 1)
        #expect(faces[0].match == nil)
        #expect(faces[0].candidates.count == 3)
        #expect(try base.recognize(image)[0].match != nil)
        let flat = try RGBImage(width: 200, height: 150, pixels: [UInt8](repeating: 90, count: 200 * 150 * 3))
        #expect(try base.recognize(flat).isEmpty)
    }
}

/// `Gallery.save(to:)` replaces a file through a temporary file in the same directory and a
/// rename: the target holds the old bytes or the new ones, and nothing else is left behind.
@Suite("Gallery atomic save", .ownThreads)
struct GalleryAtomicSaveTests {
    /// A fresh empty directory, removed by the caller.
    static func scratchDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gallery-save-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static func galleries() throws -> (Gallery, Gallery) {
        let full = try Gallery.load(contentsOf: GalleryTests.coursePT)
        var smaller = full
        smaller.remove(name: "Gerry")
        return (full, smaller)
    }

    @Test("saving over an existing gallery leaves exactly the new bytes, its permissions, and no temporary file")
    func replaceLeavesNoTemporaryFile() throws {
        let fm = FileManager.default
        let dir = try Self.scratchDirectory()
        defer { try? fm.removeItem(at: dir) }
        let (old, new) = try Self.galleries()
        let url = dir.appendingPathComponent("people.safetensors")
        try old.save(to: url)
        #expect(try Data(contentsOf: url) == old.safeTensorsData())
        try fm.setAttributes([.posixPermissions: 0o640], ofItemAtPath: url.path)

        try new.save(to: url)
        #expect(try Data(contentsOf: url) == new.safeTensorsData())
        #expect(try Gallery.load(contentsOf: url) == new)
        #expect(try fm.contentsOfDirectory(atPath: dir.path) == ["people.safetensors"])
        #expect(try fm.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int == 0o640)

        // Through a symbolic link: the file it points to is replaced, the link stays a link.
        let link = dir.appendingPathComponent("link.safetensors")
        try fm.createSymbolicLink(atPath: link.path, withDestinationPath: "people.safetensors")
        try old.save(to: link)
        #expect(try fm.destinationOfSymbolicLink(atPath: link.path) == "people.safetensors")
        #expect(try Gallery.load(contentsOf: url) == old)
        #expect(try fm.contentsOfDirectory(atPath: dir.path).sorted() == ["link.safetensors", "people.safetensors"])
    }

    @Test("a reader during repeated saves always sees a whole old or whole new file")
    func concurrentReaderSeesWholeFiles() async throws {
        let dir = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (a, b) = try Self.galleries()
        let bytesA = try a.safeTensorsData(), bytesB = try b.safeTensorsData()
        let url = dir.appendingPathComponent("people.safetensors")
        try a.save(to: url)
        let reader = Task.detached { () -> (reads: Int, torn: Int) in
            var torn = 0
            for _ in 0..<400 {
                let seen = try? Data(contentsOf: url)
                if seen != bytesA && seen != bytesB { torn += 1 }
            }
            return (400, torn)
        }
        for i in 0..<40 { try (i % 2 == 0 ? b : a).save(to: url) }
        let result = await reader.value
        #expect(result.torn == 0, "\(result.torn) of \(result.reads) reads saw a missing or partial file")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["people.safetensors"])
    }

    @Test("a save that cannot happen changes nothing and leaves no temporary file")
    func failedSaveLeavesNothing() throws {
        let fm = FileManager.default
        let dir = try Self.scratchDirectory()
        defer { try? fm.removeItem(at: dir) }
        let (gallery, _) = try Self.galleries()
        // The target is a directory: refused, the directory and its contents untouched.
        let occupied = dir.appendingPathComponent("people.safetensors")
        try fm.createDirectory(at: occupied, withIntermediateDirectories: false)
        try Data("keep".utf8).write(to: occupied.appendingPathComponent("inside"))
        #expect(throws: (any Error).self) { try gallery.save(to: occupied) }
        #expect(try fm.contentsOfDirectory(atPath: occupied.path) == ["inside"])
        // The directory does not exist: nothing is created.
        #expect(throws: (any Error).self) { try gallery.save(to: dir.appendingPathComponent("missing/people.safetensors")) }
        #expect(try fm.contentsOfDirectory(atPath: dir.path) == ["people.safetensors"])
    }
}
