import Foundation
import Testing

@testable import FaceRecognition

/// ``FaceQuality`` and ``FacePose``: each measure moves the way its definition says when the
/// image or the landmarks are changed in a known way.
@Suite("Face quality")
struct FaceQualityTests {
    static let hasWeights = MTCNNTestSupport.weightsDirectory != nil
    static let stems = (0..<8).map { String(format: "test_%02d", $0) }

    /// The sample faces and the largest face MTCNN finds in each.
    static func sampleFaces() throws -> [(image: RGBImage, face: DetectedFace)] {
        let detector = try MTCNNTestSupport.detector()
        return try stems.compactMap { stem in
            let image = try ImageDecoder.decode(contentsOf: TestPaths.data("face_images_100/\(stem).jpg"))
            return try detector.detect(image).first.map { (image, $0) }
        }
    }

    /// A 5×5 box blur (edges clamped).
    static func blurred(_ image: RGBImage) throws -> RGBImage {
        var out = image.pixels
        for y in 0..<image.height {
            for x in 0..<image.width {
                for c in 0..<3 {
                    var sum = 0
                    for dy in -2...2 {
                        for dx in -2...2 {
                            let sx = min(max(x + dx, 0), image.width - 1), sy = min(max(y + dy, 0), image.height - 1)
                            sum += Int(image.pixels[(sy * image.width + sx) * 3 + c])
                        }
                    }
                    out[(y * image.width + x) * 3 + c] = UInt8((sum + 12) / 25)
                }
            }
        }
        return try RGBImage(width: image.width, height: image.height, pixels: out)
    }

    @Test("a blurred copy of each sample face is less sharp, a darker copy less bright",
          .enabled(if: hasWeights, "needs the MTCNN weights (weights/fetch_mtcnn_weights.sh)"))
    func blurAndDarkness() throws {
        let faces = try Self.sampleFaces()
        try #require(faces.count >= 6)
        for (image, face) in faces {
            let original = FaceQuality.assess(image, face: face)
            let blurry = FaceQuality.assess(try Self.blurred(image), face: face)
            let dark = FaceQuality.assess(try RGBImage(width: image.width, height: image.height,
                                                       pixels: image.pixels.map { $0 / 2 }), face: face)
            #expect(blurry.sharpness < original.sharpness / 2, "\(original.sharpness) -> \(blurry.sharpness)")
            #expect(abs(dark.brightness - original.brightness / 2) < 1, "\(original.brightness) -> \(dark.brightness)")
            // Only the pixels changed: size and pose are the same.
            #expect(blurry.size == original.size && dark.pose == original.pose)
            #expect(original.size == min(face.box.x2 - face.box.x1, face.box.y2 - face.box.y1))
        }
    }

    @Test("sharpness and brightness are the Laplacian variance and mean luma of the box, computed by hand")
    func formulas() throws {
        // A 6×5 image whose box covers columns 1..<5, rows 1..<4 (a 4×3 crop).
        var pixels = [UInt8](repeating: 0, count: 6 * 5 * 3)
        let values: [[UInt8]] = [[10, 200, 30, 40], [90, 60, 250, 0], [5, 120, 77, 33]]
        for (row, line) in values.enumerated() {
            for (column, v) in line.enumerated() {
                let i = ((row + 1) * 6 + column + 1) * 3
                pixels[i] = v; pixels[i + 1] = v; pixels[i + 2] = v
            }
        }
        let image = try RGBImage(width: 6, height: 5, pixels: pixels)
        let face = DetectedFace(box: FaceBox(x1: 1.7, y1: 1.2, x2: 5.9, y2: 4.5), probability: 1, landmarks: [])
        let quality = FaceQuality.assess(image, face: face)
        // Interior pixels of the 4×3 crop: (1,1) and (2,1).
        let l1 = Double(90 + 250 + 200 + 120) - 4 * 60, l2 = Double(30 + 0 + 60 + 77) - 4 * 250
        let mean = (l1 + l2) / 2
        let variance = ((l1 - mean) * (l1 - mean) + (l2 - mean) * (l2 - mean)) / 2
        #expect(abs(Double(quality.sharpness) - variance) < 1e-2 * variance)
        // Grey pixels: the luma is the value itself.
        let total: Double = values.flatMap { $0 }.map(Double.init).reduce(0, +)
        #expect(abs(Double(quality.brightness) - total / 12) < 1e-3)
        #expect(quality.size == Float(4.5) - Float(1.2))
        #expect(quality.pose == nil)
        // Without a pose the score is the weakest of the other three parts.
        let parts = [min(quality.sharpness / 100, 1), 1 - abs(quality.brightness - 127.5) / 127.5, min(quality.size / 64, 1)]
        #expect(quality.score == parts.min())
    }

