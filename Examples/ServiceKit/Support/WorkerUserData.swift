import Foundation

/// The EC2 user-data script that turns a fresh instance into a worker: it writes the pipeline's
/// environment (the same variables as the old system) to `/etc/facerec/worker.env` and starts
/// `facerec-worker` from the AMI under systemd when a unit is installed, else directly.
///
/// Credentials are deliberately not part of it: user data is readable by anyone who can
/// describe the instance, so instances get theirs from an instance profile (IMDSv2).
public enum WorkerUserData {
    /// The variables copied from the scaler's environment into the workers'.
    public static let forwardedVariables = [
        "INPUT_QUEUE_URL", "OUTPUT_QUEUE_URL", "INPUT_BUCKET", "OUTPUT_BUCKET", "DEAD_LETTER_QUEUE_URL",
        "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS",
        "FACEREC_S3_NOTIFICATIONS", "LOG_LEVEL",
    ]

    /// - Parameters:
    ///   - environment: the scaler's environment; only ``forwardedVariables`` are written.
    ///   - workerArguments: `facerec-worker`'s arguments (weights and gallery paths on the AMI).
    ///   - installDirectory: where the AMI has the executables.
    public static func script(environment: [String: String], workerArguments: [String],
                              installDirectory: String = "/opt/facerec") -> String {
        var lines = [
            "#!/bin/bash",
            "# facerec worker bootstrap (written by facerec-autoscaler)",
            "set -euo pipefail",
            "install -d -m 0755 /etc/facerec",
            "cat > /etc/facerec/worker.env <<'FACEREC_ENV'",
        ]
        for name in forwardedVariables {
            guard let value = environment[name], !value.isEmpty else { continue }
            lines.append("\(name)=\(shellQuoted(value))")
        }
        lines.append("FACEREC_ENV")
        let command = (["\(installDirectory)/bin/facerec-worker"] + workerArguments).map(shellQuoted).joined(separator: " ")
        lines += [
            "if [ -f /etc/systemd/system/facerec-worker.service ]; then",
            "  systemctl daemon-reload && systemctl enable --now facerec-worker.service",
            "else",
            "  set -a; . /etc/facerec/worker.env; set +a",
            "  cd \(shellQuoted(installDirectory))",
            "  nohup \(command) >>/var/log/facerec-worker.log 2>&1 &",
            "fi",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// Single-quoted for sh: safe for any value.
    public static func shellQuoted(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
