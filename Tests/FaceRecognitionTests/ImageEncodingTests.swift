import Foundation
import Testing
@testable import FaceRecognition

@Suite("Image PNG encoding", .ownThreads)
struct ImageEncodingTests {
    @Test("PNG encode → decode round trip is lossless")
    func roundTrip() throws {
        var rng = SplitMix64(seed: 42)
        for (w, h) in [(1, 1), (3, 7), (36, 48), (257, 3)] {
            let pixels = (0..<(w * h * 3)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let image = try RGBImage(width: w, height: h, pixels: pixels)
            let png = try ImageEncoder.png(image)
            #expect(ImageFormat.sniff(png) == .png)
            #expect(try ImageDecoder.decode(png) == image)
        }
        let photo = try ImageDecoder.decode(try ImageFixtures.data("baseline.jpg"))
        #expect(try ImageDecoder.decode(try ImageEncoder.png(photo)) == photo)
    }

    @Test("empty images cannot be encoded")
    func emptyImage() throws {
        let empty = try RGBImage(width: 0, height: 3, pixels: [])
        #expect(throws: ImageDecodingError.self) { try ImageEncoder.png(empty) }
    }
}

/// The EXIF parser on hand-made TIFF blocks: both byte orders, and every kind of damage.
@Suite("Image EXIF parser", .ownThreads)
struct ImageEXIFParserTests {
    /// TIFF header + IFD0 with `entries` (tag, type, count, value) + next-IFD 0.
    static func tiff(bigEndian: Bool, entries: [(UInt16, UInt16, UInt32, UInt16)], ifdOffset: UInt32 = 8) -> [UInt8] {
        func u16(_ v: UInt16) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: UInt32) -> [UInt8] {
            let b = [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
            return bigEndian ? b : b.reversed()
        }
        var out: [UInt8] = bigEndian ? [0x4D, 0x4D] : [0x49, 0x49]
        out += u16(42) + u32(ifdOffset)
        out += [UInt8](repeating: 0, count: max(0, Int(ifdOffset) - 8))
        out += u16(UInt16(entries.count))
        for (tag, type, count, value) in entries { out += u16(tag) + u16(type) + u32(count) + u16(value) + [0, 0] }
        return out + u32(0)
    }

    @Test("orientation in both byte orders, among other tags")
    func bothByteOrders() {
        for big in [false, true] {
            for value in 1...8 {
                let block = Self.tiff(bigEndian: big, entries: [(0x010F, 2, 4, 0), (0x0112, 3, 1, UInt16(value)), (0x0131, 2, 1, 0)])
                #expect(EXIFParser.orientation(in: block)?.rawValue == value)
            }
        }
        let offsetIFD = Self.tiff(bigEndian: true, entries: [(0x0112, 3, 1, 6)], ifdOffset: 40)
        #expect(EXIFParser.orientation(in: offsetIFD) == .right)
    }

