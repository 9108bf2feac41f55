import CloudPipeline
import CloudPipelineTestSupport
import Foundation
import Testing

/// Inputs found by the libFuzzer targets (Fuzz/, `scripts/fuzz.sh`) that killed the process
/// inside FoundationXML's XMLParser (libxml2 in recover mode), which AWSXMLElement.parse used
/// then: names force-unwrapped as UTF-8 (a trap), and strlen on the NULL data of a processing
/// instruction like `<?p?>` (a segfault). Each must be a thrown, typed error; the parser is now
/// our own (AWSXMLReader), and these stay as its regression tests.
@Suite("AWS XML fuzz regressions")
struct AWSXMLFuzzRegressionTests {
    static let fixtures = AWSTestPaths.packageRoot.appendingPathComponent("Tests/Fixtures/fuzz/aws")

    /// Minimal forms of the finding: one invalid byte in each kind of name XMLParser unwraps.
    @Test("invalid UTF-8 in a name is an AWSXMLError, not a trap", arguments: [
        ("element", Array("<a".utf8) + [0xFF] + Array(">x</a>".utf8), 2),
        ("nested element", Array("<a><b".utf8) + [0xC3] + Array(">x</b></a>".utf8), 5),
        ("attribute", Array("<a x".utf8) + [0xFF] + Array("=\"1\"/>".utf8), 4),
        ("comment", Array("<a><!--".utf8) + [0xFF] + Array("--></a>".utf8), 7),
        ("processing instruction", Array("<a><?p".utf8) + [0xFF] + Array(" x?></a>".utf8), 6),
        ("second line", Array("<a>\n<b>".utf8) + [0xE2, 0x82] + Array("</b></a>".utf8), 7),
    ])
    func minimalInvalidNames(kind: String, bytes: [UInt8], offset: Int) throws {
        let error = #expect(throws: AWSXMLError.self, "\(kind)") { try AWSXMLElement.parse(Data(bytes)) }
        #expect(error?.detail == "invalid UTF-8 at byte offset \(offset)")
        #expect(error?.line == (kind == "second line" ? 2 : 1))
    }

    /// `<?p?>` reached XMLParser's processing-instruction callback with NULL data.
    @Test("processing instructions and DTDs are an AWSXMLError", arguments: [
        ("<a><?p?></a>", "processing instruction at byte offset 3"),
        ("<?xm?><a/>", "processing instruction at byte offset 0"),
        ("<?xml version=\"1.0\"?>\n<?p?><a/>", "processing instruction at byte offset 22"),
        ("<?xml?><a/>", "processing instruction at byte offset 0"),
        ("<!DOCTYPE a [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><a>&e;</a>", "DOCTYPE at byte offset 0"),
    ])
    func processingInstructions(text: String, detail: String) throws {
        let error = #expect(throws: AWSXMLError.self) { try AWSXMLElement.parse(Data(text.utf8)) }
        #expect(error?.detail == detail + " (not used in AWS responses)")
    }

