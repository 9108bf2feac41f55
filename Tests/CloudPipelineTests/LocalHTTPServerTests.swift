import CloudPipelineTestSupport
import Foundation
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The test server itself: other suites trust it to answer with their own handler only.
@Suite("LocalHTTPServer")
struct LocalHTTPServerTests {
    /// The body of a GET to `url`.
    static func get(_ url: URL) async throws -> String {
        let (data, _) = try await URLSession.shared.data(from: url)
        return String(decoding: data, as: UTF8.self)
    }

    @Test("stop() waits for the request in progress; the next server answers all of its own requests")
    func stopWaitsForTheServingThread() async throws {
        let release = DispatchSemaphore(value: 0)
        let calls = Counter()
        let old = try LocalHTTPServer { _ in
            if calls.next() == 1 { release.wait() } // only the first request is held
            return .init(status: 200, text: "old")
        }
        let inProgress = Task { try await Self.get(old.endpoint) }
        for _ in 0..<500 where old.requests.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        try #require(old.requests.count == 1)

        // Let the old handler finish a moment after stop() starts waiting for it.
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(100)) { release.signal() }
        old.stop()
        // The new listener usually gets the old one's descriptor number. Had the old thread
        // outlived stop() (still answering), it would go back to accept() on that number and
        // answer about half of the new server's requests with the old handler.
        let new = try LocalHTTPServer { _ in .init(status: 200, text: "new") }
        defer { new.stop() }
        #expect(try await inProgress.value == "old")
        var answers: [String] = []
        for _ in 0..<10 { answers.append(try await Self.get(new.endpoint)) }
        #expect(answers == Array(repeating: "new", count: 10))
        #expect(new.requests.count == 10)
        #expect(old.requests.count == 1)
        old.stop() // a second stop() returns at once
    }
}

/// Counts calls across the server's thread and the test.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func next() -> Int { lock.withLock { count += 1; return count } }
}
