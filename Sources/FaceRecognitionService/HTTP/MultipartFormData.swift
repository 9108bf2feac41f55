import Foundation

/// A `multipart/form-data` body (RFC 7578) split into its parts: what the upload form of the
/// old web tier posts (`inputFile`). Written for untrusted input: it works on bytes, bounds
/// the number of parts and the size of part headers, and reports every malformation as a
/// ``MultipartError`` instead of guessing.
public struct MultipartFormData: Sendable {
    public struct Part: Sendable, Equatable {
        /// The `name` of `Content-Disposition: form-data; name="..."`.
        public let name: String
        /// The `filename` parameter, when the part is a file.
        public let filename: String?
        public let contentType: String?
        public let body: Data

        public init(name: String, filename: String?, contentType: String?, body: Data) {
            self.name = name
            self.filename = filename
            self.contentType = contentType
            self.body = body
        }
    }

    public let parts: [Part]

    /// Most parts accepted in one body.
    public static let maxParts = 32
    /// Longest header block of one part.
    public static let maxHeaderBytes = 8192

    /// The first part named `name`.
    public func part(named name: String) -> Part? { parts.first { $0.name == name } }

    /// The boundary of a `Content-Type: multipart/form-data; boundary=...` header value.
    /// - Throws: ``MultipartError/notMultipart`` or ``MultipartError/badBoundary``.
    public static func boundary(fromContentType contentType: String?) throws(MultipartError) -> String {
        guard let contentType else { throw .notMultipart }
        let pieces = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let kind = pieces.first, kind.lowercased() == "multipart/form-data" else { throw .notMultipart }
        for parameter in pieces.dropFirst() {
            guard let equals = parameter.firstIndex(of: "=") else { continue }
            let key = parameter[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            guard key == "boundary" else { continue }
            var value = parameter[parameter.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            // RFC 2046: 1-70 characters, no trailing space.
            guard (1...70).contains(value.utf8.count), !value.hasSuffix(" "),
                  value.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F }) else { throw .badBoundary }
            return value
        }
        throw .badBoundary
    }

    /// Parses `body` delimited by `boundary`.
    public init(body: Data, boundary: String) throws(MultipartError) {
        let bytes = [UInt8](body)
        let delimiter = Array("--\(boundary)".utf8)
        let crlf: [UInt8] = [13, 10]
        // The first delimiter may be preceded by a preamble; every later one by CRLF.
        guard var position = Self.find(delimiter, in: bytes, from: 0) else { throw .missingBoundary }
        var parts: [Part] = []
        let nextDelimiter = crlf + delimiter
        while true {
            position += delimiter.count
            // "--" after a delimiter closes the body.
            if position + 1 < bytes.count, bytes[position] == 45, bytes[position + 1] == 45 { break }
            // Transport padding, then CRLF.
            while position < bytes.count, bytes[position] == 32 || bytes[position] == 9 { position += 1 }
            guard position + 1 < bytes.count, bytes[position] == 13, bytes[position + 1] == 10 else { throw .truncated }
            position += 2
            guard let headerEnd = Self.find([13, 10, 13, 10], in: bytes, from: position, limit: Self.maxHeaderBytes + 4)
                    ?? (bytes[position..<min(bytes.count, position + 2)].elementsEqual(crlf) ? position - 2 : nil) else {
                throw bytes.count - position > Self.maxHeaderBytes ? .headersTooLarge : .truncated
            }
            let headerText = headerEnd > position ? bytes[position..<headerEnd] : []
            let bodyStart = headerEnd + 4
            guard let bodyEnd = Self.find(nextDelimiter, in: bytes, from: max(bodyStart - 2, position)) else { throw .truncated }
            guard parts.count < Self.maxParts else { throw .tooManyParts }
            parts.append(try Self.part(headers: Array(headerText), body: bodyEnd >= bodyStart ? Data(bytes[bodyStart..<bodyEnd]) : Data()))
            position = bodyEnd + 2
        }
        self.parts = parts
    }

