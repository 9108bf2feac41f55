import Foundation
import Testing

@testable import FaceRecognition

/// `facerec evaluate` against counts the test computes itself, from the library's own
/// recognition of the same images and the course's labels.
@Suite("facerec evaluate", .ownThreads)
struct CLIEvaluateTests {
    @Test("face_images_100 with synthetic weights: accuracy, unknown rate, per-name counts and confusions match an independent count")
    func evaluate() throws {
        let folder = TestPaths.data("face_images_100")
        let csv = TestPaths.data("face_images_100.csv")
        var labels: [String: String] = [:]
        for line in try String(contentsOf: csv, encoding: .utf8).split(whereSeparator: \.isNewline).dropFirst() {
            let f = line.split(separator: ",").map(String.init)
            labels[f[0]] = f[1]
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".jpg") }.sorted()
        try #require(files.count == 100)

        // The nearest entry and its distance for each image, in process.
        let recognizer = try RecognitionAgreementTests.recognizer()
        var nearest: [(stem: String, name: String, distance: Float)] = []
        for start in stride(from: 0, to: files.count, by: 16) {
            let batch = Array(files[start..<min(start + 16, files.count)])
            let images = try batch.map { try ImageDecoder.decode(contentsOf: folder.appendingPathComponent($0)) }
            for (file, faces) in zip(batch, try recognizer.recognize(batch: images)) {
                let stem = String(file.dropLast(4))
                if let match = faces.first?.match { nearest.append((stem, match.name, match.distance)) }
                else { nearest.append((stem, faces.isEmpty ? "NoFace" : "Unknown", .infinity)) }
            }
        }
        // A threshold in the widest gap around the median distance, so some faces are Unknown and
        // no distance sits on the boundary.
        let sorted = nearest.map(\.distance).filter(\.isFinite).sorted()
        let middle = sorted.count / 2
        let widths: [(index: Int, width: Float)] = (middle - 10..<middle + 10).map { ($0, sorted[$0 + 1] - sorted[$0]) }
        let gap = widths.max { $0.width < $1.width }!.index
        let threshold = (sorted[gap] + sorted[gap + 1]) / 2

        var correct = 0, unknown = 0, noFace = 0
        var perName: [String: (images: Int, correct: Int)] = [:]
        var confusions: [String: Int] = [:]
        for item in nearest {
            let predicted = item.distance <= threshold ? item.name : (item.name == "NoFace" ? "NoFace" : "Unknown")
            let expected = try #require(labels[item.stem])
            perName[expected, default: (0, 0)].images += 1
            if predicted == expected { correct += 1; perName[expected]!.correct += 1 }
            else { confusions["\(expected) -> \(predicted)", default: 0] += 1 }
            if predicted == "Unknown" { unknown += 1 }
            if predicted == "NoFace" { noFace += 1 }
        }
        #expect(unknown > 0 && unknown < 100, "the threshold should split the faces")

        let arguments: [String] = ["evaluate", "--json", "--confusions", "1000", "--labels", csv.path,
                                   "--weights", try CLITests.weightsFile.path, "--gallery", GalleryTests.coursePT.path,
                                   "--threshold", "\(threshold)"]
        let result = try CLITests.run(arguments + (try CLITests.mtcnnArguments()) + [folder.path])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(report["images"] as? Int == 100)
        #expect(report["correct"] as? Int == correct)
        #expect(report["accuracy"] as? Double == Double(correct) / 100)
        #expect(report["unknown"] as? Int == unknown)
        #expect(report["unknown_rate"] as? Double == Double(unknown) / 100)
        #expect(report["no_face"] as? Int == noFace)
        let names = try #require(report["per_name"] as? [String: [String: Int]])
        #expect(names.mapValues { $0["images"]! } == perName.mapValues(\.images))
        #expect(names.mapValues { $0["correct"]! } == perName.mapValues(\.correct))
        let listed = try #require(report["confusions"] as? [[String: Any]])
        var got: [String: Int] = [:]
        for c in listed { got["\(c["expected"] as! String) -> \(c["predicted"] as! String)"] = c["count"] as? Int }
        #expect(got == confusions)
        let counts = listed.map { $0["count"] as! Int }
        #expect(counts == counts.sorted(by: >), "most frequent first")

        // The text report says the same.
        let textArguments: [String] = ["evaluate", "--labels", csv.path, "--weights", try CLITests.weightsFile.path,
                                       "--gallery", GalleryTests.coursePT.path, "--threshold", "\(threshold)"]
        let text = try CLITests.run(textArguments + (try CLITests.mtcnnArguments()) + [folder.appendingPathComponent("test_00.jpg").path])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("accuracy: "), "\(text.stdout)")
        #expect(text.stdout.contains("labels without an image: 99"), "\(text.stdout)")
    }

    @Test("a missing labels file exits 1; a malformed line is named")
    func badLabels() throws {
        let dir = try CLITests.scratch("labels")
        defer { try? FileManager.default.removeItem(at: dir) }
        let face = TestPaths.data("face_images_100/test_00.jpg").path
        let base = ["evaluate", "--weights", try CLITests.weightsFile.path, "--gallery", GalleryTests.coursePT.path]
        let missing = try CLITests.run(base + ["--labels", "/nonexistent.csv", face])
        #expect(missing.status == 1)
        #expect(missing.stderr == "facerec: labels /nonexistent.csv: no such file\n")
        let bad = dir.appendingPathComponent("bad.csv")
        try Data("Image,Results\ntest_00\n".utf8).write(to: bad)
        let malformed = try CLITests.run(base + ["--labels", bad.path, face])
        #expect(malformed.status == 1)
        #expect(malformed.stderr == "facerec: labels \(bad.path): line 2 is not IMAGE,NAME: test_00\n")
    }
}
