import CloudPipeline
import Foundation

/// The id a worker's heartbeats carry: the one its auto-scaler knows it by.
public enum WorkerIdentity {
    /// `FACEREC_WORKER_ID` (set by the local process provider and by the EC2 user data), else nil.
    public static func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) async -> String? {
        if let id = environment[ProcessInstanceProvider.workerIDVariable], !id.isEmpty { return id }
        return nil
    }
}
