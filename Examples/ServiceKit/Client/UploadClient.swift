import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A client of the upload API's `POST /` (the old web tier's contract), used by
/// `facerec-send` and the end-to-end tests.
public struct UploadClient: Sendable {
    public let baseURL: URL
    public let bearerToken: String?
    private let session: URLSession

    public init(baseURL: URL, bearerToken: String? = nil, timeout: TimeInterval = 300) {
        self.baseURL = baseURL
        self.bearerToken = bearerToken
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        configuration.httpMaximumConnectionsPerHost = 256
        session = URLSession(configuration: configuration)
    }

    /// One answer.
    public struct Answer: Sendable, Hashable {
        public let status: Int
        /// The body: `STEM:NAME` on success.
        public let body: String
        public let seconds: Double
    }

    /// Posts `data` as the multipart field `inputFile` named `filename`.
    public func upload(_ data: Data, filename: String, path: String = "/") async throws -> Answer {
        let boundary = "facerec-" + UUID().uuidString
        var request = URLRequest(url: path == "/" ? baseURL : baseURL.appendingPathComponent(path))
        request.httpMethod = "POST"
        request.setValue("multipart/form-data; boundary=\(boundary)", forHTTPHeaderField: "Content-Type")
        if let bearerToken { request.setValue("Bearer \(bearerToken)", forHTTPHeaderField: "Authorization") }
        request.httpBody = Self.multipartBody(data, field: "inputFile", filename: filename, boundary: boundary)
        let start = ContinuousClock.now
        let (body, response) = try await session.data(for: request)
        let elapsed = ContinuousClock.now - start
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let (seconds, attoseconds) = elapsed.components
        return Answer(status: status, body: String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines),
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
