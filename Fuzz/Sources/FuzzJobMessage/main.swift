import CloudPipeline
import Foundation
import FuzzDriver

// SQS message bodies on the input queue: plain object keys, S3 event notifications (URL-encoded
// keys with '+', several records, non-ObjectCreated records), SNS-wrapped events and
// s3:TestEvent. Bodies arrive as Strings, so the bytes are decoded as UTF-8 (invalid
// sequences become U+FFFD, as they would from SQS's JSON).
runFuzzer { start, count in
    let body = String(decoding: fuzzData(start, count), as: UTF8.self)
    if case .objects(let objects) = try? JobMessage.parse(body) {
        // A parsed job must name at least one object with a usable key and result key.
        precondition(!objects.isEmpty, "JobMessage.objects with no objects")
        for object in objects {
            precondition(!object.key.isEmpty, "empty key accepted")
            _ = object.resultKey
            _ = object.stem
        }
    }
    return 0
}
