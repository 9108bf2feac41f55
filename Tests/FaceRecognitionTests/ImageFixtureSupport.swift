import Foundation
import Testing
@testable import FaceRecognition

/// Tests/Fixtures/images/manifest.json, written by Tests/Fixtures/make_image_fixtures.py (PIL).
struct ImageFixtureManifest: Decodable {
    struct DecodeCase: Decodable, CustomTestStringConvertible {
        let file: String
        let pil_mode: String
        let width: Int
        let height: Int
        let expected: String
        let orientation: Int?
        let oriented_width: Int?
        let oriented_height: Int?
        let oriented_expected: String?
        var testDescription: String { file }
    }
    struct ResizeCase: Decodable, CustomTestStringConvertible {
        let source: String
        let source_width: Int
        let source_height: Int
        let width: Int
        let height: Int
        let expected: String
        var testDescription: String { "\(source_width)x\(source_height)→\(width)x\(height)" }
    }
    struct SharedPatch: Decodable {
        let file: String
        let box: [Int]
        let expected: String
    }
    struct CropCase: Decodable, CustomTestStringConvertible {
        let source: String
        let source_width: Int
        let source_height: Int
        let box: [Int]
        let expected: String
        var testDescription: String { "crop \(box)" }
    }
    struct Huge: Decodable {
        let file: String
        let width: Int
        let height: Int
    }
    let pillow: String
    let decode: [DecodeCase]
    let resize: [ResizeCase]
    let shared_patches: [SharedPatch]
    let huge: [Huge]
    let crop: [CropCase]
}

enum ImageFixtures {
    static let directory = TestPaths.fixtures.appendingPathComponent("images")

    /// What the image tests expect; a missing or broken manifest fails the tests that read it.
    static var manifest: ImageFixtureManifest { get throws { try loadedManifest.get() } }
    private static let loadedManifest = FixtureError.loading(directory.appendingPathComponent("manifest.json"),
                                                             remedy: "run Tests/Fixtures/make_image_fixtures.py") {
        try JSONDecoder().decode(ImageFixtureManifest.self, from: Data(contentsOf: $0))
    }

    static func data(_ name: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(name))
    }

    /// Expected pixels: raw `.rgb` bytes, or a lossless RGB8 `.png` (large resize outputs).
    static func expectedPixels(_ name: String) throws -> [UInt8] {
        let url = directory.appendingPathComponent("expected").appendingPathComponent(name)
        if name.hasSuffix(".png") {
            return try ImageDecoder.decode(contentsOf: url, options: .init(applyEXIFOrientation: false)).pixels
        }
        return [UInt8](try Data(contentsOf: url))
    }

    /// Largest per-channel absolute difference (Int.max if the sizes differ).
    static func maxAbsDiff(_ a: [UInt8], _ b: [UInt8]) -> Int {
        guard a.count == b.count else { return Int.max }
        var worst = 0
        for i in a.indices { worst = max(worst, abs(Int(a[i]) - Int(b[i]))) }
        return worst
    }

    /// Number of bytes that differ.
    static func differingCount(_ a: [UInt8], _ b: [UInt8]) -> Int {
        guard a.count == b.count else { return max(a.count, b.count) }
        return zip(a, b).reduce(0) { $0 + ($1.0 == $1.1 ? 0 : 1) }
    }
}

/// A small deterministic generator (SplitMix64) so fuzz-style tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
