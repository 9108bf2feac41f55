import CloudPipeline
import Foundation
import Testing

/// Input-queue bodies: the old plain-key format, S3 event notifications as S3 (and moto) send
/// them, the set-up test event, SNS-wrapped events, and malformed bodies.
@Suite("JobMessage")
struct JobMessageTests {
    @Test("a plain key is one job; surrounding whitespace is ignored")
    func plainKey() throws {
        #expect(try JobMessage.parse("test_00.jpg") == .objects([JobObject(bucket: nil, key: "test_00.jpg")]))
        #expect(try JobMessage.parse("  uploads/x/test_01.png\n") == .objects([JobObject(bucket: nil, key: "uploads/x/test_01.png")]))
    }

    @Test("an S3 event: keys are form-decoded, non-create records skipped, several records kept in order")
    func s3Event() throws {
        // The shape moto and S3 send (eventVersion 2.1), with a key "a b/test 00.jpg".
        let body = """
            {"Records": [
              {"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventName": "ObjectCreated:Put",
               "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": "in-bucket", "arn": "arn:aws:s3:::in-bucket"},
                      "object": {"key": "a+b%2Ftest+00.jpg", "size": 1}}},
              {"eventSource": "aws:s3", "eventName": "ObjectRemoved:Delete",
               "s3": {"bucket": {"name": "in-bucket"}, "object": {"key": "gone.jpg"}}},
              {"eventSource": "aws:s3", "eventName": "ObjectCreated:CompleteMultipartUpload",
               "s3": {"bucket": {"name": "in-bucket"}, "object": {"key": "caf%C3%A9.jpg"}}}
            ]}
            """
        #expect(try JobMessage.parse(body) == .objects([
            JobObject(bucket: "in-bucket", key: "a b/test 00.jpg"),
            JobObject(bucket: "in-bucket", key: "café.jpg"),
        ]))
    }

    @Test("S3's test event and events without created objects are ignorable")
    func ignorable() throws {
        let test = #"{"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-29T04:54:23Z", "Bucket": "in-bucket"}"#
        #expect(try JobMessage.parse(test) == .ignorable(reason: "s3:TestEvent"))
        let removedOnly = #"{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectRemoved:Delete", "s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]}"#
        #expect(try JobMessage.parse(removedOnly) == .ignorable(reason: "no ObjectCreated records"))
    }

    @Test("an event delivered through SNS is unwrapped")
    func sns() throws {
        let inner = #"{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": "x.jpg"}}}]}"#
        let data = try JSONSerialization.data(withJSONObject: ["Type": "Notification", "Message": inner])
        #expect(try JobMessage.parse(String(decoding: data, as: UTF8.self)) == .objects([JobObject(bucket: "b", key: "x.jpg")]))
    }

    @Test("malformed bodies and unsafe keys are typed errors")
    func malformed() {
        #expect(throws: JobMessageError.empty) { try JobMessage.parse("  \n") }
        #expect { try JobMessage.parse("{not json") } throws: { ($0 as? JobMessageError).map { if case .malformedJSON = $0 { true } else { false } } ?? false }
        #expect { try JobMessage.parse(#"{"a": 1}"#) } throws: { $0 as? JobMessageError == .unexpectedShape("no \"Records\" array and not an s3:TestEvent") }
        #expect { try JobMessage.parse(#"{"Records": [{"eventSource": "aws:sqs", "eventName": "x"}]}"#) } throws: {
            ($0 as? JobMessageError).map { if case .unexpectedShape = $0 { true } else { false } } ?? false
        }
        #expect { try JobMessage.parse(#"{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]}"#) } throws: {
            ($0 as? JobMessageError).map { if case .unexpectedShape = $0 { true } else { false } } ?? false
        }
        for key in ["../etc/passwd", "/abs.jpg", "a/../../b.jpg"] {
            #expect { try JobMessage.parse(key) } throws: {
                ($0 as? JobMessageError).map { if case .invalidKey = $0 { true } else { false } } ?? false
            }
        }
        let traversal = #"{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": "..%2F..%2Fx"}}}]}"#
        #expect { try JobMessage.parse(traversal) } throws: {
            ($0 as? JobMessageError).map { if case .invalidKey = $0 { true } else { false } } ?? false
        }
    }

    @Test("result keys drop only the last extension; the stem is the last segment")
    func resultKeys() {
        let cases: [(String, String, String)] = [
            ("test_00.jpg", "test_00", "test_00"),
            ("uploads/1234/test_01.jpeg", "uploads/1234/test_01", "test_01"),
            ("a.b/c", "a.b/c", "c"),
            ("photo.tar.png", "photo.tar", "photo.tar"),
            (".hidden", ".hidden", ".hidden"),
        ]
        for (key, result, stem) in cases {
            let object = JobObject(bucket: nil, key: key)
            #expect(object.resultKey == result, "\(key)")
            #expect(object.stem == stem, "\(key)")
        }
    }
}
