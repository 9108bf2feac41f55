import Foundation

/// The last jobs the service saw finish, newest first: what the console's service view lists
/// (`GET /v1/jobs/recent`).
///
/// It is filled by the same calls that count `facerec_results_total` and
/// `facerec_recognitions_total` on `/metrics` (see ``ServiceMetrics``), so the list and the
/// counters describe the same events. It holds at most ``capacity`` entries, in memory: a
/// window for people watching the service, not a record (the result objects are that).
public final class RecentJobs: @unchecked Sendable {
    // @unchecked: `entries` is only touched under `lock`.

    /// One finished job.
    public struct Entry: Sendable, Codable, Equatable {
        public enum Source: String, Sendable, Codable {
            /// A queued image whose result a worker wrote (an upload, or an object from the bucket's events).
            case queue
            /// `POST /v1/recognize`, answered in process.
            case recognize
        }

        public enum Outcome: String, Sendable, Codable {
            /// A result with a name, `Unknown` or `NoFace`.
            case ok
            /// The image could not be processed (the worker's `STEM:Error`, or a 415 from recognize).
            case error
        }

        public var source: Source
        /// The object key of the input image; nil for in-process recognitions.
        public var key: String?
        /// `STEM:NAME` for queued jobs, the image's label (`NAME`, `Unknown`, `NoFace`) for recognitions.
        public var result: String
        public var outcome: Outcome
        /// Why the job failed, as the worker or the decoder said.
        public var error: String?
        /// Faces found, for recognitions (the queue's result line does not say).
        public var faces: Int?
        public var finishedAt: Date

        public init(source: Source, key: String? = nil, result: String, outcome: Outcome, error: String? = nil,
                    faces: Int? = nil, finishedAt: Date = Date()) {
            self.source = source
            self.key = key
            self.result = result
            self.outcome = outcome
            self.error = error
            self.faces = faces
            self.finishedAt = finishedAt
        }
    }

    public let capacity: Int
    private let lock = NSLock()
    private var entries: [Entry] = []  // oldest first

    public init(capacity: Int = 50) {
        precondition(capacity > 0, "RecentJobs needs room for at least one entry")
        self.capacity = capacity
    }

    func append(_ entry: Entry) {
        lock.withLock {
            entries.append(entry)
            if entries.count > capacity { entries.removeFirst(entries.count - capacity) }
        }
    }

    /// The newest `limit` entries, newest first.
    public func newest(_ limit: Int = .max) -> [Entry] {
        lock.withLock { Array(entries.suffix(max(0, limit)).reversed()) }
    }
}
