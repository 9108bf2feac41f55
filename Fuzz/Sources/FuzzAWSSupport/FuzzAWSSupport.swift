import CloudPipeline
import Foundation

/// A fuzz input read as an HTTP response the clients must survive:
///
///     byte 0       operation selector (each target maps it to one client call)
///     byte 1       status class: even → 200, otherwise one of 301/400/403/404/409/500/503
///     then         header lines `name: value\n` up to a blank line (`\n\n`), then the body
///
/// Inputs without a blank line are all body. Keeping the body last lets the seed corpus be
/// real responses with a 2-byte prefix and `\n` in front.
public struct FuzzedResponse: Sendable {
    public let selector: UInt8
    public let response: AWSHTTPResponse

    static let errorStatuses = [301, 400, 403, 404, 409, 500, 503]

    public init(_ data: Data) {
        let bytes = [UInt8](data)
        selector = bytes.first ?? 0
        let statusByte = bytes.count > 1 ? bytes[1] : 0
        let status = statusByte % 2 == 0 ? 200 : Self.errorStatuses[Int(statusByte / 2) % Self.errorStatuses.count]
        let rest = bytes.count > 2 ? Array(bytes[2...]) : []
        var headers: [String: String] = [:]
        var body = rest
        if let split = Self.blankLine(in: rest) {
            let head = String(decoding: rest[..<split], as: UTF8.self)
            for line in head.split(separator: "\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
                headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            body = Array(rest[(split + 2)...])
        }
        response = AWSHTTPResponse(statusCode: status, headers: headers, body: Data(body))
    }

    static func blankLine(in bytes: [UInt8]) -> Int? {
        guard bytes.count >= 2 else { return nil }
        for index in 0..<(bytes.count - 1) where bytes[index] == 0x0A && bytes[index + 1] == 0x0A { return index }
        return nil
    }
}

/// Answers every request with one canned response: the seam (``AWSHTTPTransport``) the
/// clients expose for callers' own HTTP stacks, used here so the fuzzed bytes reach exactly
/// the code that parses a real service's answer.
public struct CannedTransport: AWSHTTPTransport {
    public let response: AWSHTTPResponse
    public init(_ response: AWSHTTPResponse) { self.response = response }
    public func send(_ request: AWSHTTPRequest, timeout: Duration) async throws -> AWSHTTPResponse { response }
}

/// A client configuration on `transport`: fixed credentials and clock, no retries (a
/// retryable fuzzed error must not sleep), a moto-like endpoint.
public func fuzzConfiguration(_ transport: CannedTransport) -> AWSClientConfiguration {
    AWSClientConfiguration(
        region: "us-east-1", endpoint: URL(string: "http://127.0.0.1:5000"),
        credentials: StaticCredentialsProvider(AWSCredentials(accessKeyId: "AKIDFUZZ", secretAccessKey: "fuzz-secret")),
        retry: .none, timeout: .seconds(5), transport: transport,
        clock: { Date(timeIntervalSince1970: 1_764_000_000) })
}

/// Runs `body` to completion from libFuzzer's synchronous callback. Every error is expected
/// (the bytes are hostile); only a trap, a sanitizer report, a leak or a hang is a finding.
///
/// Waits for the task to be *destroyed*, not just finished: libFuzzer runs a full LeakSanitizer
/// scan after any input whose mallocs and frees differ, and a task freed on a pool thread after
/// the callback returned would trigger that scan (~20 ms) on nearly every input. The sentinel
/// lives in the task's closure context, which the runtime releases while tearing the task down.
public func blockOn(_ body: @escaping @Sendable () async throws -> Void) {
    let finished = DispatchSemaphore(value: 0)
    let released = DispatchSemaphore(value: 0)
    // Created in the capture list so that the closure context holds the only reference.
    Task { [sentinel = ReleaseSentinel(released)] in
        withExtendedLifetime(sentinel) {}
        _ = try? await body()
        finished.signal()
    }
    finished.wait()
    released.wait()
}

private final class ReleaseSentinel: Sendable {
    let released: DispatchSemaphore
    init(_ released: DispatchSemaphore) { self.released = released }
    deinit { released.signal() }
}
