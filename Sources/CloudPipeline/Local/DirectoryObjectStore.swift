import Crypto
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An ``ObjectStore`` in a local directory: the embedded default that needs no AWS account.
///
/// Layout under `root/objects/`: each key segment but the last is a directory named
/// `<segment>~d`; the object itself is the file `<segment>~o`, its metadata (content type,
/// SHA-256, size) the JSON sidecar `<segment>~m`, and writes in progress are `<random>~t`
/// (a crash mid-`put` can leave one behind; every operation ignores it and
/// ``sweepTemporaryFiles(olderThan:)`` removes it).
/// The role suffixes let `a` and `a/b` both exist, as they can on S3, while the files stay
/// readable with ordinary tools.
///
/// Safety:
/// - Keys are validated by ``ObjectKey`` (no `..`, absolute paths, control characters or
///   Unicode look-alikes), so no key can name a path outside the root.
/// - Paths are walked one component at a time with `openat(O_NOFOLLOW)` from a descriptor
///   of the root, so a symbolic link planted *inside* the root is refused rather than followed
///   (the root path itself may be a link).
/// - `put` writes to a temporary file in the destination directory, `fsync`s it, renames it
///   over the object and `fsync`s the directory: readers see the old or the new bytes, never a
///   torn object, and a completed `put` survives a crash. The sidecar is renamed after the
///   data; if a crash falls between the two renames, the stale sidecar is detected by its size
///   and ignored (`eTag` and `contentType` read as `nil`) while the new bytes are intact.
/// - Concurrent `put`s of one key: the last rename wins for the data; the sidecar may come from
///   the other writer, which the size check catches when the sizes differ.
///
/// Deleting an object also removes the parent directories it leaves empty, as S3 has no
/// directories; a `put` racing with that cleanup starts its walk again.
public final class DirectoryObjectStore: ObjectStore {
    /// The directory given at creation.
    public let root: URL
    private let objectsPath: String

    /// Opens (creating if needed) a store rooted at `root`.
    /// - Throws: ``ObjectStoreError/backend(operation:key:detail:)`` if the directory cannot be
    ///   created.
    public init(root: URL) throws {
        self.root = root
        let objects = root.appendingPathComponent("objects", isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: objects, withIntermediateDirectories: true)
        } catch {
            throw ObjectStoreError.backend(operation: "open", key: "", detail: "cannot create \(objects.path): \(error)")
        }
        self.objectsPath = objects.path
    }

    // MARK: ObjectStore

    public func put(_ data: Data, key: String, contentType: String?) async throws {
        let objectKey = try Self.validate(key)
        let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        let metadata = Sidecar(contentType: contentType, sha256: digest, size: Int64(data.count))
        let sidecarData = try JSONEncoder().encode(metadata)
        try await blocking { [objectsPath] in
            try FileSystem(objectsPath: objectsPath, key: objectKey, operation: "put").put(data, sidecar: sidecarData)
        }
    }

    public func get(key: String) async throws -> Data {
        let objectKey = try Self.validate(key)
        return try await blocking { [objectsPath] in
            guard let data = try FileSystem(objectsPath: objectsPath, key: objectKey, operation: "get").read() else {
                throw ObjectStoreError.notFound(objectKey.rawValue)
            }
            return data
        }
    }

    public func head(key: String) async throws -> ObjectMetadata? {
        let objectKey = try Self.validate(key)
        return try await blocking { [objectsPath] in
            try FileSystem(objectsPath: objectsPath, key: objectKey, operation: "head").metadata()
        }
    }

    public func delete(key: String) async throws {
        let objectKey = try Self.validate(key)
        try await blocking { [objectsPath] in
            try FileSystem(objectsPath: objectsPath, key: objectKey, operation: "delete").remove()
        }
    }

    public func list(prefix: String) async throws -> [ObjectMetadata] {
        // Keys are stored NFC-normalised, so the prefix must be too to match byte-wise.
        let normalised = prefix.precomposedStringWithCanonicalMapping
        return try await blocking { [objectsPath] in
            var results: [ObjectMetadata] = []
            try FileSystem.list(objectsPath: objectsPath, prefix: normalised, into: &results)
            results.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            return results
        }
    }

    /// Removes temporary files (`~t`) that a crashed `put` left behind and that are older than
    /// `age`, so that a `put` still in progress in another process is never disturbed. Meant
    /// to run when a worker starts. Returns how many files were removed.
    @discardableResult
    public func sweepTemporaryFiles(olderThan age: Duration = .seconds(3600)) async throws -> Int {
        let cutoff = Date().addingTimeInterval(-age.cpSeconds).timeIntervalSince1970
        return try await blocking { [objectsPath] in
            let rootFD = open(objectsPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard rootFD >= 0 else {
                throw ObjectStoreError.backend(operation: "sweep", key: "", detail: "open \(objectsPath): \(FileSystem.errnoText(errno))")
            }
            return FileSystem.sweep(rootFD, cutoff: cutoff)
        }
    }

    // MARK: Helpers

    private static func validate(_ key: String) throws -> ObjectKey {
        do {
            return try ObjectKey(key)
        } catch {
            throw ObjectStoreError.invalidKey(key, error)
        }
    }

    /// Runs blocking file I/O off Swift's cooperative pool.
    private func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try body() })
            }
        }
    }
}

