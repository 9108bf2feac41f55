import Foundation

/// A parsed XML element: name (namespace prefixes kept as written), text content and
/// children. Enough for AWS's REST-XML and query-protocol responses, which use neither mixed
/// content nor attributes that matter.
public struct AWSXMLElement: Sendable, Hashable {
    public var name: String
    public var text: String
    public var children: [AWSXMLElement]

    /// The first direct child called `name`.
    public func child(_ name: String) -> AWSXMLElement? { children.first { $0.name == name } }

    /// Every direct child called `name`.
    public func children(_ name: String) -> [AWSXMLElement] { children.filter { $0.name == name } }

    /// Text of the first direct child called `name`.
    public func string(_ name: String) -> String? { child(name)?.text }

    /// The first element called `name` at any depth (this element included), depth-first.
    public func first(_ name: String) -> AWSXMLElement? {
        if self.name == name { return self }
        for child in children {
            if let found = child.first(name) { return found }
        }
        return nil
    }

    /// Parses `data`; returns the document element. The body must be UTF-8 (all AWS XML is).
    ///
    /// A strict reader of the XML subset AWS sends (`AWSXMLReader`), not Foundation's
    /// XMLParser: on Linux that runs libxml2 in recover mode, trapped on names that are not
    /// UTF-8, segfaulted on `<?p?>` (both found by fuzzing, Fuzz/FuzzAWSXML) and leaks 90–420
    /// bytes on every malformed body (an HTML error page from a proxy, say) inside
    /// swift-corelibs-foundation, which a worker running for months cannot afford.
    public static func parse(_ data: Data) throws(AWSXMLError) -> AWSXMLElement {
        let bytes = [UInt8](data)
        // Invalid UTF-8 is refused up front, with its offset (names and text are UTF-8).
        if let offset = firstInvalidUTF8(in: bytes) {
            throw AWSXMLError(line: line(at: offset, in: bytes), detail: "invalid UTF-8 at byte offset \(offset)")
        }
        // AWS bodies carry no processing instructions and no DTDs (whose entities are how XML
        // parsers get attacked): anything but a leading XML declaration is refused.
        if let (offset, what) = unsupportedMarkup(in: bytes) {
            throw AWSXMLError(line: line(at: offset, in: bytes), detail: "\(what) at byte offset \(offset) (not used in AWS responses)")
        }
        var reader = AWSXMLReader(bytes: bytes)
        return try reader.document()
    }

    /// The 1-based line of byte `offset`.
    static func line(at offset: Int, in bytes: [UInt8]) -> Int {
        1 + bytes.prefix(offset).reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    }

    /// The offset of the first byte that does not start a valid UTF-8 sequence, or nil.
    static func firstInvalidUTF8(in bytes: [UInt8]) -> Int? {
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    /// The first `<?` that is not the document's leading `<?xml ` declaration, or the first
    /// `<!DOCTYPE`, with its offset.
    static func unsupportedMarkup(in bytes: [UInt8]) -> (offset: Int, what: String)? {
        let start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0  // a UTF-8 byte order mark
        let declaration = Array("<?xml".utf8), doctype = Array("<!DOCTYPE".utf8)
        var index = start
        while index + 1 < bytes.count {
            if bytes[index] == UInt8(ascii: "<") {
                if bytes[index + 1] == UInt8(ascii: "?") {
                    let isDeclaration = index == start && bytes[index...].starts(with: declaration)
                        && index + 5 < bytes.count && [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index + 5])
                    if !isDeclaration { return (index, "processing instruction") }
                } else if bytes[index...].starts(with: doctype) {
                    return (index, "DOCTYPE")
                }
            }
            index += 1
        }
        return nil
    }

    /// Escapes text for element content and attribute values.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(ch)
            }
        }
        return out
    }
}

/// A response body that is not well-formed XML.
public struct AWSXMLError: Error, Sendable, CustomStringConvertible {
    public let line: Int
    public let detail: String
    public var description: String { "malformed XML at line \(line): \(detail)" }
}
