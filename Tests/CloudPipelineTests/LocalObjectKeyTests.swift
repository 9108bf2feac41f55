import CloudPipeline
import Foundation
import Testing

/// ``ObjectKey`` validation: which rule rejects which key, and what stays allowed.
@Suite("ObjectKey")
struct LocalObjectKeyTests {
    @Test("ordinary keys are accepted unchanged", arguments: [
        "a", "uploads/2026/11/29/photo.jpg", "results/job-1.json", "a b/c d.jpg", "%2e%2e", "..a", "a..b", "a.",
        ".hidden", "~tilde~o", "名前/写真.png", "emoji/🧑‍💻.jpg", "x/y/z/w/v", "ÅÄÖ", String(repeating: "a", count: 200),
    ])
    func accepted(key: String) throws {
        let validated = try ObjectKey(key)
        #expect(validated.rawValue == key.precomposedStringWithCanonicalMapping)
        #expect(validated.segments.joined(separator: "/") == validated.rawValue)
    }

    @Test("each rule names its reason")
    func rejections() {
        func reason(_ key: String) -> ObjectKeyError? {
            do { _ = try ObjectKey(key); return nil } catch { return error }
        }
        #expect(reason("") == .empty)
        #expect(reason(String(repeating: "ab/", count: 341) + "ab") == .tooLong(bytes: 1025, limit: 1024))
        #expect(reason("x/" + String(repeating: "é", count: 101)) == .segmentTooLong(index: 1, bytes: 202, limit: 200))
        #expect(reason("/etc/passwd") == .emptySegment(index: 0))
        #expect(reason("a//b") == .emptySegment(index: 1))
        #expect(reason("a/") == .emptySegment(index: 1))
        #expect(reason("..") == .dotSegment(index: 0))
        #expect(reason("a/../../b") == .dotSegment(index: 1))
        #expect(reason("a/.") == .dotSegment(index: 1))
        #expect(reason("a\\b") == .forbiddenCharacter(scalar: 0x5C, offset: 1, reason: "backslash"))
        #expect(reason("ab\u{0}") == .forbiddenCharacter(scalar: 0, offset: 2, reason: "NUL"))
        #expect(reason("\t") == .forbiddenCharacter(scalar: 9, offset: 0, reason: "control character"))
        #expect(reason("a\u{9B}") == .forbiddenCharacter(scalar: 0x9B, offset: 1, reason: "control character"))
        #expect(reason("a\u{202E}") == .forbiddenCharacter(scalar: 0x202E, offset: 1, reason: "bidirectional control"))
        #expect(reason("..\u{2215}x") == .forbiddenCharacter(scalar: 0x2215, offset: 2, reason: "look-alike of '/' or '\\'"))
        #expect(reason("a\u{FF0F}b") == .forbiddenCharacter(scalar: 0xFF0F, offset: 1, reason: "look-alike of '/' or '\\'"))
        #expect(reason("a\u{FF3C}b") == .forbiddenCharacter(scalar: 0xFF3C, offset: 1, reason: "look-alike of '/' or '\\'"))
        #expect(reason("\u{2024}\u{2024}") == .forbiddenCharacter(scalar: 0x2024, offset: 0, reason: "look-alike of '.'"))
        #expect(reason("\u{FF0E}\u{FF0E}/x") == .forbiddenCharacter(scalar: 0xFF0E, offset: 0, reason: "look-alike of '.'"))
        #expect(reason("a\u{2026}") == .forbiddenCharacter(scalar: 0x2026, offset: 1, reason: "look-alike of '.'"))
        #expect(reason("a\u{3002}") == .forbiddenCharacter(scalar: 0x3002, offset: 1, reason: "look-alike of '.'"))
    }

    @Test("errors describe the offending character and position")
    func descriptions() {
        #expect(ObjectKeyError.forbiddenCharacter(scalar: 0x2215, offset: 2, reason: "look-alike of '/' or '\\'").description
                == #"character U+2215 at offset 2 is not allowed (look-alike of '/' or '\')"#)
        #expect(ObjectKeyError.forbiddenCharacter(scalar: 0, offset: 0, reason: "NUL").description.contains("U+0000"))
        #expect(ObjectStoreError.invalidKey("../x", .dotSegment(index: 0)).description
                == #"invalid object key "../x": segment 0 is '.' or '..'"#)
    }

    @Test("decomposed text is normalised to NFC, and keys order by UTF-8 bytes")
    func normalisationAndOrder() throws {
        let decomposed = try ObjectKey("e\u{301}")
        #expect(decomposed.rawValue == "\u{E9}")
        #expect(decomposed == (try ObjectKey("\u{E9}")))
        let sorted = try ["b", "a/b", "é", "Z", "a-b", "a"].map { try ObjectKey($0) }.sorted()
        #expect(sorted.map(\.rawValue) == ["Z", "a", "a-b", "a/b", "b", "é"])
    }
}
