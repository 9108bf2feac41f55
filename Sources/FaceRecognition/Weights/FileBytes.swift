import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole file straight into a byte array: one copy (no `Data` then `[UInt8]`), which
/// matters for 100 MB checkpoints, and errors that carry the OS's reason.
enum FileBytes {
    static func read(_ url: URL) throws -> [UInt8] {
        let path = url.path
        func failure(_ what: String) -> WeightsError {
            .io(file: path, reason: "\(what): \(String(cString: strerror(errno)))")
        }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw failure("cannot open") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure("cannot stat") }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw WeightsError.io(file: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        guard size > 0 else { return [] }
        var readError: String?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            initialized = 0
            guard let base = buffer.baseAddress else { return }
            while initialized < size {
                let count = Glue.read(fd, base + initialized, size - initialized)
                if count > 0 {
                    initialized += count
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    if count < 0 { readError = String(cString: strerror(errno)) }
                    break
                }
            }
        }
        guard bytes.count == size else {
            throw WeightsError.io(file: path, reason: readError.map { "read failed: \($0)" }
                                  ?? "file shrank while reading (\(bytes.count) of \(size) bytes)")
        }
        return bytes
    }
}

/// The C `read`, named apart from `FileBytes.read`.
private enum Glue {
    static func read(_ fd: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int {
        #if canImport(Darwin)
        return Darwin.read(fd, buffer, count)
        #elseif canImport(Glibc)
        return Glibc.read(fd, buffer, count)
        #else
        return Musl.read(fd, buffer, count)
        #endif
    }
}
