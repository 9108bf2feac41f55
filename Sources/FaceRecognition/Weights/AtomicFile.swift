import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Replaces a file's contents all at once: the bytes go to a temporary file in the target's own
/// directory (so the final `rename` never crosses file systems), are flushed to disk, and the
/// temporary file is renamed over the target. A reader, or a crash at any point, sees the old
/// file or the new one, never a mix or a truncated file; on failure the temporary file is removed
/// and the target is untouched.
///
/// An existing target keeps its permission bits; a new one gets `0644`. A symbolic link is
/// followed, so the file it points to is replaced and the link stays.
enum AtomicFile {
    /// Temporary files are `.<target name>.tmp-XXXXXX` beside the target.
    static func temporaryTemplate(for target: URL) -> String {
        target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).tmp-XXXXXX").path
    }

    static func write(_ data: Data, to url: URL) throws(WeightsError) {
        var target = url.standardizedFileURL
        var linkInfo = stat()
        if lstat(target.path, &linkInfo) == 0 && (linkInfo.st_mode & S_IFMT) == S_IFLNK {
            target = target.resolvingSymlinksInPath()
        }
        let path = target.path
        func failure(_ what: String, _ code: Int32 = errno) -> WeightsError {
            .io(file: url.path, reason: "cannot write: \(what): \(String(cString: strerror(code)))")
        }

        var mode: mode_t = 0o644
        var info = stat()
        if stat(path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFREG else {
                throw WeightsError.io(file: url.path, reason: "cannot write: not a regular file")
            }
            mode = info.st_mode & 0o7777
        }

        var template = Array(temporaryTemplate(for: target).utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw failure("cannot create a temporary file in \(target.deletingLastPathComponent().path)") }
        let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var isOpen = true
        var renamed = false
        defer {
            if isOpen { close(fd) }
            if !renamed { unlink(temporary) }
        }

        let written: Int32 = data.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return 0 }
            var offset = 0
            while offset < raw.count {
                let count = Glue.write(fd, base + offset, raw.count - offset)
                if count > 0 {
                    offset += count
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    return count < 0 ? errno : EIO
                }
            }
            return 0
        }
        guard written == 0 else { throw failure("writing \(temporary) failed", written) }
        guard fchmod(fd, mode) == 0 else { throw failure("cannot set the permissions of \(temporary)") }
        guard fsync(fd) == 0 else { throw failure("cannot flush \(temporary)") }
        isOpen = false
        guard close(fd) == 0 else { throw failure("cannot close \(temporary)") }
        guard rename(temporary, path) == 0 else { throw failure("cannot rename \(temporary) to \(path)") }
        renamed = true

        // Make the rename itself durable; a failure here leaves a complete file either way.
        let directory = Glue.openDirectory(target.deletingLastPathComponent().path)
        if directory >= 0 {
            _ = fsync(directory)
            close(directory)
        }
    }
}

/// The C `write` and `open`, named apart from Swift's.
private enum Glue {
    static func write(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Darwin)
        return Darwin.write(fd, buffer, count)
        #elseif canImport(Glibc)
        return Glibc.write(fd, buffer, count)
        #else
        return Musl.write(fd, buffer, count)
        #endif
    }

    static func openDirectory(_ path: String) -> Int32 {
        #if canImport(Darwin)
        return Darwin.open(path, O_RDONLY)
        #elseif canImport(Glibc)
        return Glibc.open(path, O_RDONLY)
        #else
        return Musl.open(path, O_RDONLY)
        #endif
    }
}
