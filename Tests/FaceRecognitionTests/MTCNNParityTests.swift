import Foundation
import Testing
@testable import FaceRecognition

/// End-to-end parity with facenet-pytorch's MTCNN(image_size=240, margin=0, min_face_size=20)
/// on the shared face images and photos (goldens: Tests/Fixtures/make_mtcnn_goldens.py).
@Suite(.serialized, .ownThreads, .enabled(if: TestPaths.hasData("photos/paul_rudd.jpg", "face_images_1000/test_000.jpg"),
                             TestPaths.needs("the portraits and face_images_1000")))
struct MTCNNParityTests {
    struct Record {
        var image: String?
        var flatColour: [UInt8]?
        var width: Int, height: Int
        var faces: [DetectedFace]
        var selected: Int?
        var cropPNG: String?
        var standardisedHead: [Float]
        var standardisedMean: Float?
    }

    static func records() throws -> [Record] {
        let raw = try #require(try MTCNNTestSupport.json("detections.json") as? [[String: Any]])
        return try raw.map { r in
            let faces = try (r["faces"] as? [[String: Any]] ?? []).map { f -> DetectedFace in
                let b = MTCNNTestSupport.floats(f["box"])
                let marks = try #require(f["landmarks"] as? [Any]).map { MTCNNTestSupport.floats($0) }
                return DetectedFace(box: FaceBox(x1: b[0], y1: b[1], x2: b[2], y2: b[3]),
                                    probability: Float((f["prob"] as? NSNumber)?.doubleValue ?? .nan),
                                    landmarks: marks.map { FacePoint(x: $0[0], y: $0[1]) })
            }
            return Record(image: r["image"] as? String,
                          flatColour: (r["synthetic_flat"] as? [Int])?.map { UInt8($0) },
                          width: try #require(r["width"] as? Int), height: try #require(r["height"] as? Int),
                          faces: faces, selected: r["selected"] as? Int, cropPNG: r["crop_png"] as? String,
                          standardisedHead: MTCNNTestSupport.floats(r["standardised_head"]),
                          standardisedMean: (r["standardised_mean"] as? NSNumber).map { Float($0.doubleValue) })
        }
    }

