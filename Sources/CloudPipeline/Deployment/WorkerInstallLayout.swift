import Foundation

/// Where a worker instance keeps facerec — the one definition the deploy's user data, the
/// systemd unit (`deploy/systemd/facerec-worker.service`) and the home-made scaler's user data
/// all follow:
///
/// | path | what |
/// |---|---|
/// | `/opt/facerec/bin/facerec-worker` | the release executable |
/// | `/opt/facerec/weights/mtcnn/{pnet,rnet,onet}.pt` | MTCNN weights |
/// | `/opt/facerec/weights/facenet.pt` | FaceNet weights (.pt or safetensors; the format is read from the bytes) |
/// | `/opt/facerec/gallery/gallery.pt` | the gallery (`data.pt` or `facerec enroll`'s file) |
/// | `/etc/facerec/worker.env` | pipeline variables, `FACEREC_ASG_NAME`, `FACEREC_LIFECYCLE_HOOK`, `FACEREC_WORKER_ARGS` |
/// | `/etc/systemd/system/facerec-worker.service` | the unit |
///
/// The artifacts bucket mirrors the part under `/opt/facerec`: `s3://<bucket>/<prefix>/bin/facerec-worker`,
/// `.../weights/mtcnn/pnet.pt`, ... The worker runs with `/opt/facerec` as its working
/// directory and gets paths relative to it (``workerArguments(identify:threshold:concurrency:)``),
/// so the same arguments work under a scratch prefix (`FACEREC_INSTALL_ROOT`) in tests.
public struct WorkerInstallLayout: Sendable, Hashable {
    /// The standard layout under `/opt/facerec`.
    public static let standard = WorkerInstallLayout()

    /// The install directory (also the worker's working directory).
    public var root: String
    public var configurationDirectory: String
    public var unitFile: String

    public static let executable = "bin/facerec-worker"
    public static let mtcnnDirectory = "weights/mtcnn"
    public static let mtcnnFiles = ["pnet.pt", "rnet.pt", "onet.pt"]
    public static let facenetWeights = "weights/facenet.pt"
    public static let gallery = "gallery/gallery.pt"

    public init(root: String = "/opt/facerec", configurationDirectory: String = "/etc/facerec",
                unitFile: String = "/etc/systemd/system/facerec-worker.service") {
        self.root = root
        self.configurationDirectory = configurationDirectory
        self.unitFile = unitFile
    }

    /// `/etc/facerec/worker.env`.
    public var environmentFile: String { configurationDirectory + "/worker.env" }

    /// The artifacts, relative to ``root`` and to the artifacts prefix (the executable first).
    public static var artifacts: [String] {
        [executable] + mtcnnFiles.map { mtcnnDirectory + "/" + $0 } + [facenetWeights, gallery]
    }

    /// An absolute path for `relative`.
    public func path(_ relative: String) -> String { root + "/" + relative }

    /// `facerec-worker`'s arguments, relative to ``root``: MTCNN weights, and with `identify`
    /// the FaceNet weights and the gallery; then `--threshold` and `--concurrency` if given.
    public static func workerArguments(identify: Bool = true, threshold: Float? = nil, concurrency: Int? = nil) -> [String] {
        var arguments = ["--mtcnn-weights", mtcnnDirectory]
        if identify { arguments += ["--weights", facenetWeights, "--gallery", gallery] }
        if let threshold { arguments += ["--threshold", String(threshold)] }
        if let concurrency { arguments += ["--concurrency", String(concurrency)] }
        return arguments
    }
}

