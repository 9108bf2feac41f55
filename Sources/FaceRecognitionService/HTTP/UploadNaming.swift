import CloudPipeline
import Foundation

/// Turns a client's file name into a safe object key for an upload.
///
/// The client controls the name, so nothing of it is trusted: only its last path component
/// (after `/` or `\`) is kept, every character outside `A-Z a-z 0-9 . _ -` becomes `_`, leading
/// dots are dropped (no hidden files, no `..`), the length is bounded, and an empty result
/// becomes `image`. The key is `uploads/<id>/<name>` with a fresh id per request, so two
/// clients uploading `test_00.jpg` at once never share an object, while the stem in the answer
/// (`test_00:Name`) stays the one the client sent.
public enum UploadNaming {
    public static let prefix = "uploads"
    public static let maxNameBytes = 120

    /// A request id: lowercase UUID.
    public static func newID() -> String { UUID().uuidString.lowercased() }

    /// True for strings ``newID()`` makes.
    public static func isValidID(_ id: String) -> Bool {
        id.utf8.count == 36 && UUID(uuidString: id) != nil && id == id.lowercased()
    }

    public static func safeFilename(_ raw: String?) -> String {
        var name = raw ?? ""
        if let cut = name.lastIndex(where: { $0 == "/" || $0 == "\\" }) { name = String(name[name.index(after: cut)...]) }
        var cleaned = String(String.UnicodeScalarView(name.unicodeScalars.map { scalar -> Unicode.Scalar in
            switch scalar {
            case "A"..."Z", "a"..."z", "0"..."9", ".", "_", "-": return scalar
            default: return "_"
            }
        }))
        while cleaned.hasPrefix(".") { cleaned.removeFirst() }
        if cleaned.utf8.count > maxNameBytes {
            // Keep the extension: it tells a human what the object is.
            let ext = cleaned.split(separator: ".").last.map { "." + $0.prefix(10) } ?? ""
            cleaned = String(cleaned.prefix(maxNameBytes - ext.count)) + ext
        }
        return cleaned.isEmpty || cleaned.allSatisfy({ $0 == "_" || $0 == "." }) ? "image" : cleaned
    }

    /// `uploads/<id>/<safe name>`, validated by `ObjectKey`.
    public static func key(id: String, filename: String?) throws -> String {
        try ObjectKey("\(prefix)/\(id)/\(safeFilename(filename))").rawValue
    }

    /// The id of an upload key, if it is one.
    public static func id(fromKey key: String) -> String? {
        let segments = key.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count == 3, segments[0] == prefix, isValidID(String(segments[1])) else { return nil }
        return String(segments[1])
    }
}