/// `read(2)`, named so that it cannot be confused with methods called `read`.
private let posixRead: @Sendable (Int32, UnsafeMutableRawPointer?, Int) -> Int = { read($0, $1, $2) }

/// A directory on the way to an object was removed while `put` was using it.
private struct DirectoryVanished: Error {}

/// The metadata sidecar's JSON.
private struct Sidecar: Codable {
    var contentType: String?
    var sha256: String
    var size: Int64
}

/// File-system work for one key: descriptor-relative, never following links.
private struct FileSystem {
    let objectsPath: String
    let key: ObjectKey
    let operation: String

    static let directorySuffix = "~d"
    static let objectSuffix = "~o"
    static let sidecarSuffix = "~m"
    static let temporarySuffix = "~t"

    private var directoryNames: [String] { key.segments.dropLast().map { $0 + Self.directorySuffix } }
    private var leaf: String { String(key.segments.last!) }

    // MARK: Operations

    func put(_ data: Data, sidecar: Data) throws {
        // A concurrent delete may remove an empty parent directory between our mkdir and our
        // create; start again from the root when that happens.
        for _ in 0..<16 {
            do {
                return try putOnce(data, sidecar: sidecar)
            } catch is DirectoryVanished {
                continue
            }
        }
        throw failure("put", ENOENT, "a parent directory kept disappearing under concurrent deletes")
    }

    private func putOnce(_ data: Data, sidecar: Data) throws {
        let directory = try openDirectory(create: true)!
        defer { close(directory) }
        let dataTemp = Self.temporaryName()
        let sidecarTemp = Self.temporaryName()
        var cleanup = [dataTemp, sidecarTemp]
        defer { for name in cleanup { unlinkat(directory, name, 0) } }
        try writeFile(data, named: dataTemp, in: directory)
        try writeFile(sidecar, named: sidecarTemp, in: directory)
        try check(renameat(directory, dataTemp, directory, leaf + Self.objectSuffix), "rename to \(leaf + Self.objectSuffix)")
        cleanup.removeFirst()
        try check(renameat(directory, sidecarTemp, directory, leaf + Self.sidecarSuffix), "rename to \(leaf + Self.sidecarSuffix)")
        cleanup.removeFirst()
        try check(fsync(directory), "fsync directory")
    }

