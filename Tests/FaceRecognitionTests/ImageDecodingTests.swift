import Foundation
import Testing
@testable import FaceRecognition

/// Every fixture variant decodes to the pixels PIL's `Image.open(f).convert("RGB")` gives.
@Suite("Image decoding", .ownThreads)
struct ImageDecodingTests {
    /// PNG decoding is lossless and must match PIL exactly. JPEG output depends on the libjpeg
    /// build (PIL 13's wheel bundles libjpeg-turbo 3.2; Debian 12 links 2.1.5), but the ISLOW
    /// IDCT and fancy upsampling both use are bit-exact across turbo versions: the difference
    /// observed on every fixture and shared-image patch is 0, and that is what is asserted. If a
    /// future libjpeg rounds differently, raise this to 1 and say so.
    static let jpegTolerance = 0

    static let noOrientation = DecodeOptions(applyEXIFOrientation: false)

    @Test("decodes like PIL", arguments: try ImageFixtures.manifest.decode)
    func decodesLikePIL(_ fixture: ImageFixtureManifest.DecodeCase) throws {
        let decoded = try ImageDecoder.decodeWithMetadata(try ImageFixtures.data(fixture.file),
                                                          options: Self.noOrientation)
        let image = decoded.image
        #expect(image.width == fixture.width && image.height == fixture.height)
        let expected = try ImageFixtures.expectedPixels(fixture.expected)
        let diff = ImageFixtures.maxAbsDiff(image.pixels, expected)
        let tolerance = decoded.format == .jpeg ? Self.jpegTolerance : 0
        #expect(diff <= tolerance,
                "\(fixture.file) (PIL mode \(fixture.pil_mode)): max |Δ| \(diff), \(ImageFixtures.differingCount(image.pixels, expected)) bytes differ")
        // The observed JPEG difference is zero; keep it visible if that ever changes.
        if decoded.format == .jpeg && diff != 0 {
            print("note: \(fixture.file) differs from PIL by at most \(diff)")
        }
    }

    @Test("EXIF orientation is applied by default, like ImageOps.exif_transpose",
          arguments: try ImageFixtures.manifest.decode.filter { $0.orientation != nil })
    func orientationApplied(_ fixture: ImageFixtureManifest.DecodeCase) throws {
        let data = try ImageFixtures.data(fixture.file)
        let decoded = try ImageDecoder.decodeWithMetadata(data)
        #expect(decoded.exifOrientation?.rawValue == fixture.orientation)
        let image = decoded.image
        #expect(image.width == fixture.oriented_width && image.height == fixture.oriented_height)
        if let orientation = fixture.orientation, orientation >= 5 {
            #expect(image.width == fixture.height && image.height == fixture.width, "dimensions swap")
        }
        let expected = try ImageFixtures.expectedPixels(try #require(fixture.oriented_expected))
        let tolerance = decoded.format == .jpeg ? Self.jpegTolerance : 0
        let diff = ImageFixtures.maxAbsDiff(image.pixels, expected)
        #expect(diff <= tolerance, "\(fixture.file): max |Δ| \(diff) vs exif_transpose")
    }

    @Test("EXIF orientation is ignored when disabled (PIL/facenet-pytorch parity)",
          arguments: try ImageFixtures.manifest.decode.filter { $0.orientation != nil })
    func orientationIgnoredWhenDisabled(_ fixture: ImageFixtureManifest.DecodeCase) throws {
        let data = try ImageFixtures.data(fixture.file)
        let image = try ImageDecoder.decode(data, options: Self.noOrientation)
        #expect(image.width == fixture.width && image.height == fixture.height)
        let expected = try ImageFixtures.expectedPixels(fixture.expected)
        #expect(ImageFixtures.maxAbsDiff(image.pixels, expected) <= Self.jpegTolerance)
        // And the oriented result really is different (so the test above can fail).
        if fixture.orientation != 1 {
            let oriented = try ImageDecoder.decode(data)
            #expect(oriented != image)
        }
    }

    @Test("malformed EXIF is ignored, not fatal")
    func malformedEXIF() throws {
        let decoded = try ImageDecoder.decodeWithMetadata(try ImageFixtures.data("exif_malformed.jpg"))
        #expect(decoded.exifOrientation == nil)
        let plain = try ImageDecoder.decode(try ImageFixtures.data("baseline.jpg"))
        #expect(decoded.image == plain)
    }

    @Test("concurrent decodes share no state")
    func concurrentDecodes() async throws {
        let names = ["baseline.jpg", "progressive.jpg", "cmyk.jpg", "rgb16.png", "palette_trns.png", "exif_6.jpg"]
        let inputs = try names.map { try ImageFixtures.data($0) }
        let serial = try inputs.map { try ImageDecoder.decode($0) }
        let results = try await withThrowingTaskGroup(of: (Int, RGBImage).self) { group in
            for round in 0..<8 {
                for (index, data) in inputs.enumerated() {
                    group.addTask { (index, try ImageDecoder.decode(data)) }
                    _ = round
                }
            }
            var all: [(Int, RGBImage)] = []
            for try await result in group { all.append(result) }
            return all
        }
        #expect(results.count == 8 * names.count)
        for (index, image) in results { #expect(image == serial[index], "\(names[index])") }
    }

    /// As PIL: junk after the end is ignored; a JPEG without its EOI marker is "truncated"
    /// (libjpeg reads past the last scan looking for it), a PNG without IEND is complete.
    @Test("trailing bytes ignored; missing EOI is truncation, missing IEND is not (as PIL)")
    func trailingBytes() throws {
        for name in ["baseline.jpg", "rgb.png"] {
            let data = try ImageFixtures.data(name)
            let full = try ImageDecoder.decode(data)
            #expect(try ImageDecoder.decode(data + Data(repeating: 0xAB, count: 100)) == full)
        }
        let jpeg = try ImageFixtures.data("baseline.jpg")
        #expect {
            try ImageDecoder.decode(jpeg.dropLast(2))
        } throws: { error in
            if case .truncated = error as? ImageDecodingError { return true }
            return false
        }
        let png = try ImageFixtures.data("rgb.png")
        #expect(try ImageDecoder.decode(png.dropLast(12)) == ImageDecoder.decode(png))
    }

    @Test("format sniffing by magic bytes")
    func sniffing() throws {
        #expect(ImageFormat.sniff(try ImageFixtures.data("baseline.jpg")) == .jpeg)
        #expect(ImageFormat.sniff(try ImageFixtures.data("rgb.png")) == .png)
        #expect(ImageFormat.sniff(Data("GIF89a....".utf8)) == nil)
        #expect(ImageFormat.sniff(Data([0xFF, 0xD8])) == nil)
        #expect(ImageFormat.sniff(Data()) == nil)
    }

    @Test("decode(contentsOf:) reads files and tags errors with the path")
    func decodeFromFile() throws {
        let url = ImageFixtures.directory.appendingPathComponent("rgb.png")
        let image = try ImageDecoder.decode(contentsOf: url)
        #expect(image.width == 36 && image.height == 48)
        let missing = ImageFixtures.directory.appendingPathComponent("no-such-file.jpg")
        #expect {
            try ImageDecoder.decode(contentsOf: missing)
        } throws: { error in
            guard case .unreadableFile(let path, _) = error as? ImageDecodingError else { return false }
            return path == missing.path
        }
        let huge = ImageFixtures.directory.appendingPathComponent("huge_header.png")
        do {
            _ = try ImageDecoder.decode(contentsOf: huge)
            Issue.record("huge_header.png decoded")
        } catch {
            #expect(error.description.contains("huge_header.png"))
            #expect(error.cause == .tooLarge(width: 100_000, height: 100_000, limit: 50_000_000))
        }
    }

    @Test("real shared images decode to PIL's pixels",
          .enabled(if: TestPaths.hasData("photos/paul_rudd.jpg"), TestPaths.needs("the portraits (photos/)")),
          arguments: try ImageFixtures.manifest.shared_patches)
    func sharedPatches(_ patch: ImageFixtureManifest.SharedPatch) throws {
        let url = TestPaths.data(patch.file)
        let image = try ImageDecoder.decode(contentsOf: url, options: Self.noOrientation)
        let crop = image.cropped(x1: patch.box[0], y1: patch.box[1], x2: patch.box[2], y2: patch.box[3])
        let expected = try ImageFixtures.expectedPixels(patch.expected)
        let diff = ImageFixtures.maxAbsDiff(crop.pixels, expected)
        #expect(diff <= Self.jpegTolerance, "\(patch.file) \(patch.box): max |Δ| \(diff)")
    }
}

extension ImageFixtureManifest.SharedPatch: CustomTestStringConvertible {
    var testDescription: String { file }
}
