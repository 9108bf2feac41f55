import Foundation

/// The SDKs' "standard" retry mode: at most ``maxAttempts`` attempts; before attempt `n + 1`
/// wait a uniformly random time in `0 ... min(cap, base × 2ⁿ⁻¹)` ("full jitter"). Only
/// idempotent operations are retried (each client marks its operations), and only on
/// throttling/transient codes, 5xx and connection errors (``AWSServiceError/isRetryable``).
public struct AWSRetryStrategy: Sendable {
    public var maxAttempts: Int
    public var base: Duration
    public var cap: Duration
    /// Source of `[0, 1)` randoms; replaceable so tests can pin the jitter.
    public var random: @Sendable () -> Double

    public init(maxAttempts: Int = 3, base: Duration = .milliseconds(100), cap: Duration = .seconds(20),
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.maxAttempts = max(1, maxAttempts)
        self.base = base
        self.cap = cap
        self.random = random
    }

    /// No retries at all.
    public static let none = AWSRetryStrategy(maxAttempts: 1)

    /// The pause before retry number `retry` (1 = the second attempt).
    public func delay(beforeRetry retry: Int) -> Duration {
        let baseSeconds = Double(base.components.seconds) + Double(base.components.attoseconds) * 1e-18
        let capSeconds = Double(cap.components.seconds) + Double(cap.components.attoseconds) * 1e-18
        let ceiling = min(capSeconds, baseSeconds * pow(2, Double(max(0, retry - 1))))
        return .nanoseconds(Int64(random() * ceiling * 1e9))
    }
}
