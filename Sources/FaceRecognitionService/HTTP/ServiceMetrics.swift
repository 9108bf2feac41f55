import CloudPipeline
import Foundation
import Prometheus

/// The service's Prometheus metrics (`GET /metrics`): requests by route and status, latency
/// histograms, job and recognition outcomes, queue depths (read at scrape time) and waiting
/// requests; and the ``recentJobs`` behind those outcome counters (`GET /v1/jobs/recent`).
public final class ServiceMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    /// The jobs counted by ``recordResult(inputKey:result:)`` and
    /// ``recordRecognition(_:)``/``recordRecognitionFailure(reason:)``, newest first.
    public let recentJobs: RecentJobs
    private static let latencyBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]

    public init(recentJobs: RecentJobs = RecentJobs()) {
        self.recentJobs = recentJobs
    }

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

    /// Counts a worker's result read from the output queue (whoever queued the image) and lists
    /// it among the recent jobs. ``ResultWaiter`` reports each one here when given this method.
    public func recordResult(inputKey: String, result: ResultWaiter.Result) {
        let outcome: RecentJobs.Entry.Outcome = result.succeeded ? .ok : .error
        registry.makeCounter(descriptor: Self.describe("facerec_results_total", "Worker results read from the output queue, by outcome."),
                             labels: [("outcome", outcome.rawValue)]).increment()
        recentJobs.append(.init(source: .queue, key: inputKey, result: result.line, outcome: outcome, error: result.errorReason))
    }

    /// Counts an in-process recognition (`POST /v1/recognize`) and lists it among the recent jobs.
    public func recordRecognition(_ analysis: ImageAnalysis) {
        registry.makeCounter(descriptor: Self.describe("facerec_recognitions_total", "In-process recognitions (POST /v1/recognize), by outcome."),
                             labels: [("outcome", "ok")]).increment()
        recentJobs.append(.init(source: .recognize, result: analysis.label, outcome: .ok, faces: analysis.faces.count))
    }

    /// Counts an in-process recognition whose image could not be read.
    public func recordRecognitionFailure(reason: String) {
        registry.makeCounter(descriptor: Self.describe("facerec_recognitions_total", "In-process recognitions (POST /v1/recognize), by outcome."),
                             labels: [("outcome", "error")]).increment()
        recentJobs.append(.init(source: .recognize, result: RecognitionWorker.errorLabel, outcome: .error, error: reason))
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