/// The user-data script that turns a fresh instance into a worker, in the
/// ``WorkerInstallLayout``:
/// 1. with ``artifacts`` set, downloads each artifact with `aws s3 cp` (the AWS CLI, which the
///    AMI must have; the endpoint follows `AWS_ENDPOINT_URL` as the CLI reads it);
/// 2. writes ``variables`` to `/etc/facerec/worker.env` (never credentials: user data is
///    readable by anyone who can describe the instance; instances use their instance profile);
/// 3. installs `deploy/systemd/facerec-worker.service` and starts it; without `systemctl`
///    (or with `FACEREC_INSTALL_ROOT` set) it sources the env file and `exec`s the worker in the
///    foreground instead.
///
/// `FACEREC_INSTALL_ROOT` (default empty) prefixes every path, so a test harness can run the
/// script as an ordinary process in a scratch directory.
public struct WorkerBootstrapScript: Sendable {
    public var layout: WorkerInstallLayout
    /// `NAME=value` lines of worker.env, in order. Values are single-quoted.
    public var variables: [(name: String, value: String)]
    /// `facerec-worker`'s arguments (``WorkerInstallLayout/workerArguments(identify:threshold:concurrency:)``);
    /// written as `FACEREC_WORKER_ARGS`, split at spaces, so no argument may hold whitespace or quotes.
    public var workerArguments: [String]
    /// `s3://bucket/prefix` holding the artifacts, or nil when the AMI has them already.
    public var artifacts: String?
    /// The region the AWS CLI uses when the instance's environment names none.
    public var region: String?
    /// Says who wrote the script (a comment on line 2).
    public var origin: String

    public init(layout: WorkerInstallLayout = .standard, variables: [(name: String, value: String)], workerArguments: [String],
                artifacts: String? = nil, region: String? = nil, origin: String) {
        self.layout = layout
        self.variables = variables
        self.workerArguments = workerArguments
        self.artifacts = artifacts
        self.region = region
        self.origin = origin
    }

    /// Arguments that survive systemd's and the shell's splitting of `$FACEREC_WORKER_ARGS`.
    public static func isPlainArgument(_ argument: String) -> Bool {
        !argument.isEmpty && !argument.contains { $0.isWhitespace || $0 == "'" || $0 == "\"" || $0 == "\\" || $0 == "$" || $0 == "*" || $0 == "?" }
    }

    public var script: String {
        let root = layout.root, config = layout.configurationDirectory
        var lines = [
            "#!/bin/bash",
            "# facerec worker bootstrap (\(origin))",
            "# FACEREC_INSTALL_ROOT (default empty) prefixes every path: for trying this script in a scratch directory.",
            "set -euo pipefail",
            "R=\"${FACEREC_INSTALL_ROOT:-}\"",
        ]
        if let region {
            lines.append("export AWS_DEFAULT_REGION=\"${AWS_DEFAULT_REGION:-${AWS_REGION:-\(region)}}\"")
        }
        lines.append("install -d -m 0755 \"$R\(root)\" \"$R\(config)\"")
        if let artifacts {
            lines += [
                "ARTIFACTS=\(Self.quoted(artifacts))",
                "for artifact in \(WorkerInstallLayout.artifacts.map(Self.quoted).joined(separator: " ")); do",
                "  install -d -m 0755 \"$(dirname \"$R\(root)/$artifact\")\"",
                "  aws s3 cp --only-show-errors \"$ARTIFACTS/$artifact\" \"$R\(root)/$artifact\"",
                "done",
            ]
        }
        lines += [
            "chmod 0755 \"$R\(layout.path(WorkerInstallLayout.executable))\"",
            "cat > \"$R\(layout.environmentFile)\" <<'FACEREC_ENV'",
        ]
        for (name, value) in variables { lines.append("\(name)=\(Self.quoted(value))") }
        let arguments = workerArguments.filter(Self.isPlainArgument).joined(separator: " ")
        lines += [
            "FACEREC_WORKER_ARGS=\(Self.quoted(arguments))",
            "FACEREC_ENV",
            "chmod 0644 \"$R\(layout.environmentFile)\"",
            "if [ -z \"$R\" ] && command -v systemctl >/dev/null 2>&1; then",
            "  cat > \(Self.quoted(layout.unitFile)) <<'FACEREC_UNIT'",
        ]
        lines += DeploymentAssets.workerUnit.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        lines += [
            "FACEREC_UNIT",
            "  systemctl daemon-reload",
            "  systemctl enable --now facerec-worker.service",
            "else",
            "  # No systemd (or a scratch root): run the worker in the foreground.",
            "  set -a; . \"$R\(layout.environmentFile)\"; set +a",
            "  cd \"$R\(root)\"",
            "  set -f",
            "  exec \"$R\(layout.path(WorkerInstallLayout.executable))\" $FACEREC_WORKER_ARGS",
            "fi",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// Single-quoted for sh (and for systemd's EnvironmentFile): safe for any value.
    public static func quoted(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
