@testable import CloudPipeline
import Foundation
import Testing

/// Arguments the clients refuse before sending anything, and the encoders the protocols use.
@Suite("AWS arguments and encoding")
struct AWSArgumentTests {
    /// Nothing listens here: a request that got as far as the network would fail with a
    /// transport error instead of the expected argument error.
    static let configuration = AWSClientConfiguration(
        region: "us-east-1", endpoint: URL(string: "http://127.0.0.1:9")!,
        credentials: StaticCredentialsProvider(AWSCredentials(accessKeyId: "a", secretAccessKey: "b")), retry: .none)

    func isInvalidArgument(_ field: String) -> (any Error) -> Bool {
        { error in
            guard case AWSClientError.invalidArgument(_, let got, _) = error else { return false }
            return got == field
        }
    }

    @Test("S3: empty or slashed bucket names and empty keys are refused locally")
    func s3Arguments() async {
        let s3 = S3Client(configuration: Self.configuration)
        await #expect(performing: { _ = try await s3.getObject(bucket: "", key: "k") }, throws: isInvalidArgument("bucket"))
        await #expect(performing: { _ = try await s3.getObject(bucket: "a/b", key: "k") }, throws: isInvalidArgument("bucket"))
        await #expect(performing: { _ = try await s3.putObject(bucket: "b", key: "", body: Data()) }, throws: isInvalidArgument("key"))
    }

    @Test("SQS: receive and batch limits are checked locally")
    func sqsArguments() async {
        let sqs = SQSClient(configuration: Self.configuration)
        await #expect(performing: { _ = try await sqs.receiveMessage(queueUrl: "q", maxMessages: 0) }, throws: isInvalidArgument("maxMessages"))
        await #expect(performing: { _ = try await sqs.receiveMessage(queueUrl: "q", maxMessages: 11) }, throws: isInvalidArgument("maxMessages"))
        await #expect(performing: { _ = try await sqs.receiveMessage(queueUrl: "q", waitTimeSeconds: 21) }, throws: isInvalidArgument("waitTimeSeconds"))
        let eleven = (0..<11).map { SQSBatchMessage(id: "\($0)", body: "b") }
        await #expect(performing: { _ = try await sqs.sendMessageBatch(queueUrl: "q", entries: eleven) }, throws: isInvalidArgument("entries"))
    }

    @Test("EC2: MinCount/MaxCount are checked locally")
    func ec2Arguments() async {
        let ec2 = EC2Client(configuration: Self.configuration)
        await #expect(performing: {
            _ = try await ec2.runInstances(EC2RunInstancesRequest(imageId: "ami-1", instanceType: "t2.micro", minCount: 2, maxCount: 1))
        }, throws: isInvalidArgument("minCount/maxCount"))
    }

    @Test("SQS attribute names follow SQS's rules")
    func attributeNames() {
        for good in ["kind", "trace.id", "object_key", "A-1"] { #expect(SQSMessageQueue.invalidAttributeName(good) == nil, "\(good)") }
        for bad in ["", "AWS.x", "amazon.y", ".lead", "trail.", "a..b", "sp ace", "ü", String(repeating: "a", count: 257)] {
            #expect(SQSMessageQueue.invalidAttributeName(bad) != nil, "\(bad)")
        }
        #expect(SQSMessageQueue.firstInvalidCharacter("ok\tline\n🙂") == nil)
        #expect(SQSMessageQueue.firstInvalidCharacter("ab\u{0}") == 2)
        #expect(SQSMessageQueue.firstInvalidCharacter("\u{FFFE}") == 0)
        #expect(SQSMessageQueue.wholeSeconds(.milliseconds(1500)) == 2)
        #expect(SQSMessageQueue.wholeSeconds(.seconds(3)) == 3)
    }

    @Test("URI encoding: unreserved kept, everything else %XX upper-case on UTF-8; decoding is lenient")
    func uriEncoding() {
        #expect(AWSURIEncoding.encode("a-_.~Z9") == "a-_.~Z9")
        #expect(AWSURIEncoding.encode("a b+c/é*'()!") == "a%20b%2Bc%2F%C3%A9%2A%27%28%29%21")
        #expect(AWSURIEncoding.encode("a/b c", keepSlash: true) == "a/b%20c")
        #expect(AWSURIEncoding.encodeS3Path("x/y z") == "/x/y%20z")
        #expect(AWSURIEncoding.decode("%E1%88%B4%zz+%4") == "ሴ%zz+%4")
        #expect(AWSURIEncoding.parseQuery("a=1&b&c=%20&=v") == [AWSQueryItem("a", "1"), AWSQueryItem("b", ""), AWSQueryItem("c", " "), AWSQueryItem("", "v")])
        #expect(S3Client.decodeListKey("a+b%2Bc%2Fd") == "a b+c/d")
        #expect(SigV4Signer.removeDotSegments("/a/./b/../../c//d/") == "/c/d/")
        #expect(SigV4Signer.trimAll("  a \t  b\n c  ") == "a b c")
    }

    @Test("XML: parsed tree, text, escaping, malformed input")
    func xml() throws {
        let root = try AWSXMLElement.parse(Data("<R xmlns=\"n\"><A>1 &amp; 2</A><B><C>x</C></B><A>3</A></R>".utf8))
        #expect(root.name == "R")
        #expect(root.children("A").map(\.text) == ["1 & 2", "3"])
        #expect(root.first("C")?.text == "x")
        #expect(AWSXMLElement.escape("<a href='x'>&\"</a>") == "&lt;a href=&apos;x&apos;&gt;&amp;&quot;&lt;/a&gt;")
        #expect(throws: AWSXMLError.self) { _ = try AWSXMLElement.parse(Data("<R><A></R>".utf8)) }
    }

    @Test("SigV4 timestamps round-trip in UTC")
    func timestamps() throws {
        let date = try #require(SigV4Signer.date(fromTimestamp: "20150830T123600Z"))
        #expect(date.timeIntervalSince1970 == 1_440_938_160)
        #expect(SigV4Signer.timestamp(date) == "20150830T123600Z")
        #expect(SigV4Signer.date(fromTimestamp: "2015-08-30") == nil)
    }
}
