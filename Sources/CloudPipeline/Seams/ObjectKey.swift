import Foundation

/// A validated object key: a `/`-separated relative path that cannot name anything outside the
/// directory it is resolved against, on any backend.
///
/// The rules are deliberately stricter than S3's so that one key space works for S3 *and* for
/// a file-system store, and so that keys taken from uploads cannot be used for path traversal
/// or for spoofing in logs and listings:
/// - the text is normalised to Unicode NFC first (so `é` composed and decomposed are one key);
/// - 1...``maxBytes`` UTF-8 bytes in total, each segment at most ``maxSegmentBytes``;
/// - no empty segments (no leading or trailing `/`, no `//`), no `.` or `..` segments;
/// - no backslash, no NUL or other control characters (C0, DEL, C1), no line/paragraph
///   separators and no bidirectional-override characters;
/// - no look-alikes of `/`, `\` or `.` — any character whose compatibility form (NFKC)
///   contains one of them (U+FF0F, U+FF0E, U+2024, U+2025, U+FE52, ...) and the division and
///   fraction slashes (U+2215, U+2044, U+29F8, ...) that NFKC leaves alone.
///
/// Percent signs are ordinary characters: `%2e%2e` is a literal six-character segment and is
/// never decoded.
public struct ObjectKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Longest key in UTF-8 bytes (S3's limit).
    public static let maxBytes = 1024
    /// Longest segment in UTF-8 bytes: file systems allow 255 per name, and the directory store
    /// needs room for its own suffixes.
    public static let maxSegmentBytes = 200

    /// The normalised key text.
    public let rawValue: String

    /// The key's segments (never empty, never `.` or `..`).
    public var segments: [Substring] { rawValue.split(separator: "/", omittingEmptySubsequences: false) }

    /// Validates and NFC-normalises `text`.
    /// - Throws: ``ObjectKeyError`` naming the first rule broken.
    public init(_ text: String) throws(ObjectKeyError) {
        let normalised = text.precomposedStringWithCanonicalMapping
        try Self.validate(normalised)
        rawValue = normalised
    }

    public var description: String { rawValue }

    /// Orders keys by their UTF-8 bytes, as S3 lists them.
    public static func < (lhs: ObjectKey, rhs: ObjectKey) -> Bool {
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }

    /// Scalars that look like `/` or `\` but that NFKC does not map to them.
    private static let slashLookAlikes: Set<UInt32> = [
        0x2215, // DIVISION SLASH
        0x2044, // FRACTION SLASH
        0x29F8, // BIG SOLIDUS
        0x29F5, // REVERSE SOLIDUS OPERATOR
        0x29F9, // BIG REVERSE SOLIDUS
        0x2216, // SET MINUS
        0x2571, // BOX DRAWINGS LIGHT DIAGONAL UPPER RIGHT TO LOWER LEFT
        0x27CB, // MATHEMATICAL RISING DIAGONAL
        0x1735, // PHILIPPINE SINGLE PUNCTUATION
        0x3033, // VERTICAL KANA REPEAT MARK UPPER HALF
    ]
    /// Scalars that look like `.` but that NFKC does not map to it.
    private static let dotLookAlikes: Set<UInt32> = [
        0x3002, // IDEOGRAPHIC FULL STOP
        0xFF61, // HALFWIDTH IDEOGRAPHIC FULL STOP
        0x0701, 0x0702, // SYRIAC SUPRALINEAR / SUBLINEAR FULL STOP
        0xA4F8, // LISU LETTER TONE MYA TI
    ]

    private static func validate(_ key: String) throws(ObjectKeyError) {
        let bytes = key.utf8.count
        if bytes == 0 { throw .empty }
        if bytes > maxBytes { throw .tooLong(bytes: bytes, limit: maxBytes) }
        for (offset, scalar) in key.unicodeScalars.enumerated() {
            if let reason = forbiddenReason(scalar) {
                throw .forbiddenCharacter(scalar: scalar.value, offset: offset, reason: reason)
            }
        }
        for (index, segment) in key.split(separator: "/", omittingEmptySubsequences: false).enumerated() {
            if segment.isEmpty { throw .emptySegment(index: index) }
            if segment == "." || segment == ".." { throw .dotSegment(index: index) }
            let segmentBytes = segment.utf8.count
            if segmentBytes > maxSegmentBytes {
                throw .segmentTooLong(index: index, bytes: segmentBytes, limit: maxSegmentBytes)
            }
        }
    }

    /// Why `scalar` may not appear in a key, or `nil` if it may.
    private static func forbiddenReason(_ scalar: Unicode.Scalar) -> String? {
        let v = scalar.value
        if v == 0 { return "NUL" }
        if v < 0x20 || v == 0x7F || (0x80...0x9F).contains(v) { return "control character" }
        if v == 0x5C { return "backslash" }
        if v == 0x2028 || v == 0x2029 { return "line or paragraph separator" }
        if (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v) || v == 0x200E || v == 0x200F {
            return "bidirectional control"
        }
        if v < 0x80 { return nil }
        if slashLookAlikes.contains(v) { return "look-alike of '/' or '\\'" }
        if dotLookAlikes.contains(v) { return "look-alike of '.'" }
        // Anything whose compatibility decomposition yields '/', '\' or '.' (fullwidth solidus,
        // one/two dot leader, small full stop, ellipsis, ...) would become a separator or a dot
        // segment after an NFKC pass somewhere downstream.
        let compat = String(String.UnicodeScalarView([scalar])).precomposedStringWithCompatibilityMapping
        if compat.unicodeScalars.contains(where: { $0 == "/" || $0 == "\\" }) { return "look-alike of '/' or '\\'" }
        if compat.unicodeScalars.contains(".") { return "look-alike of '.'" }
        return nil
    }
}

/// Why a string is not a valid ``ObjectKey``.
public enum ObjectKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    case empty
    case tooLong(bytes: Int, limit: Int)
    case segmentTooLong(index: Int, bytes: Int, limit: Int)
    /// A leading or trailing `/`, or `//`: absolute paths and empty path components.
    case emptySegment(index: Int)
    /// A `.` or `..` segment.
    case dotSegment(index: Int)
    /// `scalar` (a Unicode code point) at scalar `offset` is not allowed; `reason` says why.
    case forbiddenCharacter(scalar: UInt32, offset: Int, reason: String)

    public var description: String {
        switch self {
        case .empty:
            return "key is empty"
        case .tooLong(let bytes, let limit):
            return "key is \(bytes) UTF-8 bytes, longer than \(limit)"
        case .segmentTooLong(let index, let bytes, let limit):
            return "segment \(index) is \(bytes) UTF-8 bytes, longer than \(limit)"
        case .emptySegment(let index):
            return "segment \(index) is empty (leading, trailing or doubled '/')"
        case .dotSegment(let index):
            return "segment \(index) is '.' or '..'"
        case .forbiddenCharacter(let scalar, let offset, let reason):
            let hex = String(scalar, radix: 16, uppercase: true)
            let padded = String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            return "character U+\(padded) at offset \(offset) is not allowed (\(reason))"
        }
    }
}
