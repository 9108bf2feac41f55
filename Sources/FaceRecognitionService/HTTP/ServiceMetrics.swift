import CloudPipeline
import Foundation
import Prometheus

/// The service's Prometheus metrics (`GET /metrics`): requests by route and status, latency
/// histograms, recognition outcomes, queue depths (read at scrape time) and waiting requests.
public final class ServiceMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private static let latencyBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]

    public init() {}

    private static func describe(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    /// Counts a finished request and records its latency.
    public func recordRequest(route: String, status: Int, duration: Duration) {
        registry.makeCounter(descriptor: Self.describe("facerec_http_requests_total", "HTTP requests by route and status code."), labels: [("route", route), ("status", String(status))]).increment()
        registry.makeDurationHistogram(descriptor: Self.describe("facerec_http_request_duration_seconds", "HTTP request latency by route."), labels: [("route", route)], buckets: Self.latencyBuckets).record(duration)
        if status >= 500 {
            registry.makeCounter(descriptor: Self.describe("facerec_http_errors_total", "HTTP responses with a 5xx status."), labels: [("route", route)]).increment()
        }
    }

    /// Counts a job outcome seen by the upload tier (`ok`, `error`, `timeout`).
    public func recordJob(outcome: String) {
        registry.makeCounter(descriptor: Self.describe("facerec_jobs_total", "Upload jobs by outcome as seen by the API."), labels: [("outcome", outcome)]).increment()
    }

    /// Refreshes the gauges that are read at scrape time.
    public func refresh(pipeline: Pipeline, waiting: Int) async {
        for (name, queue) in [("input", pipeline.input), ("output", pipeline.output)] + (pipeline.deadLetter.map { [("dead_letter", $0)] } ?? []) {
            guard let depth = try? await queue.depth() else { continue }
            registry.makeGauge(descriptor: Self.describe("facerec_queue_messages", "Messages in the pipeline's queues by state."), labels: [("queue", name), ("state", "visible")]).set(Double(depth.visible))
            registry.makeGauge(descriptor: Self.describe("facerec_queue_messages", "Messages in the pipeline's queues by state."), labels: [("queue", name), ("state", "in_flight")]).set(Double(depth.inFlight))
        }
        registry.makeGauge(descriptor: Self.describe("facerec_requests_waiting", "Requests waiting for a worker's result.")).set(Double(waiting))
    }

    public func setWorkers(_ count: Int) {
        registry.makeGauge(descriptor: Self.describe("facerec_workers", "Worker processes or instances running.")).set(Double(count))
    }

    public func text() -> String { registry.emitToString() }
}
