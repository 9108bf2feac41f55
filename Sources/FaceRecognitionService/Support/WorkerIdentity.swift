import CloudPipeline
import Foundation

/// The id a worker's heartbeats carry: the one its auto-scaler knows it by.
public enum WorkerIdentity {
    /// `FACEREC_WORKER_ID` (set by the local process provider, or by an operator running a
    /// worker off EC2); else, on AWS, the EC2 instance id from instance metadata (what
    /// `facerec-autoscaler` and the Auto Scaling group know the instance as); else nil.
    public static func resolve(backend: PipelineBackend,
                               environment: [String: String] = ProcessInfo.processInfo.environment) async -> String? {
        if let id = environment[ProcessInstanceProvider.workerIDVariable], !id.isEmpty { return id }
        guard case .aws = backend else { return nil }
        return try? await InstanceMetadataClient(environment: environment).instanceId()
    }
}
