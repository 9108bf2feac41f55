import Foundation

/// Date formats in AWS responses.
enum AWSDates {
    /// ISO 8601 with or without fractional seconds (`2026-11-29T02:10:00.000Z`).
    static func iso8601(_ text: String) -> Date? {
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = withFraction.date(from: text) { return date }
        return ISO8601DateFormatter().date(from: text)
    }

    /// RFC 7231 HTTP dates (`Sun, 29 Nov 2026 02:10:00 GMT`), as in `Last-Modified`.
    static func http(_ text: String) -> Date? {
        // HTTP dates are printable ASCII. Anything else must not reach DateFormatter: on Linux its
        // date(from:) traps ("Incorrect range") when a combining mark follows the characters it
        // parsed, as in `Sun, 29\u{5B1}ov 2026` (found by fuzzing S3 response headers).
        guard text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }
}
