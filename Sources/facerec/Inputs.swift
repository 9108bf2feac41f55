import Foundation

/// Why a file could not be used, in the words facerec prints (never a Foundation error dump).
enum FileProblem: Error, Equatable, CustomStringConvertible {
    case noSuchFile
    case isDirectory
    case permissionDenied
    case notADirectory
    case other(String)

    init(errno code: Int32) {
        switch code {
        case ENOENT, ENOTDIR: self = .noSuchFile
        case EISDIR: self = .isDirectory
        case EACCES, EPERM: self = .permissionDenied
        default: self = .other(String(cString: strerror(code)).lowercased())
        }
    }

    /// A Foundation error's cause: its POSIX code when it carries one, else its Cocoa code.
    init(_ error: any Error) {
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { self.init(errno: Int32(ns.code)); return }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            self.init(errno: Int32(underlying.code)); return
        }
        switch ns.code {
        case NSFileNoSuchFileError, NSFileReadNoSuchFileError: self = .noSuchFile
        case NSFileReadNoPermissionError, NSFileWriteNoPermissionError: self = .permissionDenied
        default: self = .other("input/output error")
        }
    }

    var description: String {
        switch self {
        case .noSuchFile: return "no such file"
        case .isDirectory: return "is a directory"
        case .permissionDenied: return "permission denied"
        case .notADirectory: return "not a directory"
        case .other(let text): return text
        }
    }

    /// Why `path` cannot be read as a file, or nil when it can be opened.
    static func reading(_ path: String) -> FileProblem? {
        var info = stat()
        guard stat(path, &info) == 0 else { return FileProblem(errno: errno) }
        if (info.st_mode & S_IFMT) == S_IFDIR { return .isDirectory }
        guard access(path, R_OK) == 0 else { return FileProblem(errno: errno) }
        return nil
    }
}

/// An input that could not be processed: printed as `facerec: PATH: reason`.
struct InputFailure: Error, CustomStringConvertible {
    let path: String
    let reason: String
    var description: String { "\(path): \(reason)" }
}

/// Image arguments: files as given, folders walked recursively for images (recognised by their
/// first bytes, JPEG or PNG, whatever their names), sorted by path.
struct ImageInputs {
    /// Every image to process, in argument order (a folder's images in path order).
    var files: [String] = []
    /// Arguments that are not usable (missing, unreadable, a folder with no image in it).
    var failures: [InputFailure] = []

    init(_ arguments: [String]) {
        for argument in arguments {
            var info = stat()
            guard stat(argument, &info) == 0 else {
                failures.append(InputFailure(path: argument, reason: FileProblem(errno: errno).description))
                continue
            }
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                files.append(argument)
                continue
            }
            let found = Self.images(under: argument)
            failures += found.failures
            if found.images.isEmpty && found.failures.isEmpty {
                failures.append(InputFailure(path: argument, reason: "no JPEG or PNG images in this folder"))
            }
            files += found.images
        }
    }

    /// Reports every unusable argument; the count of them.
    func reportFailures() -> Int {
        for failure in failures { CLI.warn("\(failure)") }
        return failures.count
    }

    /// The JPEG and PNG files under `folder` (any depth), sorted; unreadable entries as failures.
    static func images(under folder: String) -> (images: [String], failures: [InputFailure]) {
        var images: [String] = [], failures: [InputFailure] = []
        let base = folder.hasSuffix("/") ? String(folder.dropLast()) : folder
        guard let walker = FileManager.default.enumerator(atPath: folder) else {
            return ([], [InputFailure(path: folder, reason: "cannot list folder")])
        }
        var relatives: [String] = []
        while let relative = walker.nextObject() as? String {
            if walker.fileAttributes?[.type] as? FileAttributeType == .typeRegular { relatives.append(relative) }
        }
        for relative in relatives.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            let path = base + "/" + relative
            switch sniff(path) {
            case .success(true): images.append(path)
            case .success(false): continue
            case .failure(let problem): failures.append(InputFailure(path: path, reason: problem.description))
            }
        }
        return (images, failures)
    }

    /// Whether the file starts like a JPEG (FF D8 FF) or a PNG (its 8-byte signature).
    static func sniff(_ path: String) -> Result<Bool, FileProblem> {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return .failure(FileProblem(errno: errno)) }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: 8)
        let n = head.withUnsafeMutableBytes { read(fd, $0.baseAddress, 8) }
        guard n > 0 else { return .success(false) }
        let bytes = head.prefix(n)
        return .success(bytes.starts(with: [0xFF, 0xD8, 0xFF])
                        || bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
    }
}
