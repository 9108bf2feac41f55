@testable import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Testing

/// Every case of the official AWS SigV4 test suite (`aws4_testsuite` in the shared data):
/// the raw `.req` is parsed here (folded and repeated headers included), signed with the
/// suite's conventions, and the canonical request, string to sign and Authorization header
/// must equal the `.creq`, `.sts` and `.authz` files byte for byte.
@Suite("SigV4: AWS test suite")
struct SigV4TestSuiteTests {
    static let root = AWSTestPaths.data("aws4_testsuite")

    /// Case directories (relative), found by their `.req` files.
    static let cases: [String] = {
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return [] }
        var names: [String] = []
        for case let url as URL in walker where url.pathExtension == "req" {
            let relative = url.deletingPathExtension().path.dropFirst(root.path.count + 1)
            names.append(String(relative))
        }
        return names.sorted()
    }()

    /// The suite's fixed inputs (its README and the `post-sts-token/readme.txt`).
    static let credentials = AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    static let timestamp = "20150830T123600Z"
    /// `get-vanilla-with-session-token` signs with this session token (its `.creq` shows it
    /// as a signed header while its `.req` lacks it: the signer must add it).
    static let sessionTokenCase = "get-vanilla-with-session-token"
    static let sessionToken = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"

    @Test("the suite is present and complete")
    func suitePresent() {
        #expect(Self.cases.count == 34, "found \(Self.cases.count) cases under \(Self.root.path)")
    }

    @Test("canonical request, string to sign and Authorization match", arguments: cases)
    func testCase(_ name: String) throws {
        let base = Self.root.appendingPathComponent(name)
        let raw = try String(contentsOf: base.appendingPathExtension("req"), encoding: .utf8)
        let request = try Self.parse(raw)
        var credentials = Self.credentials
        if name.hasSuffix(Self.sessionTokenCase) {
            credentials = AWSCredentials(accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey,
                                         sessionToken: Self.sessionToken)
        }
        let signer = SigV4Signer(service: "service", region: "us-east-1")
        let date = try #require(SigV4Signer.date(fromTimestamp: Self.timestamp))
        let (signed, signature) = signer.sign(request, credentials: credentials, date: date)
        #expect(signature.canonicalRequest == (try String(contentsOf: base.appendingPathExtension("creq"), encoding: .utf8)))
        #expect(signature.stringToSign == (try String(contentsOf: base.appendingPathExtension("sts"), encoding: .utf8)))
        let authz = try String(contentsOf: base.appendingPathExtension("authz"), encoding: .utf8)
        #expect(signature.authorization == authz)
        #expect(signed.headerValues("Authorization") == [authz])
        #expect(signed.headerValues("X-Amz-Date") == [Self.timestamp])
        // Non-S3 services never send the payload hash header.
        #expect(signed.headerValues("X-Amz-Content-SHA256").isEmpty)
    }

    @Test("the suite's signing-key example")
    func signingKey() {
        // From the SigV4 documentation: the key for 20150830/us-east-1/iam.
        let key = SigV4Signer.signingKey(secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", dateStamp: "20150830",
                                         region: "us-east-1", service: "iam")
        let hex = key.withUnsafeBytes { SigV4Signer.hex($0) }
        #expect(hex == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9")
    }

    /// Parses a raw HTTP/1.1 request as the suite writes it: `METHOD target HTTP/1.1`, where the
    /// target may contain spaces and raw UTF-8; `Name:value` headers, repeated names kept in
    /// order, lines starting with whitespace continuing the previous value; a blank line, then
    /// the body.
    static func parse(_ raw: String) throws -> AWSHTTPRequest {
        var lines = raw.components(separatedBy: "\n")
        let requestLine = lines.removeFirst()
        guard let firstSpace = requestLine.firstIndex(of: " "), let versionRange = requestLine.range(of: " HTTP/", options: .backwards) else {
            throw ParseError(line: requestLine)
        }
        let method = String(requestLine[..<firstSpace])
        let target = String(requestLine[requestLine.index(after: firstSpace)..<versionRange.lowerBound])
        var headers: [AWSHTTPHeader] = []
        var bodyLines: [String]?
        for line in lines {
            if bodyLines != nil {
                bodyLines!.append(line)
            } else if line.isEmpty {
                bodyLines = []
            } else if line.first == " " || line.first == "\t" {
                guard !headers.isEmpty else { throw ParseError(line: line) }
                headers[headers.count - 1].value += " " + line
            } else {
                guard let colon = line.firstIndex(of: ":") else { throw ParseError(line: line) }
                headers.append(AWSHTTPHeader(String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
        }
        let path: String
        let query: [AWSQueryItem]
        if let mark = target.firstIndex(of: "?") {
            path = String(target[..<mark])
            query = AWSURIEncoding.parseQuery(String(target[target.index(after: mark)...]))
        } else {
            path = target
            query = []
        }
        let host = headers.first { $0.name.lowercased() == "host" }?.value ?? ""
        return AWSHTTPRequest(method: method, scheme: "https", host: host, path: path, query: query, headers: headers,
                              body: Data((bodyLines ?? []).joined(separator: "\n").utf8))
    }

    struct ParseError: Error, CustomStringConvertible {
        let line: String
        var description: String { "cannot parse request line \(line.debugDescription)" }
    }
}