    @Test("damaged EXIF gives nil, never a crash")
    func damaged() {
        let good = Self.tiff(bigEndian: false, entries: [(0x0112, 3, 1, 6)])
        #expect(EXIFParser.orientation(in: good) == .right)
        // The value sits at bytes 18..<20; the padding after it and the next-IFD offset are
        // not needed, so every shorter prefix must fail.
        for length in 0..<20 {
            #expect(EXIFParser.orientation(in: Array(good.prefix(length))) == nil, "prefix \(length)")
        }
        #expect(EXIFParser.orientation(in: Self.tiff(bigEndian: false, entries: [(0x0112, 3, 1, 0)])) == nil)
        #expect(EXIFParser.orientation(in: Self.tiff(bigEndian: false, entries: [(0x0112, 3, 1, 9)])) == nil)
        #expect(EXIFParser.orientation(in: Self.tiff(bigEndian: false, entries: [(0x0112, 4, 1, 6)])) == nil, "wrong type")
        #expect(EXIFParser.orientation(in: Self.tiff(bigEndian: false, entries: [(0x0112, 3, 0, 6)])) == nil, "count 0")
        #expect(EXIFParser.orientation(in: Self.tiff(bigEndian: false, entries: [(0x0110, 3, 1, 6)])) == nil, "no tag")
        var badMagic = good
        badMagic[2] = 43
        #expect(EXIFParser.orientation(in: badMagic) == nil)
        var badOrder = good
        badOrder[0] = 0x4D
        #expect(EXIFParser.orientation(in: badOrder) == nil)
        var farIFD = good
        farIFD[4...7] = [0xFF, 0xFF, 0xFF, 0xFF]
        #expect(EXIFParser.orientation(in: farIFD) == nil)
        var manyEntries = good
        manyEntries[8] = 0xFF
        manyEntries[9] = 0xFF  // 65535 entries declared, 1 present
        #expect(EXIFParser.orientation(in: manyEntries) == .right, "found before running off the end")
        var manyWithoutTag = Self.tiff(bigEndian: false, entries: [(0x0110, 3, 1, 6)])
        manyWithoutTag[8] = 0xFF
        manyWithoutTag[9] = 0xFF
        #expect(EXIFParser.orientation(in: manyWithoutTag) == nil)
        var rng = SplitMix64(seed: 3)
        for _ in 0..<2000 {
            var noise = good
            noise[Int.random(in: 0..<noise.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            _ = EXIFParser.orientation(in: noise)
        }
    }

    @Test("orientation transforms on a 3x2 image")
    func transforms() throws {
        // a b c
        // d e f   (each pixel's R value is its letter index)
        let image = try RGBImage(width: 3, height: 2, pixels: (0..<6).flatMap { [UInt8($0), 0, 0] })
        func letters(_ i: RGBImage) -> [[UInt8]] {
            (0..<i.height).map { y in (0..<i.width).map { x in i[x, y].r } }
        }
        #expect(letters(image.oriented(.up)) == [[0, 1, 2], [3, 4, 5]])
        #expect(letters(image.oriented(.upMirrored)) == [[2, 1, 0], [5, 4, 3]])
        #expect(letters(image.oriented(.down)) == [[5, 4, 3], [2, 1, 0]])
        #expect(letters(image.oriented(.downMirrored)) == [[3, 4, 5], [0, 1, 2]])
        #expect(letters(image.oriented(.leftMirrored)) == [[0, 3], [1, 4], [2, 5]])
        #expect(letters(image.oriented(.right)) == [[3, 0], [4, 1], [5, 2]])
        #expect(letters(image.oriented(.rightMirrored)) == [[5, 2], [4, 1], [3, 0]])
        #expect(letters(image.oriented(.left)) == [[2, 5], [1, 4], [0, 3]])
    }
}

/// Every image in the shared data set decodes (real-world JPEGs: baseline, progressive, EXIF).
@Suite("Image shared data", .ownThreads)
struct ImageSharedDataTests {
    static func jpegs(in dir: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".jpg") }.sorted().map { dir.appendingPathComponent($0) }
    }

    @Test("all face_images_100 decode to 64x64")
    func faceImages() throws {
        let urls = Self.jpegs(in: TestPaths.data("face_images_100"))
        #expect(urls.count == 100, "sample data at \(TestPaths.data("face_images_100").path)")
        for url in urls {
            let image = try ImageDecoder.decode(contentsOf: url)
            #expect(image.width == 64 && image.height == 64, "\(url.lastPathComponent)")
        }
    }

    @Test("all photos decode at the sizes PIL reports",
          .enabled(if: TestPaths.hasData("photos/paul_rudd.jpg"), TestPaths.needs("the portraits (photos/)")))
    func photos() throws {
        let sizes = ["angelina_jolie.jpg": (1665, 2048), "kate_siegel.jpg": (1125, 1612),
                     "multiface.jpg": (1200, 630), "paul_rudd.jpg": (1638, 2048),
                     "shea_whigham.jpg": (2048, 1991)]
        let urls = Self.jpegs(in: TestPaths.extendedData.appendingPathComponent("photos"))
        #expect(urls.count == sizes.count)
        for url in urls {
            let decoded = try ImageDecoder.decodeWithMetadata(Data(contentsOf: url))
            let size = try #require(sizes[url.lastPathComponent])
            // None of these carries a rotating orientation (paul_rudd and multiface say 1).
            #expect(decoded.image.width == size.0 && decoded.image.height == size.1, "\(url.lastPathComponent)")
            #expect(decoded.exifOrientation == nil || decoded.exifOrientation == .up)
        }
    }
}