    func read() throws -> Data? {
        guard let directory = try openDirectory(create: false) else { return nil }
        defer { close(directory) }
        let name = leaf + Self.objectSuffix
        let fd = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw failure("open \(name)", errno)
        }
        defer { close(fd) }
        var info = stat()
        try check(fstat(fd, &info), "fstat \(name)")
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw failure("open \(name)", EINVAL, "not a regular file") }
        return try readAll(fd, name: name)
    }

    func metadata() throws -> ObjectMetadata? {
        guard let directory = try openDirectory(create: false) else { return nil }
        defer { close(directory) }
        return try Self.metadata(in: directory, leaf: leaf, key: key.rawValue, operation: operation)
    }

    func remove() throws {
        guard let directory = try openDirectory(create: false) else { return }
        defer { close(directory) }
        for name in [leaf + Self.objectSuffix, leaf + Self.sidecarSuffix] {
            if unlinkat(directory, name, 0) != 0 && errno != ENOENT {
                throw failure("unlink \(name)", errno)
            }
        }
        try check(fsync(directory), "fsync directory")
        removeEmptyParents()
    }

    /// Removes the object's parent directories from the deepest up while they are empty, so
    /// that deleted prefixes do not pile up (S3 has no directories). `rmdir` refuses non-empty
    /// directories, so this never removes data; a concurrent `put` that loses its directory
    /// retries (see `put`).
    private func removeEmptyParents() {
        let names = directoryNames
        for depth in stride(from: names.count, to: 0, by: -1) {
            guard let parent = try? openDirectory(names[0..<(depth - 1)], create: false) else { return }
            let removed = unlinkat(parent, names[depth - 1], AT_REMOVEDIR) == 0
            if removed { _ = fsync(parent) }
            close(parent)
            if !removed { return }
        }
    }

    static func list(objectsPath: String, prefix: String, into results: inout [ObjectMetadata]) throws {
        let rootFD = open(objectsPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else {
            throw ObjectStoreError.backend(operation: "list", key: prefix, detail: "open \(objectsPath): \(errnoText(errno))")
        }
        try walk(rootFD, keyPrefix: "", wanted: Array(prefix.utf8), into: &results)
    }

    // MARK: Sweeping

    /// Unlinks `~t` files last modified before `cutoff` (seconds since 1970) in directory `fd`
    /// (taking ownership of it) and below, never following links.
    static func sweep(_ fd: Int32, cutoff: Double) -> Int {
        guard let stream = fdopendir(fd) else {
            close(fd)
            return 0
        }
        defer { closedir(stream) }
        let directory = dirfd(stream)
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = entryName(entry)
            if name != "." && name != ".." { names.append(name) }
        }
        var removed = 0
        for name in names {
            var info = stat()
            guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            let kind = info.st_mode & S_IFMT
            if kind == S_IFDIR, name.hasSuffix(directorySuffix) {
                let child = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if child >= 0 { removed += sweep(child, cutoff: cutoff) }
            } else if kind == S_IFREG, name.hasSuffix(temporarySuffix) {
                #if canImport(Darwin)
                let modified = Double(info.st_mtimespec.tv_sec)
                #else
                let modified = Double(info.st_mtim.tv_sec)
                #endif
                if modified < cutoff, unlinkat(directory, name, 0) == 0 { removed += 1 }
            }
        }
        return removed
    }

    // MARK: Listing

    /// Lists directory `fd` (taking ownership of it), whose objects have keys starting with
    /// `keyPrefix`, descending only into directories that can hold keys starting with `wanted`.
    private static func walk(_ fd: Int32, keyPrefix: String, wanted: [UInt8], into results: inout [ObjectMetadata]) throws {
        guard let stream = fdopendir(fd) else {
            let code = errno
            close(fd)
            throw ObjectStoreError.backend(operation: "list", key: keyPrefix, detail: "fdopendir: \(errnoText(code))")
        }
        defer { closedir(stream) }
        let directory = dirfd(stream)
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = entryName(entry)
            if name != "." && name != ".." { names.append(name) }
        }
        for name in names {
            var info = stat()
            guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            let kind = info.st_mode & S_IFMT
            if kind == S_IFDIR, name.hasSuffix(directorySuffix) {
                let childPrefix = keyPrefix + name.dropLast(directorySuffix.count) + "/"
                guard couldMatch(Array(childPrefix.utf8), wanted) else { continue }
                let child = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard child >= 0 else { continue }
                try walk(child, keyPrefix: childPrefix, wanted: wanted, into: &results)
            } else if kind == S_IFREG, name.hasSuffix(objectSuffix) {
                let leaf = String(name.dropLast(objectSuffix.count))
                let key = keyPrefix + leaf
                // Skip anything that is not a valid key (files put there by hand) and anything
                // outside the prefix.
                guard (try? ObjectKey(key))?.rawValue == key, key.utf8.starts(with: wanted) else { continue }
                if let metadata = try metadata(in: directory, leaf: leaf, key: key, operation: "list") {
                    results.append(metadata)
                }
            }
        }
    }

    /// Whether some key under directory prefix `directory` can start with `wanted`.
    private static func couldMatch(_ directory: [UInt8], _ wanted: [UInt8]) -> Bool {
        directory.starts(with: wanted) || wanted.starts(with: directory)
    }

    // MARK: Metadata

    private static func metadata(in directory: Int32, leaf: String, key: String, operation: String) throws -> ObjectMetadata? {
        let name = leaf + objectSuffix
        var info = stat()
        if fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) != 0 {
            if errno == ENOENT { return nil }
            throw ObjectStoreError.backend(operation: operation, key: key, detail: "stat \(name): \(errnoText(errno))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ObjectStoreError.backend(operation: operation, key: key, detail: "\(name) is not a regular file (symbolic link?)")
        }
        let size = Int64(info.st_size)
        var sidecar: Sidecar?
        let sidecarName = leaf + sidecarSuffix
        let fd = openat(directory, sidecarName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd >= 0 {
            defer { close(fd) }
            if let bytes = try? readAll(fd, name: sidecarName, key: key, operation: operation),
               let decoded = try? JSONDecoder().decode(Sidecar.self, from: bytes),
               decoded.size == size {
                sidecar = decoded
            }
        }
        #if canImport(Darwin)
        let seconds = Double(info.st_mtimespec.tv_sec) + Double(info.st_mtimespec.tv_nsec) * 1e-9
        #else
        let seconds = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) * 1e-9
        #endif
        return ObjectMetadata(key: key, size: size, lastModified: Date(timeIntervalSince1970: seconds),
                              eTag: sidecar.map { String($0.sha256.prefix(32)) }, contentType: sidecar?.contentType)
    }

    // MARK: Descriptor plumbing

    /// Opens the directory holding the object, one `O_NOFOLLOW` step at a time. Returns `nil`
    /// when a component is missing and `create` is false.
    private func openDirectory(create: Bool) throws -> Int32? {
        try openDirectory(directoryNames[...], create: create)
    }

    /// Opens `objects/` then each of `names` in turn without following links. With `create`,
    /// missing directories are made, and a directory that vanishes mid-walk (a concurrent
    /// delete's cleanup) throws ``DirectoryVanished``.
    private func openDirectory(_ names: ArraySlice<String>, create: Bool) throws -> Int32? {
        var fd = open(objectsPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("open \(objectsPath)", errno) }
        for name in names {
            if create {
                if mkdirat(fd, name, 0o755) == 0 {
                    // Make the new directory entry durable before anything is put inside.
                    _ = fsync(fd)
                } else if errno != EEXIST {
                    let code = errno
                    close(fd)
                    if code == ENOENT { throw DirectoryVanished() }
                    throw failure("mkdir \(name)", code)
                }
            }
            let next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let code = errno
            close(fd)
            guard next >= 0 else {
                if code == ENOENT {
                    if create { throw DirectoryVanished() }
                    return nil
                }
                if code == ELOOP || code == ENOTDIR {
                    throw failure("open \(name)", code, "refusing to follow a symbolic link or non-directory inside the store")
                }
                throw failure("open \(name)", code)
            }
            fd = next
        }
        return fd
    }

    private func writeFile(_ data: Data, named name: String, in directory: Int32) throws {
        let fd = openat(directory, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            // ENOENT for a create in an open directory means it was removed (it was empty).
            if errno == ENOENT { throw DirectoryVanished() }
            throw failure("create \(name)", errno)
        }
        defer { close(fd) }
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw failure("write \(name)", errno)
                }
                offset += written
            }
        }
        try check(fsync(fd), "fsync \(name)")
    }

    private func readAll(_ fd: Int32, name: String) throws -> Data {
        try Self.readAll(fd, name: name, key: key.rawValue, operation: operation)
    }

    private static func readAll(_ fd: Int32, name: String, key: String, operation: String) throws -> Data {
        var result = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { posixRead(fd, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ObjectStoreError.backend(operation: operation, key: key, detail: "read \(name): \(errnoText(errno))")
            }
            if count == 0 { return result }
            result.append(contentsOf: buffer[0..<count])
        }
    }

    private func check(_ status: Int32, _ what: String) throws {
        if status != 0 { throw failure(what, errno) }
    }

    private func failure(_ what: String, _ code: Int32, _ note: String? = nil) -> ObjectStoreError {
        let detail = "\(what): \(Self.errnoText(code))" + (note.map { " (\($0))" } ?? "")
        return .backend(operation: operation, key: key.rawValue, detail: detail)
    }

    /// The name of a `readdir` entry, read in place up to its NUL. glibc's entries are only
    /// `d_reclen` bytes long, so the last one in readdir's buffer can end well before the
    /// 256 bytes `d_name` is declared with: copying the whole field (as
    /// `withUnsafeBytes(of: entry.pointee.d_name)` does) reads past the buffer (ASan found it).
    static func entryName(_ entry: UnsafeMutablePointer<dirent>) -> String {
        let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        return String(cString: (UnsafeRawPointer(entry) + offset).assumingMemoryBound(to: CChar.self))
    }

    static func errnoText(_ code: Int32) -> String {
        "\(String(cString: strerror(code))) (errno \(code))"
    }

    private static func temporaryName() -> String {
        ReceiptHandle.newToken() + temporarySuffix
    }
}