    static func load(_ record: Record) throws -> RGBImage {
        if let rgb = record.flatColour {
            var pixels = [UInt8](repeating: 0, count: record.width * record.height * 3)
            for i in 0..<(record.width * record.height) { pixels[3 * i] = rgb[0]; pixels[3 * i + 1] = rgb[1]; pixels[3 * i + 2] = rgb[2] }
            return try RGBImage(width: record.width, height: record.height, pixels: pixels)
        }
        let url = TestPaths.data(try #require(record.image))
        // PIL's open + convert('RGB') ignores EXIF orientation.
        return try ImageDecoder.decode(contentsOf: url, options: DecodeOptions(applyEXIFOrientation: false))
    }

    /// Worst differences over every matched face, printed for the report.
    struct Worst: CustomStringConvertible {
        var box: Float = 0, prob: Float = 0, landmark: Float = 0
        var description: String { "box \(box) px, prob \(prob), landmark \(landmark) px" }
    }

    @Test func everyImageMatchesFacenetPytorch() throws {
        let records = try Self.records()
        #expect(records.count > 400)
        let mtcnn = try MTCNNTestSupport.detector(MTCNNOptions(keepAll: true))
        var worst = Worst()
        var mismatched: [String] = []
        for record in records {
            let name = record.image ?? "flat \(record.flatColour ?? [])"
            let image = try Self.load(record)
            #expect(image.width == record.width && image.height == record.height, "\(name)")
            let faces = try mtcnn.detect(image)
            guard faces.count == record.faces.count else {
                mismatched.append("\(name): \(faces.count) faces, expected \(record.faces.count)")
                continue
            }
            for (got, want) in zip(faces, record.faces) {
                worst.box = max(worst.box, MTCNNTestSupport.maxAbsDiff(got.box.array, want.box.array))
                worst.prob = max(worst.prob, abs(got.probability - want.probability))
                worst.landmark = max(worst.landmark, MTCNNTestSupport.maxAbsDiff(
                    got.landmarks.flatMap { [$0.x, $0.y] }, want.landmarks.flatMap { [$0.x, $0.y] }))
            }
        }
        print("MTCNN parity over \(records.count) images: worst \(worst)")
        #expect(mismatched.isEmpty, "\(mismatched)")
        #expect(worst.box <= 1)
        #expect(worst.prob <= 1e-3)
        #expect(worst.landmark <= 1)
        // The goldens hold multi-face and face-less images: the counts are really checked.
        #expect(records.contains { $0.faces.count > 3 } && records.contains { $0.faces.isEmpty })
    }

    @Test func selectedFaceAndCropsMatchFacenetPytorch() throws {
        let records = try Self.records().filter { $0.cropPNG != nil || $0.flatColour != nil }
        #expect(records.filter { $0.cropPNG != nil }.count >= 6)
        let mtcnn = try MTCNNTestSupport.detector(MTCNNOptions(imageSize: 240, margin: 0))
        var worstPixel = 0, worstMean = 0.0
        for record in records {
            let name = record.image ?? "flat"
            let image = try Self.load(record)
            let crops = try mtcnn.extractFaces(image)
            guard let png = record.cropPNG, let selected = record.selected else {
                #expect(crops.isEmpty, "\(name): a face-less image gave \(crops.count) crops")
                continue
            }
            try #require(crops.count == 1, "\(name)")
            let crop = crops[0]
            #expect(MTCNNTestSupport.maxAbsDiff(crop.face.box.array, record.faces[selected].box.array) <= 1, "\(name)")
            let expected = try ImageDecoder.decode(contentsOf: MTCNNTestSupport.goldens.appendingPathComponent(png))
            try #require(crop.image.width == 240 && crop.image.height == 240 && expected.width == 240)
            let diffs = zip(crop.image.pixels, expected.pixels).map { abs(Int($0) - Int($1)) }
            let maxDiff = diffs.max() ?? 0, mean = Double(diffs.reduce(0, +)) / Double(diffs.count)
            worstPixel = max(worstPixel, maxDiff)
            worstMean = max(worstMean, mean)
            #expect(maxDiff <= 2, "\(name): max pixel difference \(maxDiff)")
            #expect(mean < 0.5, "\(name): mean pixel difference \(mean)")
            // The standardised tensor: (x − 127.5) / 128, CHW, as forward() returns it.
            #expect(crop.tensor.count == 3 * 240 * 240)
            #expect(MTCNNTestSupport.maxAbsDiff(Array(crop.tensor.prefix(8)), record.standardisedHead) <= 2.0 / 128 + 1e-6)
            let mean32 = crop.tensor.reduce(0, +) / Float(crop.tensor.count)
            #expect(abs(mean32 - (record.standardisedMean ?? .nan)) < 0.01, "\(name)")
        }
        print("MTCNN crops: worst pixel difference \(worstPixel), worst mean |Δ| \(worstMean)")
    }

    @Test func selectionMethodsPickTheDocumentedFace() throws {
        // multiface.jpg has several faces: largest-first order and the four selection methods.
        let record = try #require(try Self.records().first { $0.image == "photos/multiface.jpg" })
        let image = try Self.load(record)
        let all = try MTCNNTestSupport.detector(MTCNNOptions(keepAll: true)).detect(image)
        #expect(all.count == record.faces.count && all.count > 3)
        #expect(zip(all, all.dropFirst()).allSatisfy { $0.box.area >= $1.box.area })
        let byProb = try MTCNNTestSupport.detector(MTCNNOptions(selectLargest: false, keepAll: true)).detect(image)
        #expect(zip(byProb, byProb.dropFirst()).allSatisfy { $0.probability >= $1.probability })
        let largest = try MTCNNTestSupport.detector().detect(image)
        #expect(largest == [all[0]])
        let probable = try MTCNNTestSupport.detector(MTCNNOptions(selectLargest: false)).detect(image)
        #expect(probable.first?.probability == all.map(\.probability).max())
        let centred = try MTCNNTestSupport.detector(MTCNNOptions(selectionMethod: .centerWeightedSize)).detect(image)
        #expect(centred.count == 1)
    }
}
