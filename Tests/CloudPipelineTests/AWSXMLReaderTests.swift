import CloudPipeline
import Foundation
import Testing

/// AWSXMLElement.parse reads XML with its own strict reader (AWSXMLReader) instead of
/// FoundationXML's XMLParser, which trapped, segfaulted and leaked on hostile bodies.
@Suite("AWS XML reader")
struct AWSXMLReaderTests {
    static func parse(_ text: String) throws -> AWSXMLElement { try AWSXMLElement.parse(Data(text.utf8)) }

    static func failure(_ text: String) -> AWSXMLError? {
        #expect(throws: AWSXMLError.self, "\(text.prefix(60))") { try parse(text) }
    }

    @Test func readsTheXMLAWSSends() throws {
        let root = try Self.parse("""
            <?xml version="1.0" encoding="UTF-8"?>
            <!-- a comment before the root -->
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Name>bucket</Name>
              <Contents><Key>in/a &amp; b &lt;1&gt; &quot;q&quot; &apos;s&apos; &#233;&#x2713;.jpg</Key><Size>12</Size></Contents>
              <Contents><Key><![CDATA[in/<raw> & text]]></Key><Size>0</Size></Contents>
              <Empty/><Spaced a='1' b="2" >  kept  </Spaced>
            </ListBucketResult>
            <!-- and after -->

            """)
        #expect(root.name == "ListBucketResult")
        #expect(root.string("Name") == "bucket")
        #expect(root.children("Contents").map { $0.string("Key") } == ["in/a & b <1> \"q\" 's' é✓.jpg", "in/<raw> & text"])
        #expect(root.child("Empty")?.text == "")
        #expect(root.string("Spaced") == "  kept  ")  // text of a leaf is kept as sent
        #expect(root.text == "")                      // layout between children is dropped
    }

    @Test func normalisesLineEndsAsXMLRequires() throws {
        #expect(try Self.parse("<a>1\r\n2\r3\n4</a>").text == "1\n2\n3\n4")
        #expect(try Self.parse("<a><![CDATA[x\r\ny]]></a>").text == "x\ny")
    }

    @Test("malformed bodies are typed errors naming the line", arguments: [
        ("", "no document element"),
        ("   \n ", "no document element"),
        ("<a>", "end of data inside <a>"),
        ("<a></b>", "</b> closes <a>"),
        ("<a><b></a></b>", "</a> closes <b>"),
        ("<a/><b/>", "content after the document element"),
        ("<a/>trailing", "content after the document element"),
        ("<a>&nbsp;</a>", "undefined entity &nbsp;"),
        ("<a>& b</a>", "& without a reference"),
        ("<a>&#0;</a>", "invalid character reference &#0;"),
        ("<a>&#xD800;</a>", "invalid character reference &#xD800;"),
        ("<a>&#+65;</a>", "undefined entity &#+65;"),
        ("<a>\u{01}</a>", "control character 0x1 in text"),
        ("<a x=\"1\"y=\"2\"/>", "expected whitespace, > or /> in the start tag of <a>"),
        ("<a x=\"<\"/>", "< in attribute x of <a>"),
        ("<a x=1/>", "expected a quoted value for attribute x of <a>"),
        ("<a><!-- open </a>", "unterminated comment"),
        ("<a><![CDATA[x</a>", "unterminated CDATA section"),
        ("<1a/>", "expected a name"),
        ("<a><!ELEMENT b></a>", "markup not used in AWS responses"),
        ("<html><body>502 Bad Gateway</body></html", "expected > after </html"),
    ])
    func malformed(text: String, detail: String) {
        #expect(Self.failure(text)?.detail == detail, "\(text)")
    }

    @Test func errorsNameTheLine() {
        #expect(Self.failure("<a>\n<b>\n</c></a>")?.line == 3)
    }

    @Test func nestingIsBoundedWithoutRecursion() throws {
        let limit = 256
        let deepest = String(repeating: "<a>", count: limit) + String(repeating: "</a>", count: limit)
        var element = try Self.parse(deepest)
        var depth = 1
        while let child = element.children.first {
            element = child
            depth += 1
        }
        #expect(depth == limit)
        let over = String(repeating: "<a>", count: limit + 1) + String(repeating: "</a>", count: limit + 1)
        #expect(Self.failure(over)?.detail == "elements nested deeper than \(limit)")
        // A hostile body far deeper than that is refused just as quickly.
        #expect(Self.failure(String(repeating: "<a>", count: 1_000_000)) != nil)
    }
}
