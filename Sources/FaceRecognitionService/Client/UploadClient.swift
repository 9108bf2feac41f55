import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A client of the upload API's `POST /` (the old web tier's contract), used by
/// `facerec-send` and the end-to-end tests. Plain HTTP, one connection per upload.
///
/// Built directly on SwiftNIO (already in the build through Hummingbird): a load generator must
/// not compete with the service for the CPU, and Foundation's URLSession on Linux polls libcurl
/// while requests wait: with 100 uploads waiting for their answers it burned 7 to 12 CPU
/// seconds per 300 images, a fifth of this 2-core machine.
public struct UploadClient: Sendable {
    public let baseURL: URL
    public let bearerToken: String?
    /// Seconds to wait for one answer.
    public let timeout: TimeInterval

    public init(baseURL: URL, bearerToken: String? = nil, timeout: TimeInterval = 300) {
        self.baseURL = baseURL
        self.bearerToken = bearerToken
        self.timeout = timeout
    }

    /// One answer.
    public struct Answer: Sendable, Hashable {
        public let status: Int
        /// The body: `STEM:NAME` on success.
        public let body: String
        public let seconds: Double
    }

    /// Why an upload got no answer.
    public enum UploadError: Error, Sendable, Hashable, CustomStringConvertible {
        case unsupportedURL(String)
        case timedOut(seconds: Double)
        case answerTooLarge(limit: Int)
        case connectionClosedEarly

        public var description: String {
            switch self {
            case .unsupportedURL(let url): "only http:// URLs with a host are supported, got \(url)"
            case .timedOut(let seconds): "no answer within \(seconds) s"
            case .answerTooLarge(let limit): "the answer is longer than \(limit) bytes"
            case .connectionClosedEarly: "the server closed the connection before answering"
            }
        }
    }

    /// Most bytes of an answer read (answers are one line).
    static let maxAnswerBytes = 1 << 20

    /// Posts `data` as the multipart field `inputFile` named `filename` to `POST /`.
    public func upload(_ data: Data, filename: String) async throws -> Answer {
        guard baseURL.scheme?.lowercased() == "http", let host = baseURL.host else {
            throw UploadError.unsupportedURL(baseURL.absoluteString)
        }
        let port = baseURL.port ?? 80
        let path = baseURL.path.isEmpty ? "/" : baseURL.path
        let boundary = "facerec-" + UUID().uuidString
        let body = Self.multipartBody(data, field: "inputFile", filename: filename, boundary: boundary)
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
        head.headers.add(name: "Host", value: baseURL.port.map { "\(host):\($0)" } ?? host)
        head.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=\(boundary)")
        head.headers.add(name: "Content-Length", value: String(body.count))
        head.headers.add(name: "Connection", value: "close")
        if let bearerToken { head.headers.add(name: "Authorization", value: "Bearer \(bearerToken)") }
        let requestHead = head

        let start = ContinuousClock.now
        let (status, text) = try await withDeadline(seconds: timeout) {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(10))
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(.head(requestHead))
                try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
                try await outbound.write(.end(nil))
                var status = 0
                var answer = ByteBuffer()
                for try await part in inbound {
                    switch part {
                    case .head(let responseHead):
                        status = Int(responseHead.status.code)
                    case .body(var chunk):
                        guard answer.readableBytes + chunk.readableBytes <= Self.maxAnswerBytes else {
                            throw UploadError.answerTooLarge(limit: Self.maxAnswerBytes)
                        }
                        answer.writeBuffer(&chunk)
                    case .end:
                        return (status, String(buffer: answer))
                    }
                }
                throw UploadError.connectionClosedEarly
            }
        }
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        return Answer(status: status, body: text.trimmingCharacters(in: .whitespacesAndNewlines),
                      seconds: Double(seconds) + Double(attoseconds) * 1e-18)
    }

    /// A `multipart/form-data` body with one file part.
    public static func multipartBody(_ data: Data, field: String, filename: String, boundary: String) -> Data {
        let safeName = filename.replacingOccurrences(of: "\"", with: "_").replacingOccurrences(of: "\r", with: "_")
            .replacingOccurrences(of: "\n", with: "_")
        var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(field)\"; filename=\"\(safeName)\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
        body.append(data)
        body.append(Data("\r\n--\(boundary)--\r\n".utf8))
        return body
    }

    /// Uploads every file with at most `concurrency` requests in flight; `progress` is called
    /// after each answer. Answers are returned in the order of `files`.
    public func uploadAll(_ files: [URL], concurrency: Int,
                          progress: @escaping @Sendable (Int) -> Void = { _ in }) async -> [Result<Answer, any Error>] {
        var results = [Result<Answer, any Error>?](repeating: nil, count: files.count)
        await withTaskGroup(of: (Int, Result<Answer, any Error>).self) { group in
            var next = 0
            var done = 0
            func start() {
                guard next < files.count else { return }
                let index = next
                next += 1
                group.addTask {
                    do {
                        let data = try Data(contentsOf: files[index])
                        return (index, .success(try await upload(data, filename: files[index].lastPathComponent)))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            for _ in 0..<max(1, concurrency) { start() }
            for await (index, result) in group {
                results[index] = result
                done += 1
                progress(done)
                start()
            }
        }
        return results.map { $0! }
    }

    /// Runs `operation`, cancelling it and throwing ``UploadError/timedOut(seconds:)`` after `seconds`.
    private func withDeadline<T: Sendable>(seconds: Double, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                throw UploadError.timedOut(seconds: seconds)
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }
}

/// Latency percentiles of a set of answers.
public struct LatencySummary: Sendable, CustomStringConvertible {
    public let count: Int
    public let p50: Double
    public let p90: Double
    public let p99: Double
    public let max: Double

    public init(_ seconds: [Double]) {
        let sorted = seconds.sorted()
        func percentile(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let rank = Int((p * Double(sorted.count)).rounded(.up)) - 1
            return sorted[Swift.max(0, Swift.min(sorted.count - 1, rank))]
        }
        count = sorted.count
        p50 = percentile(0.50)
        p90 = percentile(0.90)
        p99 = percentile(0.99)
        max = sorted.last ?? 0
    }

    public var description: String {
        String(format: "n %d, p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms", count, p50 * 1000, p90 * 1000, p99 * 1000, max * 1000)
    }
}