    private static func part(headers: [UInt8], body: Data) throws(MultipartError) -> Part {
        guard let text = String(validating: headers, as: UTF8.self) else { throw .badHeader("part headers are not UTF-8") }
        var name: String?
        var filename: String?
        var contentType: String?
        for line in text.components(separatedBy: "\r\n") where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { throw .badHeader("header line without a colon") }
            let field = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch field {
            case "content-disposition":
                let parameters = Self.parameters(value)
                guard parameters.kind == "form-data" else { throw .badHeader("Content-Disposition is not form-data") }
                name = parameters.values["name"]
                filename = parameters.values["filename"]
            case "content-type":
                contentType = value
            default:
                continue
            }
        }
        guard let name else { throw .badHeader("part without Content-Disposition name") }
        return Part(name: name, filename: filename, contentType: contentType, body: body)
    }

    /// `form-data; name="a"; filename="b c.jpg"` → kind and parameters (quoted strings with
    /// backslash escapes, as browsers send them).
    static func parameters(_ value: String) -> (kind: String, values: [String: String]) {
        var scalars = Substring(value).unicodeScalars[...]
        func skipSpaces() { while let c = scalars.first, c == " " || c == "\t" { scalars.removeFirst() } }
        func token() -> String {
            var out = String.UnicodeScalarView()
            while let c = scalars.first, c != ";", c != "=" { out.append(c); scalars.removeFirst() }
            return String(out).trimmingCharacters(in: .whitespaces)
        }
        let kind = token().lowercased()
        var values: [String: String] = [:]
        while let c = scalars.first, c == ";" {
            scalars.removeFirst()
            skipSpaces()
            let key = token().lowercased()
            guard let eq = scalars.first, eq == "=" else { continue }
            scalars.removeFirst()
            skipSpaces()
            var result = String.UnicodeScalarView()
            if let quote = scalars.first, quote == "\"" {
                scalars.removeFirst()
                while let c = scalars.first {
                    scalars.removeFirst()
                    if c == "\"" { break }
                    if c == "\\", let escaped = scalars.first { result.append(escaped); scalars.removeFirst(); continue }
                    result.append(c)
                }
                while let c = scalars.first, c != ";" { scalars.removeFirst() }
            } else {
                while let c = scalars.first, c != ";" { result.append(c); scalars.removeFirst() }
            }
            if !key.isEmpty, values[key] == nil { values[key] = String(result).trimmingCharacters(in: .whitespaces) }
        }
        return (kind, values)
    }

    /// Index of the first occurrence of `needle` in `haystack` at or after `start` (and, with a
    /// limit, starting before `start + limit`).
    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int, limit: Int? = nil) -> Int? {
        guard !needle.isEmpty, start >= 0, haystack.count >= needle.count else { return nil }
        let last = haystack.count - needle.count
        let end = limit.map { min(last, start + $0) } ?? last
        guard start <= end else { return nil }
        let first = needle[0]
        return haystack.withUnsafeBufferPointer { buffer -> Int? in
            var i = start
            while i <= end {
                if buffer[i] == first {
                    var j = 1
                    while j < needle.count, buffer[i + j] == needle[j] { j += 1 }
                    if j == needle.count { return i }
                }
                i += 1
            }
            return nil
        }
    }
}

public enum MultipartError: Error, Sendable, Equatable, CustomStringConvertible {
    case notMultipart
    case badBoundary
    case missingBoundary
    case truncated
    case headersTooLarge
    case tooManyParts
    case badHeader(String)

    public var description: String {
        switch self {
        case .notMultipart: return "the request is not multipart/form-data"
        case .badBoundary: return "the multipart boundary is missing or invalid"
        case .missingBoundary: return "the body does not contain the multipart boundary"
        case .truncated: return "the multipart body is truncated or malformed"
        case .headersTooLarge: return "a multipart part's headers exceed \(MultipartFormData.maxHeaderBytes) bytes"
        case .tooManyParts: return "more than \(MultipartFormData.maxParts) multipart parts"
        case .badHeader(let detail): return "bad multipart part header: \(detail)"
        }
    }
}
