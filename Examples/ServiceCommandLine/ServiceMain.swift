import ArgumentParser
import FaceRecognitionService
import Foundation

/// How the service's executables start and end, the same way `facerec` does: every error on
/// one line as `program: reason` (not ArgumentParser's `Error: `), usage errors at 64 with the
/// usage hint, a ``ServiceStartupError`` with its own status, help and `--version` on standard
/// output. Each executable's `@main` type calls it from its own `static func main()`.
public enum ServiceMain {
    public static func run(_ root: any AsyncParsableCommand.Type) async -> Never {
        let command: any ParsableCommand
        do {
            command = try root.parseAsRoot()
        } catch {
            exit(report(error, root: root))
        }
        do {
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                var synchronous = command
                try synchronous.run()
            }
        } catch let error as ServiceStartupError {
            ServiceLog.notice(error.description)
            exit(error.exitCode)
        } catch {
            exit(report(error, root: root))
        }
        exit(0)
    }

    /// Prints what ArgumentParser would, with the program's name for its `Error: `; returns the
    /// exit status.
    static func report(_ error: any Error, root: any AsyncParsableCommand.Type) -> Int32 {
        let status = root.exitCode(for: error).rawValue
        var message = root.fullMessage(for: error)
        if status == 0 {
            if !message.isEmpty { FileHandle.standardOutput.write(Data((message + "\n").utf8)) }
            return 0
        }
        if message.hasPrefix("Error: ") { message = "\(ServiceLog.program): " + message.dropFirst("Error: ".count) }
        if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
        return status
    }
}
