import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs `body` until it returns or the process gets SIGTERM or SIGINT, which cancel it: the
/// worker's and the scaler's graceful shutdown (jobs in flight finish, nothing is abandoned).
public func runUntilTerminated(_ body: @escaping @Sendable () async -> Void) async {
    let task = Task { await body() }
    let sources = [SIGTERM, SIGINT].map { number -> any DispatchSourceSignal in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler {
            ServiceLog.notice("received signal \(number): finishing jobs in flight, then exiting")
            task.cancel()
        }
        source.resume()
        return source
    }
    await task.value
    sources.forEach { $0.cancel() }
}

/// The directory of the running executable: sibling executables (`facerec-worker`) live there.
public func executableDirectory() -> URL {
    let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: path).deletingLastPathComponent()
}
