import CloudPipeline
import Foundation
import Testing

/// S3 response headers found by fuzzing (FuzzS3XML) that trapped the process: Foundation's
/// DateFormatter.date(from:) on Linux hits a fatal "Incorrect range" error when a combining mark
/// follows the characters it parsed. A Last-Modified value that is not an HTTP date must just
/// leave `lastModified` nil.
@Suite("S3 header fuzz regressions")
struct S3HeaderFuzzRegressionTests {
    @Test("the FuzzS3XML crash input: GetObject with a Last-Modified holding U+05B1")
    func crashInput() async throws {
        let input = try FuzzResponse(file: "s3-get-last-modified-combining-mark.bin")
        #expect(input.selector == 1 && input.response.statusCode == 200)
        let result = try await S3Client(configuration: input.configuration).getObject(bucket: "b", key: "k")
        #expect(result.head.lastModified == nil)
        // The rest of the response is still read.
        #expect(result.head.contentLength == 5 && result.head.eTag == "abc")
        #expect(result.head.metadata == ["origin": "upload"])
    }

    @Test("a Last-Modified with a combining mark or non-ASCII is nil, not a trap", arguments: [
        "Sun, 29\u{05B1}ov 2026 02:10:00 GMT",
        "Sun, 29 Nov 2026 02:10:00 GMT\u{0301}",
        "Sun\u{0301}, 29 Nov 2026 02:10:00 GMT",
        "é",
    ])
    func nonASCIIDates(value: String) async throws {
        let head = try await headObject(lastModified: value)
        #expect(head.lastModified == nil)
    }

    @Test("a well-formed Last-Modified is still parsed")
    func validDate() async throws {
        let head = try await headObject(lastModified: "Sun, 29 Nov 2026 02:10:00 GMT")
        #expect(head.lastModified == Date(timeIntervalSince1970: 1_795_918_200))
    }

    private func headObject(lastModified: String) async throws -> S3ObjectHead {
        // Selector 2 (HeadObject), status 200, one header line, empty body.
        let bytes: [UInt8] = [2, 0] + Array("last-modified: \(lastModified)\n\n".utf8)
        return try await S3Client(configuration: try FuzzResponse(bytes: bytes).configuration).headObject(bucket: "b", key: "k")
    }
}
