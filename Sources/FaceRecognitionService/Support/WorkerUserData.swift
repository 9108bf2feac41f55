import CloudPipeline
import Foundation

/// The EC2 user-data script the home-made scaler (`facerec-autoscaler`) gives its instances:
/// the same `WorkerBootstrapScript` as `facerec-server deploy`, without the download step
/// (the AMI has facerec in the `WorkerInstallLayout`). It writes the pipeline's environment
/// to `/etc/facerec/worker.env` and starts `facerec-worker` under systemd, else directly.
///
/// Credentials are deliberately not part of it: user data is readable by anyone who can
/// describe the instance, so instances get theirs from an instance profile (IMDSv2). Nor are
/// the scaler's own file paths: worker arguments come from the install layout.
public enum WorkerUserData {
    /// The variables copied from the scaler's environment into the workers'.
    public static let forwardedVariables = [
        "INPUT_QUEUE_URL", "OUTPUT_QUEUE_URL", "INPUT_BUCKET", "OUTPUT_BUCKET", "DEAD_LETTER_QUEUE_URL",
        "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS",
        "FACEREC_S3_NOTIFICATIONS", "LOG_LEVEL",
    ]

    /// - Parameters:
    ///   - environment: the scaler's environment; only ``forwardedVariables`` are written.
    ///   - workerArguments: `facerec-worker`'s arguments, relative to the layout's root
    ///     (`WorkerInstallLayout.workerArguments(identify:threshold:concurrency:)`).
    ///   - layout: where the AMI has facerec.
    public static func script(environment: [String: String], workerArguments: [String],
                              layout: WorkerInstallLayout = .standard) -> String {
        let variables = forwardedVariables.compactMap { name in
            environment[name].flatMap { $0.isEmpty ? nil : (name: name, value: $0) }
        }
        return WorkerBootstrapScript(layout: layout, variables: variables, workerArguments: workerArguments,
                                     origin: "written by facerec-autoscaler").script
    }

    /// Single-quoted for sh: safe for any value.
    public static func shellQuoted(_ value: String) -> String {
        WorkerBootstrapScript.quoted(value)
    }
}