    @Test("the FuzzAWSXML processing-instruction crash input")
    func processingInstructionCrashInput() throws {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("xml-processing-instruction-without-data.bin"))
        let error = #expect(throws: AWSXMLError.self) { try AWSXMLElement.parse(data) }
        #expect(error?.detail.hasPrefix("processing instruction at byte offset") == true)
    }

    @Test("an AWS response with its XML declaration (and a byte order mark) still parses")
    func declarationStillParses() throws {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code></Error>"
        #expect(try AWSXMLElement.parse(Data(body.utf8)).string("Code") == "NoSuchKey")
        #expect(try AWSXMLElement.parse(Data([0xEF, 0xBB, 0xBF]) + Data(body.utf8)).string("Code") == "NoSuchKey")
    }

    @Test("valid UTF-8 still parses; a declared other encoding is refused")
    func validStillParses() throws {
        let root = try AWSXMLElement.parse(Data("<Résumé><Key>caf\u{E9} ✓</Key></Résumé>".utf8))
        #expect(root.name == "Résumé")
        #expect(root.string("Key") == "caf\u{E9} ✓")
        let latin1 = Data("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>caf".utf8) + Data([0xC3, 0xA9]) + Data("</a>".utf8)
        let error = #expect(throws: AWSXMLError.self) { try AWSXMLElement.parse(latin1) }
        #expect(error?.detail == "encoding ISO-8859-1 is not UTF-8")
    }

    @Test("the FuzzAWSXML crash input")
    func bareBody() throws {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("xml-ec2-error-invalid-utf8-name.bin"))
        let error = #expect(throws: AWSXMLError.self) { try AWSXMLElement.parse(data) }
        #expect(error?.detail.hasPrefix("invalid UTF-8 at byte offset") == true)
    }

    @Test("the FuzzS3XML crash input: GetObject 404 with an undecodable error body")
    func s3() async throws {
        let input = try FuzzResponse(file: "s3-get-error-invalid-utf8-name.bin")
        #expect(input.selector == 1 && input.response.statusCode == 404)
        let client = S3Client(configuration: input.configuration)
        // The body cannot be read, so the code falls back to the HTTP reason.
        let error = await #expect(throws: AWSServiceError.self) { try await client.getObject(bucket: "b", key: "k") }
        #expect(error?.statusCode == 404)
        #expect(error?.code == "NotFound")
    }

    @Test("the FuzzEC2XML crash input: TerminateInstances 200 with an undecodable body")
    func ec2() async throws {
        let input = try FuzzResponse(file: "ec2-terminate-invalid-utf8-name.bin")
        #expect(input.selector == 2 && input.response.statusCode == 200)
        let client = EC2Client(configuration: input.configuration)
        let error = await #expect(throws: AWSClientError.self) { try await client.terminateInstances(["i-0123456789abcdef0"]) }
        guard case .invalidResponse(let service, let operation, let detail)? = error else {
            Issue.record("expected invalidResponse, got \(String(describing: error))")
            return
        }
        #expect(service == "ec2" && operation == "TerminateInstances")
        #expect(detail.contains("invalid UTF-8"))
    }

    @Test("the FuzzSQSJSON crash input: a 400 XML error body with an undecodable name")
    func sqs() async throws {
        let input = try FuzzResponse(file: "sqs-receive-xml-error-invalid-utf8-name.bin")
        #expect(input.selector == 0 && input.response.statusCode == 400)
        let client = SQSClient(configuration: input.configuration)
        let error = await #expect(throws: AWSServiceError.self) {
            try await client.receiveMessage(queueUrl: "http://127.0.0.1:5000/123456789012/jobs")
        }
        // The XML is rejected, so the code comes from moto's x-amzn-query-error header.
        #expect(error?.statusCode == 400)
        #expect(error?.code.hasPrefix("AWS.SimpleQueueService.N") == true)
    }
}

/// A fuzz input in the AWS client targets' layout (see Tests/Fixtures/fuzz/README.md) and a
/// client configuration whose transport answers with it.
struct FuzzResponse {
    let selector: UInt8
    let response: AWSHTTPResponse

    init(file: String) throws {
        try self.init(bytes: [UInt8](try Data(contentsOf: AWSXMLFuzzRegressionTests.fixtures.appendingPathComponent(file))))
    }

    init(bytes: [UInt8]) throws {
        let statuses = [301, 400, 403, 404, 409, 500, 503]
        selector = bytes[0]
        let status = bytes[1] % 2 == 0 ? 200 : statuses[Int(bytes[1] / 2) % statuses.count]
        let rest = Array(bytes[2...])
        var headers: [String: String] = [:]
        var body = rest
        if let split = (0..<max(0, rest.count - 1)).first(where: { rest[$0] == 0x0A && rest[$0 + 1] == 0x0A }) {
            for line in String(decoding: rest[..<split], as: UTF8.self).split(separator: "\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()] =
                    line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            body = Array(rest[(split + 2)...])
        }
        response = AWSHTTPResponse(statusCode: status, headers: headers, body: Data(body))
    }

    var configuration: AWSClientConfiguration {
        AWSClientConfiguration(region: "us-east-1", endpoint: URL(string: "http://127.0.0.1:5000"),
                               credentials: StaticCredentialsProvider(AWSCredentials(accessKeyId: "AKID", secretAccessKey: "secret")),
                               retry: .none, transport: Canned(response: response))
    }

    struct Canned: AWSHTTPTransport {
        let response: AWSHTTPResponse
        func send(_ request: AWSHTTPRequest, timeout: Duration) async throws -> AWSHTTPResponse { response }
    }
}
