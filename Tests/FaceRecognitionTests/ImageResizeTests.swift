import Foundation
import Testing
@testable import FaceRecognition

/// `resizedBilinear` against PIL's `Image.resize(size, Image.BILINEAR)`, bit for bit.
@Suite("Image resize", .ownThreads)
struct ImageResizeTests {
    @Test("bilinear resize matches PIL exactly", arguments: try ImageFixtures.manifest.resize)
    func matchesPIL(_ fixture: ImageFixtureManifest.ResizeCase) throws {
        let source = try RGBImage(width: fixture.source_width, height: fixture.source_height,
                                  pixels: try ImageFixtures.expectedPixels(fixture.source))
        let resized = source.resizedBilinear(width: fixture.width, height: fixture.height)
        #expect(resized.width == fixture.width && resized.height == fixture.height)
        let expected = try ImageFixtures.expectedPixels(fixture.expected)
        let diff = ImageFixtures.maxAbsDiff(resized.pixels, expected)
        #expect(diff == 0, "max |Δ| \(diff), \(ImageFixtures.differingCount(resized.pixels, expected)) bytes differ")
    }

    @Test("extract_face path: our decode → crop → resize(240) equals PIL's")
    func extractFacePath() throws {
        // The face_crop goldens are PIL's crop of test_00.jpg resized; run the same steps on
        // our own decode of the shared file.
        let manifest = try ImageFixtures.manifest
        let patch = try #require(manifest.shared_patches.first { $0.file.hasSuffix("test_00.jpg") })
        let fixture = try #require(manifest.resize.first { $0.source == patch.expected && $0.width == 240 })
        let image = try ImageDecoder.decode(
            contentsOf: TestPaths.data(patch.file),
            options: .init(applyEXIFOrientation: false))
        let face = image.cropped(x1: patch.box[0], y1: patch.box[1], x2: patch.box[2], y2: patch.box[3])
            .resizedBilinear(width: 240, height: 240)
        let expected = try ImageFixtures.expectedPixels(fixture.expected)
        #expect(ImageFixtures.maxAbsDiff(face.pixels, expected) <= ImageDecodingTests.jpegTolerance)
    }

