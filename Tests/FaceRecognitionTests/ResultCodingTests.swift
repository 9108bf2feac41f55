import Foundation
import Testing

@testable import FaceRecognition

/// The results' JSON form (the one `facerec … --json` and the HTTP API print) and the errors'
/// `localizedDescription`.
@Suite("Result JSON and error descriptions")
struct ResultCodingTests {
    static let face = DetectedFace(box: FaceBox(x1: 859.1933, y1: 436.55597, x2: 953.55695, y2: 558.5786),
                                   probability: 0.9998134,
                                   landmarks: (0..<5).map { FacePoint(x: Float($0) * 10.25, y: 480 + Float($0)) })
    static let embedding: Embedding = (0..<512).map { Float(sin(Double($0))) / 16 }
    static let candidates = [Match(name: "Chip", index: 3, distance: 0.81), Match(name: "German", index: 7, distance: 1.36)]
    static let recognized = RecognizedFace(face: face, embedding: embedding, match: candidates[0], candidates: candidates)

    static func json(_ value: some Encodable, omitsEmbeddings: Bool = false) throws -> [String: Any] {
        let encoder = JSONEncoder()
        if omitsEmbeddings { encoder.userInfo[.omitsEmbeddings] = true }
        return try #require(JSONSerialization.jsonObject(with: encoder.encode(value)) as? [String: Any])
    }

    @Test("every result type survives a JSONEncoder / JSONDecoder round trip unchanged")
    func roundTrip() throws {
        func same<T: Codable & Equatable>(_ value: T) throws {
            let decoded = try JSONDecoder().decode(T.self, from: JSONEncoder().encode(value))
            #expect(decoded == value)
        }
        try same(Self.face)
        try same(Self.recognized)
        try same(RecognizedFace(face: Self.face, embedding: Self.embedding, match: nil, candidates: Self.candidates))
        try same(EmbeddedFace(face: Self.face, embedding: Self.embedding))
        try same(Self.candidates[1])
        try same(FaceVerification.verify(Self.embedding, Self.embedding.reversed()))
        try same(FaceVerification.defaultThreshold)
        try same(MatchMetric.cosine)
    }

    @Test("the documented JSON form: box and landmarks as arrays, prob, name, distance, match, candidates")
    func documentedForm() throws {
        let object = try Self.json(Self.recognized)
        #expect((object["box"] as? [Double])?.map(Float.init) == Self.face.box.array)
        #expect((object["landmarks"] as? [[Double]])?.count == 5)
        #expect((object["prob"] as? Double).map(Float.init) == Self.face.probability)
        #expect(object["name"] as? String == "Chip")
        #expect((object["distance"] as? Double).map(Float.init) == Float(0.81))
        #expect((object["match"] as? [String: Any])?["index"] as? Int == 3)
        #expect((object["candidates"] as? [[String: Any]])?.map { $0["name"] as? String } == ["Chip", "German"])
        #expect((object["embedding"] as? [Double])?.count == 512)

        // An unmatched face is "Unknown" with a null match; the nearest distance stays.
        let unknown = try Self.json(RecognizedFace(face: Self.face, embedding: Self.embedding, match: nil,
                                                   candidates: Self.candidates), omitsEmbeddings: true)
        #expect(unknown["name"] as? String == FaceRecognizer.unknownLabel)
        #expect(unknown["match"] is NSNull)
        #expect(unknown["embedding"] == nil)

        let verification = try Self.json(Verification(distance: 0.5, threshold: 1.1, metric: .euclidean))
        #expect(verification["verified"] as? Bool == true)
        #expect(verification["metric"] as? String == "euclidean")
    }

    @Test("the default threshold is a named constant: Euclidean 1.1, cosine 0.605")
    func defaultThreshold() {
        #expect(FaceVerification.defaultThreshold == DistanceThreshold(1.1, metric: .euclidean))
        #expect(abs(FaceVerification.defaultThreshold(for: .cosine).value - 0.605) < 1e-6)
        #expect(FaceRecognizer.Options.recommended.threshold == FaceVerification.defaultThreshold.value)
    }

    @Test("a missing weights folder's localizedDescription is readable, names the path and no CLI flag")
    func missingWeightsDescription() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("no-weights-\(UUID())")
        do {
            _ = try MTCNN(weightsDirectory: dir)
            Issue.record("MTCNN loaded from a folder that does not exist")
        } catch {
            let text = error.localizedDescription
            #expect(text.contains(dir.appendingPathComponent("pnet.pt").path))
            #expect(text.hasPrefix("MTCNN weights not found"))
            #expect(!text.contains("--"))
            #expect(!text.contains("operation could not be completed"))
        }
        let lookup = WeightsLookup(environment: [:], currentDirectory: dir, homeDirectory: dir)
        do {
            _ = try FaceNet(lookup: lookup)
            Issue.record("FaceNet loaded without weights")
        } catch {
            let text = error.localizedDescription
            #expect(text.contains(dir.appendingPathComponent("weights/\(WeightsLookup.faceNetFileName)").path))
            #expect(text.contains(dir.appendingPathComponent(".local/share/facerec/weights").path))
            #expect(!text.contains("--"))
        }
    }

    @Test("every public error of the library has a localizedDescription equal to its description")
    func localizedErrors() {
        let errors: [any Error & CustomStringConvertible] = [
            MTCNNError.emptyImage(width: 0, height: 3),
            InferenceError.outOfMemory("a workspace of 9 bytes"),
            WeightsError.missingTensor(key: "conv.weight"),
            ImageDecodingError.empty,
            GalleryError.invalidName(""),
            VerificationError.noFace(image: 2),
        ]
        for error in errors {
            #expect(error.localizedDescription == error.description)
        }
    }
}

