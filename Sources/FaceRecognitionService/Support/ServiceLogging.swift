import Foundation
import Logging

/// swift-log set-up shared by the executables: one stderr stream, level from `LOG_LEVEL`
/// (default `info`); metadata (message ids, keys, decisions) is printed as `key=value`.
public enum ServiceLogging {
    private static let bootstrapOnce: Void = {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .info
            return handler
        }
    }()

    public static func logger(_ label: String) -> Logger {
        _ = bootstrapOnce
        return Logger(label: label)
    }
}