    @Test("same size is the identity; empty targets give empty images")
    func edgeSizes() throws {
        var rng = SplitMix64(seed: 7)
        let pixels = (0..<(5 * 4 * 3)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let image = try RGBImage(width: 5, height: 4, pixels: pixels)
        #expect(image.resizedBilinear(width: 5, height: 4) == image)
        #expect(image.resizedBilinear(width: 0, height: 4).pixels.isEmpty)
        #expect(image.resizedBilinear(width: 3, height: -1).pixels.isEmpty)
        let empty = try RGBImage(width: 0, height: 0, pixels: [])
        let black = empty.resizedBilinear(width: 2, height: 2)
        #expect(black.width == 2 && black.pixels == [UInt8](repeating: 0, count: 12))
    }

    @Test("the horizontal pass (8 pixels per AVX2 step) gives Pillow's formula's bytes at every width")
    func horizontalPassEqualsTheFormula() {
        let (inWidth, inHeight) = (203, 5)
        var state: UInt64 = 7
        let pixels = (0..<(inWidth * inHeight * 3)).map { _ -> UInt8 in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        for outWidth in Array(1...24) + [37, 64, 101, 202, 203, 250, 611] {
            let c = BilinearResampler.coefficients(inSize: inWidth, in0: 0, in1: Float(inWidth), outSize: outWidth)
            // Rows from an odd offset (rows start off 4-byte boundaries), to the image's last row or not.
            for (rowOffset, rows) in [(1, 4), (0, 3)] {
                let got = BilinearResampler.horizontalPass(pixels, inWidth: inWidth, rowOffset: rowOffset, rows: rows,
                                                           outWidth: outWidth, coefficients: c)
                var expected = [UInt8](repeating: 0, count: outWidth * rows * 3)
                for y in 0..<rows {
                    for xx in 0..<outWidth {
                        for ch in 0..<3 {
                            var sum = Int32(1) << 21
                            let start = Int(c.first[xx])
                            for k in 0..<Int(c.count[xx]) {
                                sum += Int32(pixels[((y + rowOffset) * inWidth + start + k) * 3 + ch]) * c.weights[xx * c.stride + k]
                            }
                            expected[(y * outWidth + xx) * 3 + ch] = BilinearResampler.clip8(sum)
                        }
                    }
                }
                let first = got.indices.first { got[$0] != expected[$0] }
                #expect(first == nil, "\(outWidth) wide from row \(rowOffset): first difference at byte \(first ?? -1)")
            }
        }
    }

    @Test("the vertical pass (32 bytes per AVX2 step) gives Pillow's formula's bytes at every row width")
    func verticalPassEqualsTheFormula() {
        var state: UInt64 = 11
        let inHeight = 37
        // Row widths below, at and past the 32-byte step and its tail (3 bytes a pixel).
        for width in [1, 5, 10, 11, 21, 64, 87] {
            let pixels = (0..<(width * inHeight * 3)).map { _ -> UInt8 in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return UInt8(truncatingIfNeeded: state >> 56)
            }
            for outHeight in [1, 2, 9, 36, 37, 120] {
                let c = BilinearResampler.coefficients(inSize: inHeight, in0: 0, in1: Float(inHeight), outSize: outHeight)
                let got = BilinearResampler.verticalPass(pixels, width: width, outHeight: outHeight, coefficients: c)
                let rowBytes = width * 3
                var expected = [UInt8](repeating: 0, count: rowBytes * outHeight)
                for yy in 0..<outHeight {
                    for i in 0..<rowBytes {
                        var sum = Int32(1) << 21
                        for k in 0..<Int(c.count[yy]) {
                            sum += Int32(pixels[(Int(c.first[yy]) + k) * rowBytes + i]) * c.weights[yy * c.stride + k]
                        }
                        expected[yy * rowBytes + i] = BilinearResampler.clip8(sum)
                    }
                }
                let first = got.indices.first { got[$0] != expected[$0] }
                #expect(got.count == expected.count && first == nil,
                        "\(width) wide to \(outHeight) rows: first difference at byte \(first ?? -1)")
            }
        }
    }

    @Test("a constant image stays constant at any size (weights sum to one)")
    func constantImage() throws {
        let image = try RGBImage(width: 7, height: 3, pixels: [UInt8](repeating: 0, count: 63).enumerated().map {
            [200, 17, 255][$0.offset % 3]
        })
        for (w, h) in [(1, 1), (240, 240), (3, 50), (13, 2)] {
            let resized = image.resizedBilinear(width: w, height: h)
            for y in 0..<h { for x in 0..<w { #expect(resized[x, y] == (200, 17, 255)) } }
        }
    }
}

/// `cropped` follows PIL's `Image.crop`: boxes may leave the image; outside is black.
@Suite("Image crop", .ownThreads)
struct ImageCropTests {
    let image: RGBImage

    init() throws {
        // Pixel (x, y) = (x, y, x + 10 * y), easy to check.
        var pixels: [UInt8] = []
        for y in 0..<4 { for x in 0..<5 { pixels += [UInt8(x), UInt8(y), UInt8(x + 10 * y)] } }
        image = try RGBImage(width: 5, height: 4, pixels: pixels)
    }

    @Test("crop matches PIL's Image.crop", arguments: try ImageFixtures.manifest.crop)
    func matchesPIL(_ fixture: ImageFixtureManifest.CropCase) throws {
        let source = try RGBImage(width: fixture.source_width, height: fixture.source_height,
                                  pixels: try ImageFixtures.expectedPixels(fixture.source))
        let b = fixture.box
        let crop = source.cropped(x1: b[0], y1: b[1], x2: b[2], y2: b[3])
        #expect(crop.width == b[2] - b[0] && crop.height == b[3] - b[1])
        #expect(crop.pixels == (try ImageFixtures.expectedPixels(fixture.expected)))
    }

    @Test("inside crop copies the box")
    func inside() {
        let crop = image.cropped(x1: 1, y1: 2, x2: 4, y2: 4)
        #expect(crop.width == 3 && crop.height == 2)
        #expect(crop[0, 0] == (1, 2, 21))
        #expect(crop[2, 1] == (3, 3, 33))
    }

    @Test("outside the image is black")
    func outside() {
        let crop = image.cropped(x1: -2, y1: -1, x2: 7, y2: 5)
        #expect(crop.width == 9 && crop.height == 6)
        #expect(crop[0, 0] == (0, 0, 0))
        #expect(crop[2, 1] == (0, 0, 0))  // source (0,0) is (0,0,0) too; check a non-zero one
        #expect(crop[3, 2] == (1, 1, 11))
        #expect(crop[8, 5] == (0, 0, 0))
        let away = image.cropped(x1: 10, y1: 10, x2: 12, y2: 11)
        #expect(away.width == 2 && away.height == 1 && away.pixels == [0, 0, 0, 0, 0, 0])
    }

    @Test("inverted boxes give empty images")
    func inverted() {
        let crop = image.cropped(x1: 3, y1: 3, x2: 1, y2: 1)
        #expect(crop.width == 0 && crop.height == 0 && crop.pixels.isEmpty)
    }
}