/// Where weights are looked up: explicit path, environment, ./weights, the XDG data folder.
@Suite("Weights lookup")
struct WeightsLookupTests {
    /// A scratch tree with a current directory, a home and an XDG data home.
    struct Scratch {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("weights-lookup-\(UUID())")
        var cwd: URL { root.appendingPathComponent("project") }
        var home: URL { root.appendingPathComponent("home") }

        func mtcnnFolder(_ url: URL) throws {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            for name in ["pnet.pt", "rnet.pt", "onet.pt"] {
                try Data("x".utf8).write(to: url.appendingPathComponent(name))
            }
        }

        func file(_ url: URL) throws {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data("x".utf8).write(to: url)
        }

        func lookup(_ environment: [String: String] = [:]) -> WeightsLookup {
            WeightsLookup(environment: environment, currentDirectory: cwd, homeDirectory: home)
        }
    }

    @Test("MTCNN: environment, then ./weights, then $XDG_DATA_HOME/facerec/weights, then ~/.local/share")
    func mtcnnOrder() throws {
        let s = Scratch()
        defer { try? FileManager.default.removeItem(at: s.root) }
        let xdg = s.root.appendingPathComponent("xdg")
        let env = s.root.appendingPathComponent("env-weights")
        // Nothing anywhere: the error lists the three folders in order.
        #expect(throws: MTCNNError.weightsNotFoundInSearchPath(searched: [
            s.cwd.appendingPathComponent("weights").path, xdg.appendingPathComponent("facerec/weights").path,
        ])) { try s.lookup(["XDG_DATA_HOME": xdg.path]).mtcnnDirectory() }

        try s.mtcnnFolder(s.home.appendingPathComponent(".local/share/facerec/weights"))
        #expect(try s.lookup().mtcnnDirectory().path == s.home.appendingPathComponent(".local/share/facerec/weights").path)
        try s.mtcnnFolder(xdg.appendingPathComponent("facerec/weights"))
        #expect(try s.lookup(["XDG_DATA_HOME": xdg.path]).mtcnnDirectory().path == xdg.appendingPathComponent("facerec/weights").path)
        try s.mtcnnFolder(s.cwd.appendingPathComponent("weights"))
        #expect(try s.lookup(["XDG_DATA_HOME": xdg.path]).mtcnnDirectory().path == s.cwd.appendingPathComponent("weights").path)
        try s.mtcnnFolder(env)
        #expect(try s.lookup(["FACEREC_MTCNN_WEIGHTS": env.path]).mtcnnDirectory().path == env.path)

        // A folder missing one file is skipped; an explicit folder is the only one tried.
        try FileManager.default.removeItem(at: env.appendingPathComponent("onet.pt"))
        #expect(try s.lookup(["FACEREC_MTCNN_WEIGHTS": env.path]).mtcnnDirectory().path == s.cwd.appendingPathComponent("weights").path)
        #expect(throws: MTCNNError.weightsNotFoundInSearchPath(searched: [env.path])) {
            try s.lookup().mtcnnDirectory(explicit: env)
        }
    }

    @Test("FaceNet: FACEREC_FACENET_WEIGHTS, then the vggface2 file in ./weights and the data folder")
    func faceNetOrder() throws {
        let s = Scratch()
        defer { try? FileManager.default.removeItem(at: s.root) }
        let name = WeightsLookup.faceNetFileName
        let data = s.home.appendingPathComponent(".local/share/facerec/weights/\(name)")
        #expect(throws: WeightsError.notFound(what: "FaceNet weights (\(name), or the file FACEREC_FACENET_WEIGHTS names)",
                                              searched: [s.cwd.appendingPathComponent("weights/\(name)").path, data.path])) {
            try s.lookup().faceNetFile()
        }
        try s.file(data)
        #expect(try s.lookup().faceNetFile().path == data.path)
        try s.file(s.cwd.appendingPathComponent("weights/\(name)"))
        #expect(try s.lookup().faceNetFile().path == s.cwd.appendingPathComponent("weights/\(name)").path)
        let chosen = s.root.appendingPathComponent("mine.safetensors")
        try s.file(chosen)
        #expect(try s.lookup(["FACEREC_FACENET_WEIGHTS": chosen.path]).faceNetFile().path == chosen.path)
        // A relative environment path is resolved against the lookup's current directory.
        try s.file(s.cwd.appendingPathComponent("models/f.pt"))
        #expect(try s.lookup(["FACEREC_FACENET_WEIGHTS": "models/f.pt"]).faceNetFile().path
                == s.cwd.appendingPathComponent("models/f.pt").path)
    }
}
