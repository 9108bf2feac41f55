import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

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

    /// Parses `data`; returns the document element.
    public static func parse(_ data: Data) throws(AWSXMLError) -> AWSXMLElement {
        let delegate = TreeBuilder()
        let parser = XMLParser(data: data)
        parser.delegate = delegate
        parser.shouldProcessNamespaces = false
        guard parser.parse(), let root = delegate.root else {
            let line = parser.lineNumber
            let detail = parser.parserError.map { String(describing: $0) } ?? "no document element"
            throw AWSXMLError(line: line, detail: detail)
        }
        return root
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

private final class TreeBuilder: NSObject, XMLParserDelegate {
    var stack: [AWSXMLElement] = []
    var root: AWSXMLElement?

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        stack.append(AWSXMLElement(name: elementName, text: "", children: []))
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        guard !stack.isEmpty else { return }
        stack[stack.count - 1].text += string
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        guard !stack.isEmpty else { return }
        stack[stack.count - 1].text += String(decoding: CDATABlock, as: UTF8.self)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        guard var element = stack.popLast() else { return }
        if !element.children.isEmpty {
            // Whitespace between child elements is layout, not content.
            element.text = element.text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if stack.isEmpty {
            root = element
        } else {
            stack[stack.count - 1].children.append(element)
        }
    }
}