    /// An upright face with the nose `noseOffset` pixels right of the eyes' midpoint.
    static func landmarks(noseOffset: Float) -> [FacePoint] {
        [FacePoint(x: 30, y: 40), FacePoint(x: 70, y: 40), FacePoint(x: 50 + noseOffset, y: 60),
         FacePoint(x: 35, y: 80), FacePoint(x: 65, y: 80)]
    }

    /// Mirrored left-right about x = 50: the image's left eye is the mirrored right eye.
    static func mirrored(_ p: [FacePoint]) -> [FacePoint] {
        let m = p.map { FacePoint(x: 100 - $0.x, y: $0.y) }
        return [m[1], m[0], m[2], m[4], m[3]]
    }

    /// Rotated by `degrees` clockwise as seen (y down) about (50, 50).
    static func rotated(_ p: [FacePoint], degrees: Double) -> [FacePoint] {
        let a = degrees * .pi / 180
        return p.map {
            let x = Double($0.x) - 50, y = Double($0.y) - 50
            return FacePoint(x: Float(50 + x * cos(a) - y * sin(a)), y: Float(50 + x * sin(a) + y * cos(a)))
        }
    }

    @Test("pose: frontal, turned, mirrored and rotated landmark sets")
    func pose() throws {
        let frontal = try #require(FacePose(landmarks: Self.landmarks(noseOffset: 0)))
        #expect(abs(frontal.yaw) < 1e-4 && abs(frontal.roll) < 1e-4 && abs(frontal.frontal - 1) < 1e-6)
        // Nose half-way from the midpoint to the right eye: asin(10 / 20) = 30°.
        let turned = try #require(FacePose(landmarks: Self.landmarks(noseOffset: 10)))
        #expect(abs(turned.yaw - 30) < 1e-3)
        #expect(abs(turned.frontal - Float(cos(Double.pi / 6))) < 1e-5)
        let mirror = try #require(FacePose(landmarks: Self.mirrored(Self.landmarks(noseOffset: 10))))
        #expect(abs(mirror.yaw + 30) < 1e-3 && abs(mirror.roll) < 1e-4)
        // Nose at or beyond an eye: a profile.
        #expect(try #require(FacePose(landmarks: Self.landmarks(noseOffset: 25))).yaw == 90)
        for degrees in [-60.0, -20, 10, 45, 90] {
            let pose = try #require(FacePose(landmarks: Self.rotated(Self.landmarks(noseOffset: 10), degrees: degrees)))
            #expect(abs(Double(pose.roll) - degrees) < 1e-3, "roll for \(degrees)°")
            #expect(abs(pose.yaw - 30) < 1e-3, "yaw unchanged by roll (\(degrees)°)")
            let expected = max(0, cos(Double.pi / 6)) * max(0, cos(degrees * .pi / 180))
            #expect(abs(Double(pose.frontal) - expected) < 1e-5)
        }
        let upsideDown = try #require(FacePose(landmarks: Self.rotated(Self.landmarks(noseOffset: 0), degrees: 180)))
        #expect(abs(abs(upsideDown.roll) - 180) < 1e-3 && upsideDown.frontal == 0)
        #expect(FacePose(landmarks: [FacePoint(x: 1, y: 1), FacePoint(x: 1, y: 1), FacePoint(x: 2, y: 2)]) == nil)
        #expect(FacePose(landmarks: []) == nil)
    }

    @Test("MTCNN's landmarks on mirrored sample faces give the opposite yaw and roll",
          .enabled(if: hasWeights, "needs the MTCNN weights (weights/fetch_mtcnn_weights.sh)"))
    func mirroredDetections() throws {
        let detector = try MTCNNTestSupport.detector()
        var compared = 0
        for (image, face) in try Self.sampleFaces() {
            let flipped = image.oriented(.upMirrored)
            guard let other = try detector.detect(flipped).first,
                  let a = FacePose(landmarks: face.landmarks), let b = FacePose(landmarks: other.landmarks) else { continue }
            #expect(abs(a.yaw + b.yaw) < 12, "yaw \(a.yaw) vs mirrored \(b.yaw)")
            #expect(abs(a.roll + b.roll) < 6, "roll \(a.roll) vs mirrored \(b.roll)")
            compared += 1
        }
        #expect(compared >= 6)
    }

    @Test("Codable round trip")
    func codable() throws {
        let quality = FaceQuality(sharpness: 812.5, brightness: 96.25, size: 41,
                                  pose: FacePose(yaw: -12.5, roll: 3.25, frontal: 0.97))
        let data = try JSONEncoder().encode(quality)
        #expect(try JSONDecoder().decode(FaceQuality.self, from: data) == quality)
        let noPose = FaceQuality(sharpness: 1, brightness: 2, size: 3, pose: nil)
        #expect(try JSONDecoder().decode(FaceQuality.self, from: JSONEncoder().encode(noPose)) == noPose)
    }
}
