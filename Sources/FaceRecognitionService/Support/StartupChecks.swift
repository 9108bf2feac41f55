import CloudPipeline
import Foundation
import Logging

/// What the service's executables check before they start work.
public enum StartupChecks {
    /// The exit status for a configuration the process cannot fix by retrying (sysexits'
    /// EX_CONFIG): bad or refused credentials. The shipped systemd units do not restart on it.
    public static let configurationExitCode: Int32 = 78

    /// On AWS, one signed call per service `services` names; a 401/403 throws a
    /// ``ServiceStartupError`` with the reason on one line and ``configurationExitCode`` (the
    /// executables print it and exit with that status). The embedded default needs no check.
    public static func verifyCredentials(_ backend: PipelineBackend, services: Set<CredentialsCheck.Service>,
                                         logger: Logger) async throws {
        guard case .aws(let cloud) = backend else { return }
        do {
            try await CredentialsCheck.verify(cloud, services: services, logger: logger)
        } catch {
            throw ServiceStartupError(error.description, exitCode: configurationExitCode)
        }
    }

    /// The input queue's visibility timeout as `setup` configured it, or `fallback` when the
    /// queue cannot be asked (logged).
    public static func queueVisibilityTimeout(_ pipeline: Pipeline, fallback: Duration = PipelineSettings.defaultVisibilityTimeout,
                                              logger: Logger) async -> Duration {
        do {
            return try await pipeline.input.defaultVisibilityTimeout()
        } catch {
            logger.warning("cannot read the input queue's visibility timeout; assuming \(fallback)", metadata: ["error": "\(error)"])
            return fallback
        }
    }
}
