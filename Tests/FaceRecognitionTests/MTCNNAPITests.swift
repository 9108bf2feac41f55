import Foundation
import Testing
@testable import FaceRecognition

/// MTCNN's public surface: errors, options, annotation, concurrent use.
@Suite(.ownThreads) struct MTCNNAPITests {
    @Test func missingWeightsExplainHowToFetchThem() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("no-mtcnn-weights-\(UUID())")
        #expect { _ = try MTCNN(weightsDirectory: dir) } throws: { error in
            guard case let .weightsNotFound(file) = error as? MTCNNError else { return false }
            return file.hasSuffix("pnet.pt") && "\(error)".contains("weights/fetch_mtcnn_weights.sh")
        }
    }

    @Test func unreadableWeightsNameTheFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bad-mtcnn-weights-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["pnet.pt", "rnet.pt", "onet.pt"] {
            try Data("not a checkpoint".utf8).write(to: dir.appendingPathComponent(name))
        }
        #expect { _ = try MTCNN(weightsDirectory: dir) } throws: { error in
            guard case let .weightsUnreadable(file, _) = error as? MTCNNError else { return false }
            return file.hasSuffix("pnet.pt")
        }
    }

    @Test func invalidOptionsAreRejected() throws {
        let p = try MTCNNTestSupport.stateDict("pnet.pt"), r = try MTCNNTestSupport.stateDict("rnet.pt"),
            o = try MTCNNTestSupport.stateDict("onet.pt")
        for (options, field) in [(MTCNNOptions(minFaceSize: 0), "minFaceSize"), (MTCNNOptions(factor: 1.0), "factor"),
                                 (MTCNNOptions(imageSize: 100, margin: 100), "margin")] {
            #expect { _ = try MTCNN(pnet: p, rnet: r, onet: o, options: options) } throws: { error in
                guard case let .invalidOption(f, _) = error as? MTCNNError else { return false }
                return f == field
            }
        }
        // A minFaceSize so small that the first pyramid level would be gigantic.
        let tiny = try MTCNN(pnet: p, rnet: r, onet: o, options: MTCNNOptions(minFaceSize: 0.01))
        let image = try RGBImage(width: 1000, height: 1000)
        #expect { _ = try tiny.detect(image) } throws: { error in
            guard case let .invalidOption(f, _) = error as? MTCNNError else { return false }
            return f == "minFaceSize"
        }
    }

    @Test func emptyAndTinyImages() throws {
        let mtcnn = try MTCNNTestSupport.detector()
        #expect(throws: MTCNNError.emptyImage(width: 0, height: 0)) { try mtcnn.detect(RGBImage(width: 0, height: 0)) }
        // Smaller than one P-Net cell at the first scale: no pyramid level, no face, no error.
        #expect(try mtcnn.detect(RGBImage(width: 15, height: 300)).isEmpty)
        #expect(try mtcnn.detect(RGBImage(width: 1, height: 1)).isEmpty)
    }

    @Test func concurrentDetectionsAgree() async throws {
        let mtcnn = try MTCNNTestSupport.detector(MTCNNOptions(keepAll: true))
        let url = TestPaths.data("face_images_100/test_05.jpg")
        let image = try ImageDecoder.decode(contentsOf: url, options: DecodeOptions(applyEXIFOrientation: false))
        let reference = try mtcnn.detect(image)
        #expect(!reference.isEmpty)
        let results = try await withThrowingTaskGroup(of: [DetectedFace].self) { group in
            for _ in 0..<6 { group.addTask { try mtcnn.detect(image) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 6 && results.allSatisfy { $0 == reference })
    }

    @Test func annotationDrawsBoxesAndLandmarksOnly() throws {
        let image = try RGBImage(width: 100, height: 80)
        let face = DetectedFace(box: FaceBox(x1: 10, y1: 20, x2: 60, y2: 70), probability: 0.99,
                                landmarks: [FacePoint(x: 30, y: 40)])
        let out = FaceAnnotation.annotate(image, faces: [face])
        #expect(out[10, 20] == (0, 255, 0) && out[60, 70] == (0, 255, 0) && out[35, 20] == (0, 255, 0))
        #expect(out[30, 40] == (255, 0, 0))
        #expect(out[35, 60] == (0, 0, 0) && out[90, 5] == (0, 0, 0))
        // A box partly outside the image is clipped, not a crash: the same picture size, and the
        // pixels inside the box but off its edges untouched.
        let clipped = FaceAnnotation.annotate(image, faces: [DetectedFace(box: FaceBox(x1: -50, y1: -5, x2: 500, y2: 1e9),
                                                                          probability: 1, landmarks: [FacePoint(x: .nan, y: -3)])])
        #expect(clipped.width == image.width && clipped.height == image.height)
        #expect(clipped[35, 60] == (0, 0, 0))
    }

    @Test func extractionClampsAndStandardises() throws {
        var pixels = [UInt8](repeating: 0, count: 50 * 40 * 3)
        for i in 0..<(50 * 40) { pixels[3 * i] = 255; pixels[3 * i + 1] = 128; pixels[3 * i + 2] = 0 }
        let image = try RGBImage(width: 50, height: 40, pixels: pixels)
        // A box past every edge is clamped to the image, so the crop is the flat colour.
        let crop = FaceExtraction.crop(image, box: FaceBox(x1: -10, y1: -10, x2: 80, y2: 90), size: 32, margin: 4)
        #expect(crop.width == 32 && crop.height == 32 && crop[5, 5] == (255, 128, 0))
        let tensor = FaceExtraction.standardized(crop)
        #expect(tensor[0] == (255 - 127.5) / 128 && tensor[32 * 32] == (128 - 127.5) / 128
                && tensor[2 * 32 * 32] == -127.5 / 128)
    }

    /// The tensors come from one C conversion (16 pixels per AVX2 step, a scalar tail): every
    /// value, at pixel counts below, at and past the step, is the per-pixel formula's float.
    @Test func tensorsAreThePerPixelFormulaAtEverySize() throws {
        var state: UInt64 = 5
        for (w, h) in [(1, 1), (3, 5), (4, 4), (17, 1), (33, 3), (240, 240)] {
            let pixels = (0..<(w * h * 3)).map { _ -> UInt8 in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return UInt8(truncatingIfNeeded: state >> 56)
            }
            let crop = try RGBImage(width: w, height: h, pixels: pixels)
            let standardized = FaceExtraction.standardized(crop), raw = FaceExtraction.rawTensor(crop)
            let plane = w * h
            #expect(standardized.count == 3 * plane && raw.count == 3 * plane)
            var wrong = 0
            for i in 0..<plane {
                for c in 0..<3 {
                    let v = Float(pixels[3 * i + c])
                    if standardized[c * plane + i] != (v - 127.5) / 128 || raw[c * plane + i] != v { wrong += 1 }
                }
            }
            #expect(wrong == 0, "\(w)×\(h): \(wrong) values differ")
            // FaceNet's batch builder writes the same floats after what the buffer holds.
            var batch: [Float] = [-1, 2]
            FaceNet.appendStandardized(crop, to: &batch)
            #expect(batch == [-1, 2] + standardized, "\(w)×\(h): appendStandardized")
        }
    }
}
