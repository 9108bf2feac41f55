import Foundation
import Testing
@testable import FaceRecognition

/// Bad bytes never crash: each gives a typed error.
@Suite("Image bad input", .ownThreads)
struct ImageBadInputTests {
    @Test("empty data")
    func empty() {
        #expect(throws: ImageDecodingError.empty) { try ImageDecoder.decode(Data()) }
    }

    @Test("random bytes: unknown format, or corrupt behind a real signature")
    func randomBytes() {
        var rng = SplitMix64(seed: 546)
        for length in [1, 2, 3, 7, 8, 16, 100, 1000, 5000] {
            let noise = Data((0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) })
            var plain = noise
            if plain.count >= 3 { plain[0] = 0x00 }  // not FF D8 FF nor 89 50 4E 47
            #expect(throws: ImageDecodingError.unknownFormat(leadingBytes: Array(plain.prefix(8)))) {
                try ImageDecoder.decode(plain)
            }
            for magic in [[0xFF, 0xD8, 0xFF] as [UInt8], [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]] {
                do {
                    _ = try ImageDecoder.decode(Data(magic) + noise)
                    Issue.record("random data after \(magic) decoded")
                } catch {
                    switch error {
                    case .corrupt, .truncated, .unsupported, .tooLarge: break
                    default: Issue.record("unexpected \(error)")
                    }
                }
            }
        }
    }

    /// Every prefix must throw, as in PIL ("image file is truncated"), except PNG prefixes that
    /// lose only the last IDAT CRC and the IEND chunk (16 bytes): PIL loads those, and so do we,
    /// to the full image. A JPEG missing even its EOI marker is truncated for both.
    @Test("truncated files throw at every offset",
          arguments: ["baseline.jpg", "progressive.jpg", "cmyk.jpg", "grey.jpg", "rgb.png",
                      "rgb_interlaced.png", "grey16.png", "palette4.png"])
    func truncated(_ name: String) throws {
        let data = try ImageFixtures.data(name)
        let full = try ImageDecoder.decode(data)
        let tail = name.hasSuffix(".jpg") ? 0 : 16
        var truncatedCount = 0
        for length in 0..<data.count {
            do {
                let image = try ImageDecoder.decode(data.prefix(length))
                if length < data.count - tail {
                    Issue.record("\(name) cut to \(length) of \(data.count) bytes decoded")
                } else {
                    #expect(image == full)
                }
            } catch {
                switch error {
                case .truncated: truncatedCount += 1
                case .empty, .unknownFormat, .corrupt: break
                default: Issue.record("\(name) cut to \(length): unexpected \(error)")
                }
            }
        }
        // Most cuts land in pixel data, and those must be reported as truncation specifically.
        #expect(truncatedCount > data.count / 2, "\(name): only \(truncatedCount) cuts reported as truncated")
    }

    @Test("corrupt headers")
    func corruptHeaders() throws {
        var png = try ImageFixtures.data("rgb.png")
        png[18] ^= 0xFF  // inside IHDR's width: its CRC no longer matches
        #expect(throws: (any Error).self) { try ImageDecoder.decode(png) }
        do { _ = try ImageDecoder.decode(png) } catch {
            guard case .corrupt(let message) = error else { Issue.record("\(error)"); return }
            #expect(message.contains("IHDR"))
        }

        var jpeg = try ImageFixtures.data("baseline.jpg")
        let sof = try #require(jpeg.firstRange(of: Data([0xFF, 0xC0])))
        jpeg[sof.lowerBound + 4] = 12  // sample precision 12: not an 8-bit JPEG
        do {
            _ = try ImageDecoder.decode(jpeg)
            Issue.record("12-bit JPEG header decoded")
        } catch {
            switch error {
            case .corrupt, .unsupported: break
            default: Issue.record("unexpected \(error)")
            }
        }

        var dqt = try ImageFixtures.data("baseline.jpg")
        let dht = try #require(dqt.firstRange(of: Data([0xFF, 0xC4])))
        for i in (dht.lowerBound + 4)..<(dht.lowerBound + 24) { dqt[i] = 0xFF }  // nonsense Huffman table
        do {
            _ = try ImageDecoder.decode(dqt)
            Issue.record("JPEG with a nonsense Huffman table decoded")
        } catch {
            switch error {
            case .corrupt, .truncated: break
            default: Issue.record("unexpected \(error)")
            }
        }
    }

    /// libjpeg accepts a repeated progressive scan with only a warning, and each scan walks
    /// the whole coefficient buffer: thousands of them are a CPU bomb in a tiny file. The
    /// decoder stops past 1000 scans (real files have about ten). PIL has no such limit.
    @Test("progressive JPEG with thousands of scans is refused")
    func scanBomb() throws {
        let data = try ImageFixtures.data("progressive.jpg")
        let eoi = data.count - 2
        let lastScan = try #require(data[..<eoi].lastRange(of: Data([0xFF, 0xDA])))
        let scan = data[lastScan.lowerBound..<eoi]
        var bomb = Data(data[..<eoi])
        for _ in 0..<1100 { bomb.append(scan) }
        bomb.append(contentsOf: [0xFF, 0xD9])
        do {
            _ = try ImageDecoder.decode(bomb)
            Issue.record("1100-scan JPEG decoded")
        } catch {
            guard case .corrupt(let message) = error else { Issue.record("\(error)"); return }
            #expect(message.contains("scans"))
        }
        // A few repeats stay within the limit and still decode.
        var few = Data(data[..<eoi])
        for _ in 0..<5 { few.append(scan) }
        few.append(contentsOf: [0xFF, 0xD9])
        #expect(try ImageDecoder.decode(few).width == 36)
    }

    @Test("headers declaring huge images are refused before allocation",
          arguments: try ImageFixtures.manifest.huge.map(\.file))
    func tooLarge(_ file: String) throws {
        let huge = try #require(try ImageFixtures.manifest.huge.first { $0.file == file })
        #expect(throws: ImageDecodingError.tooLarge(width: huge.width, height: huge.height, limit: 50_000_000)) {
            try ImageDecoder.decode(try ImageFixtures.data(file))
        }
    }

    @Test("maxPixels is honoured exactly")
    func maxPixelsLimit() throws {
        let data = try ImageFixtures.data("baseline.jpg")  // 36x48 = 1728 pixels
        #expect(throws: ImageDecodingError.tooLarge(width: 36, height: 48, limit: 1727)) {
            try ImageDecoder.decode(data, options: .init(maxPixels: 1727))
        }
        #expect(try ImageDecoder.decode(data, options: .init(maxPixels: 1728)).width == 36)
        let png = try ImageFixtures.data("rgb.png")
        #expect(throws: ImageDecodingError.tooLarge(width: 36, height: 48, limit: 100)) {
            try ImageDecoder.decode(png, options: .init(maxPixels: 100))
        }
    }

    @Test("RGBImage validates its buffer")
    func rgbImageValidation() {
        #expect(throws: ImageDecodingError.self) { try RGBImage(width: 2, height: 2, pixels: [0, 1, 2]) }
        #expect(throws: ImageDecodingError.self) { try RGBImage(width: -1, height: 2, pixels: []) }
        #expect(throws: ImageDecodingError.self) { try RGBImage(width: Int.max, height: 2, pixels: []) }
        #expect(throws: Never.self) { try RGBImage(width: 0, height: 5, pixels: []) }
    }

    @Test("errors describe themselves")
    func descriptions() {
        #expect(ImageDecodingError.tooLarge(width: 100_000, height: 100_000, limit: 50_000_000).description
            .contains("100000x100000"))
        #expect(ImageDecodingError.unknownFormat(leadingBytes: [0x47, 0x49, 0x46]).description.contains("47 49 46"))
    }
}
