import FaceRecognitionService
import Foundation
import Testing

/// The upload form parser on well-formed bodies (as curl and browsers send them) and on
/// malformed, truncated and hostile ones.
@Suite("MultipartFormData")
struct MultipartFormDataTests {
    static func body(_ parts: [(headers: String, body: Data)], boundary: String = "XyZ", preamble: String = "") -> Data {
        var data = Data(preamble.utf8)
        for part in parts {
            data.append(Data("--\(boundary)\r\n\(part.headers)\r\n\r\n".utf8))
            data.append(part.body)
            data.append(Data("\r\n".utf8))
        }
        data.append(Data("--\(boundary)--\r\n".utf8))
        return data
    }

    @Test("file and field parts, binary bodies with CR/LF and boundary-like bytes, quoted names")
    func wellFormed() throws {
        let binary = Data([0xFF, 0xD8, 0x0D, 0x0A, 0x2D, 0x2D, 0x58, 0x79, 0x00, 0x0D, 0x0A])  // contains "\r\n--Xy"
        let data = Self.body([
            (#"Content-Disposition: form-data; name="note""#, Data("hello".utf8)),
            ("Content-Disposition: form-data; name=\"inputFile\"; filename=\"te\\\"st 00.jpg\"\r\nContent-Type: image/jpeg", binary),
            (#"Content-Disposition: form-data; name="empty""#, Data()),
        ], preamble: "ignored preamble\r\n")
        let form = try MultipartFormData(body: data, boundary: "XyZ")
        #expect(form.parts.count == 3)
        #expect(form.parts[0] == .init(name: "note", filename: nil, contentType: nil, body: Data("hello".utf8)))
        let file = try #require(form.part(named: "inputFile"))
        #expect(file.filename == "te\"st 00.jpg")
        #expect(file.contentType == "image/jpeg")
        #expect(file.body == binary)
        #expect(form.part(named: "empty")?.body == Data())
    }

    @Test("the boundary comes from the Content-Type header, quoted or not")
    func boundary() throws {
        #expect(try MultipartFormData.boundary(fromContentType: "multipart/form-data; boundary=abc") == "abc")
        #expect(try MultipartFormData.boundary(fromContentType: "Multipart/Form-Data; charset=utf-8; boundary=\"a b:c\"") == "a b:c")
        #expect(throws: MultipartError.notMultipart) { try MultipartFormData.boundary(fromContentType: "image/jpeg") }
        #expect(throws: MultipartError.notMultipart) { try MultipartFormData.boundary(fromContentType: nil) }
        #expect(throws: MultipartError.badBoundary) { try MultipartFormData.boundary(fromContentType: "multipart/form-data") }
        #expect(throws: MultipartError.badBoundary) {
            try MultipartFormData.boundary(fromContentType: "multipart/form-data; boundary=" + String(repeating: "a", count: 71))
        }
    }

    @Test("truncation at every offset is an error, never a crash or a wrong part")
    func truncation() throws {
        let data = Self.body([("Content-Disposition: form-data; name=\"inputFile\"; filename=\"a.jpg\"", Data(repeating: 7, count: 40))])
        let full = try MultipartFormData(body: data, boundary: "XyZ")
        #expect(full.parts.count == 1)
        // Cut before the closing delimiter's dashes: every prefix must fail.
        let closing = data.count - "--XyZ--\r\n".count - 2
        for length in 0..<closing {
            #expect(throws: MultipartError.self, "length \(length)") { try MultipartFormData(body: data.prefix(length), boundary: "XyZ") }
        }
    }

    @Test("hostile bodies: no name, not form-data, huge headers, too many parts, no boundary")
    func hostile() {
        #expect(throws: MultipartError.missingBoundary) { try MultipartFormData(body: Data("no boundary here".utf8), boundary: "XyZ") }
        #expect(throws: MultipartError.badHeader("part without Content-Disposition name")) {
            try MultipartFormData(body: Self.body([("Content-Type: text/plain", Data("x".utf8))]), boundary: "XyZ")
        }
        #expect(throws: MultipartError.badHeader("Content-Disposition is not form-data")) {
            try MultipartFormData(body: Self.body([("Content-Disposition: attachment; name=\"a\"", Data("x".utf8))]), boundary: "XyZ")
        }
        #expect(throws: MultipartError.headersTooLarge) {
            try MultipartFormData(body: Self.body([("X-Pad: " + String(repeating: "a", count: 9000), Data("x".utf8))]), boundary: "XyZ")
        }
        let many = (0...MultipartFormData.maxParts).map { (headers: "Content-Disposition: form-data; name=\"p\($0)\"", body: Data()) }
        #expect(throws: MultipartError.tooManyParts) { try MultipartFormData(body: Self.body(many), boundary: "XyZ") }
        #expect(throws: MultipartError.badHeader("header line without a colon")) {
            try MultipartFormData(body: Self.body([("Content-Disposition form-data", Data())]), boundary: "XyZ")
        }
    }
}

/// Client file names never become paths.
@Suite("UploadNaming")
struct UploadNamingTests {
    @Test("names are reduced to a safe last component; keys are uploads/<id>/<name>")
    func names() throws {
        let cases: [(String?, String)] = [
            ("test_00.jpg", "test_00.jpg"), ("../../etc/passwd", "passwd"), ("C:\\Users\\me\\face.png", "face.png"),
            ("/abs/path.jpg", "path.jpg"), ("..", "image"), (".hidden.jpg", "hidden.jpg"), ("", "image"), (nil, "image"),
            ("a b\u{0}c.jpg", "a_b_c.jpg"), ("ｆａｃｅ.jpg", "____.jpg"), ("x\u{202E}gpj.exe", "x_gpj.exe"),
        ]
        for (raw, expected) in cases { #expect(UploadNaming.safeFilename(raw) == expected, "\(String(describing: raw))") }
        let long = String(repeating: "n", count: 500) + ".jpeg"
        let safe = UploadNaming.safeFilename(long)
        #expect(safe.utf8.count == UploadNaming.maxNameBytes)
        #expect(safe.hasSuffix(".jpeg"))
        let id = UploadNaming.newID()
        #expect(UploadNaming.isValidID(id))
        #expect(!UploadNaming.isValidID("../x"))
        #expect(try UploadNaming.key(id: id, filename: "../a.jpg") == "uploads/\(id)/a.jpg")
        #expect(UploadNaming.id(fromKey: "uploads/\(id)/a.jpg") == id)
        #expect(UploadNaming.id(fromKey: "other/\(id)/a.jpg") == nil)
    }
}
