import Foundation

/// Reads the XML that AWS's REST-XML and query protocols send into an ``AWSXMLElement`` tree:
/// an optional byte order mark and `<?xml …?>` declaration (UTF-8 only), elements with
/// attributes (read and dropped: none matters in AWS responses), text with the five predefined
/// entities and character references, CDATA sections and comments. Anything else, and anything
/// not well-formed, is an ``AWSXMLError`` naming the line. Iterative (an explicit stack, at most
/// ``maxDepth`` deep), so hostile nesting cannot exhaust the thread's stack.
///
/// ``AWSXMLElement/parse(_:)`` has already refused invalid UTF-8, processing instructions and
/// DTDs; text is accumulated as UTF-8 bytes and decoded once per element.
struct AWSXMLReader {
    /// libxml2's default limit, which the XMLParser this replaces enforced.
    static let maxDepth = 256

    private let bytes: [UInt8]
    private var index = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func document() throws(AWSXMLError) -> AWSXMLElement {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        if starts(with: "<?xml") { try declaration() }
        try skipWhitespaceAndComments()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "<") else { throw fail("no document element") }
        let root = try element()
        try skipWhitespaceAndComments()
        guard index == bytes.count else { throw fail("content after the document element") }
        return root
    }

    // MARK: Elements

    /// An open element: the tree node so far and its text as UTF-8 bytes.
    private struct Open {
        var element: AWSXMLElement
        var text: [UInt8] = []
    }

    /// The element whose start tag begins at `index`, with everything inside it.
    private mutating func element() throws(AWSXMLError) -> AWSXMLElement {
        var stack: [Open] = []
        if let closed = try startTag(&stack) { return closed }
        while true {
            guard index < bytes.count else { throw fail("end of data inside <\(stack[stack.count - 1].element.name)>") }
            switch bytes[index] {
            case UInt8(ascii: "<"):
                if starts(with: "</") {
                    if let root = try endTag(&stack) { return root }
                } else if starts(with: "<!--") {
                    try comment()
                } else if starts(with: "<![CDATA[") {
                    try cdata(into: &stack[stack.count - 1].text)
                } else if starts(with: "<!") || starts(with: "<?") {
                    throw fail("markup not used in AWS responses")
                } else if let root = try startTag(&stack) {
                    return root
                }
            case UInt8(ascii: "&"):
                try reference(into: &stack[stack.count - 1].text)
            default:
                try characters(into: &stack[stack.count - 1].text)
            }
        }
    }

    /// `<name attr="v" …>` or `<name …/>` at `index`: pushes the element, or for an empty-element
    /// tag closes it at once (returning it when it is the document element).
    private mutating func startTag(_ stack: inout [Open]) throws(AWSXMLError) -> AWSXMLElement? {
        index += 1 // <
        let name = try self.name()
        guard stack.count < Self.maxDepth else { throw fail("elements nested deeper than \(Self.maxDepth)") }
        stack.append(Open(element: AWSXMLElement(name: name, text: "", children: [])))
        while true {
            let spaced = skipWhitespace()
            guard index < bytes.count else { throw fail("end of data in the start tag of <\(name)>") }
            if bytes[index] == UInt8(ascii: ">") {
                index += 1
                return nil
            }
            if starts(with: "/>") {
                index += 2
                return close(&stack)
            }
            guard spaced else { throw fail("expected whitespace, > or /> in the start tag of <\(name)>") }
            try attribute(of: name)
        }
    }

    /// `</name>` at `index`: closes the innermost element, which must have that name.
    private mutating func endTag(_ stack: inout [Open]) throws(AWSXMLError) -> AWSXMLElement? {
        index += 2 // </
        let name = try self.name()
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: ">") else { throw fail("expected > after </\(name)") }
        let open = stack[stack.count - 1].element.name
        guard name == open else { throw fail("</\(name)> closes <\(open)>") }
        index += 1
        return close(&stack)
    }

    /// Pops the innermost element into its parent; returns it when it was the document element.
    private func close(_ stack: inout [Open]) -> AWSXMLElement? {
        let open = stack.removeLast()
        var element = open.element
        element.text = String(decoding: open.text, as: UTF8.self)
        if !element.children.isEmpty {
            // Whitespace between child elements is layout, not content.
            element.text = element.text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if stack.isEmpty { return element }
        stack[stack.count - 1].element.children.append(element)
        return nil
    }

    /// ` name="value"` or `'value'`; the value is checked and dropped.
    private mutating func attribute(of element: String) throws(AWSXMLError) {
        let name = try self.name()
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else { throw fail("expected = after attribute \(name) of <\(element)>") }
        index += 1
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") else {
            throw fail("expected a quoted value for attribute \(name) of <\(element)>")
        }
        let quote = bytes[index]
        index += 1
        var ignored: [UInt8] = []
        while true {
            guard index < bytes.count else { throw fail("end of data in attribute \(name) of <\(element)>") }
            let byte = bytes[index]
            if byte == quote { break }
            if byte == UInt8(ascii: "<") { throw fail("< in attribute \(name) of <\(element)>") }
            if byte == UInt8(ascii: "&") {
                try reference(into: &ignored)
                ignored.removeAll(keepingCapacity: true)
            } else {
                try checkCharacter(byte)
                index += 1
            }
        }
        index += 1
    }

    // MARK: Content

    /// Text up to the next `<` or `&`, with line ends normalised to `\n` as XML requires.
    private mutating func characters(into text: inout [UInt8]) throws(AWSXMLError) {
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "<") || byte == UInt8(ascii: "&") { return }
            try checkCharacter(byte)
            append(byte, after: index > 0 ? bytes[index - 1] : nil, to: &text)
            index += 1
        }
    }

    /// `&lt;` `&gt;` `&amp;` `&quot;` `&apos;` `&#N;` `&#xH;` at `index`.
    private mutating func reference(into text: inout [UInt8]) throws(AWSXMLError) {
        let start = index
        guard let semicolon = bytes[index...].prefix(12).firstIndex(of: UInt8(ascii: ";")) else {
            throw fail("& without a reference")
        }
        let body = String(decoding: bytes[(start + 1)..<semicolon], as: UTF8.self)
        let scalar: Unicode.Scalar?
        switch body {
        case "lt": scalar = "<"
        case "gt": scalar = ">"
        case "amp": scalar = "&"
        case "quot": scalar = "\""
        case "apos": scalar = "'"
        default:
            let hex = body.hasPrefix("#x"), digits = body.dropFirst(hex ? 2 : 1)
            if body.hasPrefix("#"), !digits.isEmpty, digits.allSatisfy({ hex ? $0.isHexDigit : ("0"..."9").contains($0) }) {
                scalar = UInt32(digits, radix: hex ? 16 : 10).flatMap(Unicode.Scalar.init)
            } else {
                throw fail("undefined entity &\(body);")
            }
        }
        // XML 1.0 characters: no NUL and no other C0 control but tab, line feed, return.
        guard let scalar, scalar.value >= 0x20 || [0x09, 0x0A, 0x0D].contains(scalar.value) else {
            throw fail("invalid character reference &\(body);")
        }
        text.append(contentsOf: Array(String(scalar).utf8))
        index = semicolon + 1
    }

    /// `<![CDATA[…]]>`: its bytes verbatim (line ends normalised).
    private mutating func cdata(into text: inout [UInt8]) throws(AWSXMLError) {
        index += 9 // <![CDATA[
        guard let end = find("]]>") else { throw fail("unterminated CDATA section") }
        for at in index..<end {
            try checkCharacter(bytes[at])
            append(bytes[at], after: bytes[at - 1], to: &text)
        }
        index = end + 3
    }

    /// `<!--…-->`, skipped.
    private mutating func comment() throws(AWSXMLError) {
        index += 4 // <!--
        guard let end = find("-->") else { throw fail("unterminated comment") }
        index = end + 3
    }

    /// `<?xml …?>` at the start: only UTF-8 documents (a declared other encoding would be read
    /// wrong, and AWS never sends one).
    private mutating func declaration() throws(AWSXMLError) {
        guard let end = find("?>") else { throw fail("unterminated XML declaration") }
        let text = String(decoding: bytes[index..<end], as: UTF8.self)
        if let range = text.range(of: "encoding") {
            let rest = text[range.upperBound...].drop { $0 == " " || $0 == "=" || $0 == "\"" || $0 == "'" }
            let encoding = rest.prefix { $0 != "\"" && $0 != "'" && $0 != " " }
            guard ["utf-8", "utf8"].contains(encoding.lowercased()) else {
                throw fail("encoding \(encoding) is not UTF-8")
            }
        }
        index = end + 2
    }

    // MARK: Lexing

    /// An element or attribute name: a letter, `_`, `:` or any non-ASCII character, then
    /// those, digits, `-` and `.`.
    private mutating func name() throws(AWSXMLError) -> String {
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            let letter = (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":") || byte >= 0x80
            let more = (byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            guard letter || (index > start && more) else { break }
            index += 1
        }
        guard index > start else { throw fail("expected a name") }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// C0 controls other than tab, line feed and carriage return are not XML characters.
    private func checkCharacter(_ byte: UInt8) throws(AWSXMLError) {
        if byte < 0x20 && byte != 0x09 && byte != 0x0A && byte != 0x0D {
            throw fail("control character 0x\(String(byte, radix: 16)) in text")
        }
    }

    /// Appends `byte` with `\r\n` and a lone `\r` turned into `\n`.
    private func append(_ byte: UInt8, after previous: UInt8?, to text: inout [UInt8]) {
        if byte == 0x0D {
            text.append(0x0A)
        } else if byte != 0x0A || previous != 0x0D { // the \n of \r\n is already written
            text.append(byte)
        }
    }

    @discardableResult
    private mutating func skipWhitespace() -> Bool {
        let start = index
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        return index > start
    }

    private mutating func skipWhitespaceAndComments() throws(AWSXMLError) {
        while true {
            skipWhitespace()
            guard starts(with: "<!--") else { return }
            try comment()
        }
    }

    private func starts(with prefix: StaticString) -> Bool {
        let count = prefix.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        let p = prefix.utf8Start
        for k in 0..<count where bytes[index + k] != p[k] { return false }
        return true
    }

    /// The offset of the next `terminator` at or after `index`.
    private func find(_ terminator: StaticString) -> Int? {
        let count = terminator.utf8CodeUnitCount, t = terminator.utf8Start
        var at = index
        while at + count <= bytes.count {
            var match = true
            for k in 0..<count where bytes[at + k] != t[k] {
                match = false
                break
            }
            if match { return at }
            at += 1
        }
        return nil
    }

    private func fail(_ detail: String) -> AWSXMLError {
        AWSXMLError(line: AWSXMLElement.line(at: index, in: bytes), detail: detail)
    }
}
