import Foundation
import Testing

@testable import FaceRecognition

/// `quality` in detect/identify JSON and `--min-quality` in detect, identify, embed and crop,
/// checked against the scores `detect --keep-all` reports for the same faces.
@Suite("facerec CLI: face quality")
struct CLIQualityTests {
    static let images = (0..<16).map { TestPaths.data(String(format: "face_images_100/test_%02d.jpg", $0)).path }

    /// Every face's quality object, per image, from `detect --keep-all`.
    static func qualities() throws -> [[[String: Double]]] {
        let result = try CLITests.run(["detect", "--keep-all"] + (try CLITests.mtcnnArguments()) + images)
        #expect(result.status == 0, "\(result.stderr)")
        return try CLIFolderTests.json(result.stdout).map { line in
            try #require(line["faces"] as? [[String: Any]]).map { try #require($0["quality"] as? [String: Double]) }
        }
    }

    @Test("detect reports each face's quality; the score is the weakest part of the documented formula",
          .enabled(if: MTCNNTestSupport.weightsDirectory != nil, "needs the MTCNN weights"))
    func qualityInDetect() throws {
        let all = try Self.qualities()
        #expect(all.count == Self.images.count)
        for q in all.flatMap({ $0 }) {
            let parts = [min(q["sharpness"]! / 100, 1), 1 - abs(q["brightness"]! - 127.5) / 127.5,
                         min(q["size"]! / 64, 1), q["frontal"]!]
            #expect(abs(q["score"]! - parts.min()!) < 1e-5, "\(q)")
            #expect(abs(q["yaw"]!) <= 90 && abs(q["roll"]!) <= 180)
        }
    }

    @Test("--min-quality skips the faces below it in detect, identify, embed and crop, and says how many",
          .enabled(if: MTCNNTestSupport.weightsDirectory != nil, "needs the MTCNN weights"))
    func minQuality() throws {
        let all = try Self.qualities()
        // A cut-off in the middle of the scores, half-way between two of them.
        let scores = Set(all.flatMap { $0.map { $0["score"]! } }).sorted()
        try #require(scores.count >= 4)
        let cut = (scores[scores.count / 2 - 1] + scores[scores.count / 2]) / 2
        let keptPerImage = all.map { $0.filter { $0["score"]! >= cut }.count }
        let kept = keptPerImage.reduce(0, +), total = all.map(\.count).reduce(0, +)
        try #require(kept > 0 && kept < total)
        let note = "facerec: skipped \(total - kept) face(s) below --min-quality \(Float(cut))\n"
        let mtcnn = try CLITests.mtcnnArguments()

        let detect = try CLITests.run(["detect", "--keep-all", "--min-quality", "\(cut)"] + mtcnn + Self.images)
        #expect(detect.status == 0)
        #expect(detect.stderr == note)
        let listed = try CLIFolderTests.json(detect.stdout).map { try #require($0["faces"] as? [[String: Any]]) }
        #expect(listed.map(\.count) == keptPerImage)
        #expect(listed.flatMap { $0 }.allSatisfy { (($0["quality"] as? [String: Double])?["score"] ?? 0) >= cut })

        let embed = try CLITests.run(["embed", "--weights", CLITests.weightsFile.path, "--min-quality", "\(cut)"] + mtcnn + Self.images)
        #expect(embed.status == 0, "\(embed.stderr)")
        #expect(embed.stdout.split(separator: "\n").count == kept)
        #expect(embed.stderr.hasSuffix(note), "\(embed.stderr)")

        // identify and crop keep the largest face that passes: an image with none is NoFace / not written.
        let identify = try CLITests.run(["identify", "--json", "--weights", CLITests.weightsFile.path, "--gallery",
                                         GalleryTests.coursePT.path, "--min-quality", "\(cut)"] + mtcnn + Self.images)
        #expect(identify.status == 0, "\(identify.stderr)")
        let lines = try CLIFolderTests.json(identify.stdout)
        #expect(lines.count == Self.images.count)
        for (line, (count, faces)) in zip(lines, zip(keptPerImage, all)) {
            if count == 0 {
                #expect(line["name"] as? String == "NoFace")
                #expect(line["skipped"] as? Int == faces.count)
            } else {
                let quality = try #require(line["quality"] as? [String: Double])
                #expect(quality["score"]! >= cut)
                #expect(line["skipped"] == nil)
            }
        }
        #expect(identify.stderr == note)

        let out = try CLITests.scratch("quality-crops")
        defer { try? FileManager.default.removeItem(at: out) }
        let crop = try CLITests.run(["crop", "--out-dir", out.path, "--min-quality", "\(cut)"] + mtcnn + Self.images)
        #expect(crop.status == 0, "\(crop.stderr)")
        let written = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        let expected = zip(Self.images, keptPerImage).filter { $0.1 > 0 }
            .map { URL(fileURLWithPath: $0.0).deletingPathExtension().lastPathComponent + ".png" }.sorted()
        #expect(written == expected)
        #expect(crop.stderr.contains(note), "\(crop.stderr)")

        let bad = try CLITests.run(["detect", "--min-quality", "1.5"] + mtcnn + [Self.images[0]])
        #expect(bad.status == 64)
        #expect(bad.stderr.hasPrefix("facerec: --min-quality must lie in 0...1, got 1.5"), "\(bad.stderr)")
    }
}
