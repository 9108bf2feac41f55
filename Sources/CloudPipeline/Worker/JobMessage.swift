import Foundation

/// What an input-queue message asks a worker to do, parsed from its body.
///
/// Three body formats reach the input queue:
/// - **An object key** (`test_00.jpg`): the format of the system this replaces, sent by the
///   upload tier after it stores the image.
/// - **An S3 event notification** (`{"Records": [{"eventSource": "aws:s3", ...}]}`), sent by S3
///   itself when the input bucket notifies the queue. Keys arrive URL-encoded with `+` for
///   spaces, as S3 sends them; one message may carry several records. Records that are not
///   `ObjectCreated:*` are skipped. The same event wrapped in an SNS notification
///   (`{"Type": "Notification", "Message": "..."}`) is unwrapped.
/// - **The `s3:TestEvent`** S3 sends once when a notification is configured: acknowledged and
///   ignored.
public enum JobMessage: Sendable, Hashable {
    /// Recognise these objects.
    case objects([JobObject])
    /// S3's set-up probe (or an event with no created objects): nothing to do.
    case ignorable(reason: String)

    /// Parses a message body.
    /// - Throws: ``JobMessageError`` when the body is neither a usable key nor a well-formed
    ///   S3 event. Such a message can never succeed, so workers treat it as a permanent failure.
    public static func parse(_ body: String) throws(JobMessageError) -> JobMessage {
        let text = body.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw .empty }
        guard text.hasPrefix("{") else {
            return .objects([JobObject(bucket: nil, key: try validatedKey(text))])
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        } catch {
            throw .malformedJSON(String(describing: error))
        }
        return try parse(json: json, depth: 0)
    }

    private static func parse(json: Any, depth: Int) throws(JobMessageError) -> JobMessage {
        guard let object = json as? [String: Any] else { throw .unexpectedShape("the JSON body is not an object") }
        if let event = object["Event"] as? String, event == "s3:TestEvent" {
            return .ignorable(reason: "s3:TestEvent")
        }
        // SNS fan-out (S3 → SNS → SQS) wraps the event in a string field; unwrap once.
        if object["Type"] as? String == "Notification", let message = object["Message"] as? String, depth == 0 {
            let inner: Any
            do {
                inner = try JSONSerialization.jsonObject(with: Data(message.utf8), options: [.fragmentsAllowed])
            } catch {
                throw .malformedJSON("SNS Message: \(error)")
            }
            return try parse(json: inner, depth: depth + 1)
        }
        guard let records = object["Records"] as? [Any] else {
            throw .unexpectedShape("no \"Records\" array and not an s3:TestEvent")
        }
        var objects: [JobObject] = []
        for (index, element) in records.enumerated() {
            guard let record = element as? [String: Any] else { throw .unexpectedShape("Records[\(index)] is not an object") }
            if let source = record["eventSource"] as? String, source != "aws:s3" {
                throw .unexpectedShape("Records[\(index)].eventSource is \(source.debugDescription), not aws:s3")
            }
            guard let eventName = record["eventName"] as? String else {
                throw .unexpectedShape("Records[\(index)].eventName is missing")
            }
            guard eventName.hasPrefix("ObjectCreated:") else { continue }
            guard let s3 = record["s3"] as? [String: Any],
                  let bucket = (s3["bucket"] as? [String: Any])?["name"] as? String,
                  let encodedKey = (s3["object"] as? [String: Any])?["key"] as? String else {
                throw .unexpectedShape("Records[\(index)] lacks s3.bucket.name or s3.object.key")
            }
            guard let key = decodeEventKey(encodedKey) else { throw .invalidKey(encodedKey, "not valid URL encoding") }
            objects.append(JobObject(bucket: bucket, key: try validatedKey(key)))
        }
        guard !objects.isEmpty else { return .ignorable(reason: "no ObjectCreated records") }
        return .objects(objects)
    }

    /// S3 event keys are form-encoded: `+` is a space, `%XX` a byte.
    static func decodeEventKey(_ encoded: String) -> String? {
        encoded.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    private static func validatedKey(_ key: String) throws(JobMessageError) -> String {
        do {
            return try ObjectKey(key).rawValue
        } catch {
            throw .invalidKey(key, error.description)
        }
    }
}

/// One image a job refers to.
public struct JobObject: Sendable, Hashable {
    /// The bucket named by an S3 event; `nil` for a plain-key message (the input bucket).
    public let bucket: String?
    /// The object key, decoded and validated by ``ObjectKey``.
    public let key: String

    public init(bucket: String?, key: String) {
        self.bucket = bucket
        self.key = key
    }

    /// The result's object key: the input key without its extension (`a/b/test_00.jpg` →
    /// `a/b/test_00`), as the old system wrote it.
    public var resultKey: String {
        let lastSlash = key.lastIndex(of: "/")
        let nameStart = lastSlash.map { key.index(after: $0) } ?? key.startIndex
        if let dot = key[nameStart...].lastIndex(of: "."), dot > nameStart {
            return String(key[..<dot])
        }
        return key
    }

    /// The result key's last segment: the `STEM` of `STEM:NAME`.
    public var stem: String {
        let result = resultKey
        guard let slash = result.lastIndex(of: "/") else { return result }
        return String(result[result.index(after: slash)...])
    }
}

/// Why a message body is not a job.
public enum JobMessageError: Error, Sendable, Hashable, CustomStringConvertible {
    case empty
    case malformedJSON(String)
    case unexpectedShape(String)
    case invalidKey(String, String)

    public var description: String {
        switch self {
        case .empty: return "the message body is empty"
        case .malformedJSON(let detail): return "the message body is not valid JSON: \(detail)"
        case .unexpectedShape(let detail): return "the message body is not an S3 event: \(detail)"
        case .invalidKey(let key, let reason): return "the message names an unusable object key \(key.debugDescription): \(reason)"
        }
    }
}
