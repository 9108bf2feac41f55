import Foundation

/// SigV4's URI encoding: every byte except the unreserved characters `A-Z a-z 0-9 - _ . ~` is
/// written `%XY` with upper-case hex, on the UTF-8 bytes. (Foundation's percent-encoding
/// helpers use RFC 3986 character sets that keep `!*'()` and friends, which AWS does not.)
public enum AWSURIEncoding {
    private static let hex: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Whether `byte` is one of SigV4's unreserved characters.
    @inline(__always)
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
             UInt8(ascii: "."), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// Percent-encodes `text`; with `keepSlash` the `/` separators of a path stay as they are.
    public static func encode(_ text: String, keepSlash: Bool = false) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if isUnreserved(byte) || (keepSlash && byte == UInt8(ascii: "/")) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The wire path of an S3 object: `/` + the key encoded once, its `/` kept (S3 signs this
    /// exact string and does not normalise it, so `a//b` and `./x` stay distinct keys).
    public static func encodeS3Path(_ key: String) -> String {
        "/" + encode(key, keepSlash: true)
    }

    /// Decodes `%XY` escapes; bytes that are not valid escapes are kept literally. `+` is not a
    /// space here (that is form encoding, not URI encoding).
    public static func decode(_ text: String) -> String {
        var out: [UInt8] = []
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count,
               let high = hexValue(bytes[i + 1]), let low = hexValue(bytes[i + 2]) {
                out.append(high << 4 | low)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses a raw query string (`a=1&b&c=%20`) into decoded items, keeping their order.
    public static func parseQuery(_ query: String) -> [AWSQueryItem] {
        guard !query.isEmpty else { return [] }
        return query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            if let eq = pair.firstIndex(of: "=") {
                return AWSQueryItem(decode(String(pair[..<eq])), decode(String(pair[pair.index(after: eq)...])))
            }
            return AWSQueryItem(decode(String(pair)), "")
        }
    }

    /// Form-encodes `items` for an `application/x-www-form-urlencoded` body (the query
    /// protocol of EC2, IAM, Auto Scaling) byte for byte as botocore does (Python's
    /// `urlencode`): the URI encoding's unreserved set, and a space as `+`.
    public static func formEncode(_ items: [AWSQueryItem]) -> String {
        func plus(_ text: String) -> String { encode(text).replacingOccurrences(of: "%20", with: "+") }
        return items.map { plus($0.name) + "=" + plus($0.value) }.joined(separator: "&")
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
