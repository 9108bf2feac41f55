import ArgumentParser
import FaceRecognition
import Foundation

/// Output helpers and exit statuses shared by the subcommands.
enum CLI {
    /// Exit statuses beyond ArgumentParser's own (0 success, 1 failure, 64 usage).
    enum ExitStatus {
        /// The weights file is missing, unreadable or not the expected network.
        static let badWeights: Int32 = 3
        /// At least one input could not be processed; the others were.
        static let someInputsFailed: Int32 = 4
        /// The gallery file is missing or not a gallery, or a gallery edit was refused because it
        /// would replace a file facerec did not write (a torch `data.pt`, a `.pt` name, another file).
        static let badGallery: Int32 = 5
        /// The MTCNN weights are missing or damaged.
        static let badDetectorWeights: Int32 = 6
    }

    /// Loads everything `identify` needs, exiting with a distinct status and a clear message
    /// when a part is missing or wrong.
    static func loadRecognizer(weights: String, mtcnnDirectory: String, gallery: String,
                               options: FaceRecognizer.Options) throws -> FaceRecognizer {
        let facenet = try loadFaceNet(weights)
        let detector: MTCNN
        do {
            detector = try MTCNN(weightsDirectory: URL(fileURLWithPath: mtcnnDirectory))
        } catch {
            warn("\(error)")
            throw ExitCode(ExitStatus.badDetectorWeights)
        }
        let loaded = try loadGallery(gallery)
        return FaceRecognizer(detector: detector, facenet: facenet, gallery: loaded, options: options)
    }

    /// Loads FaceNet weights, or exits with `badWeights` and a message saying what is wrong.
    static func loadFaceNet(_ path: String) throws -> FaceNet {
        guard FileManager.default.fileExists(atPath: path) else {
            warn("FaceNet weights not found at \(path). See weights/README.md: point --weights at 20180402-114759-vggface2.pt (facenet-pytorch's release) or its safetensors conversion.")
            throw ExitCode(ExitStatus.badWeights)
        }
        do {
            return try FaceNet(contentsOf: URL(fileURLWithPath: path))
        } catch {
            warn("cannot use \(path) as FaceNet weights: \(error)")
            throw ExitCode(ExitStatus.badWeights)
        }
    }

    /// Loads a gallery file or data.pt, or exits with `badGallery`.
    static func loadGallery(_ path: String) throws -> Gallery {
        do {
            return try Gallery.load(contentsOf: URL(fileURLWithPath: path))
        } catch {
            warn("\(error)")
            throw ExitCode(ExitStatus.badGallery)
        }
    }

    /// Loads a gallery file or data.pt and tells its format, or exits with `badGallery`.
    static func loadGalleryDetectingFormat(_ path: String) throws -> (gallery: Gallery, format: Gallery.SourceFormat) {
        do {
            return try Gallery.loadDetectingFormat(contentsOf: URL(fileURLWithPath: path))
        } catch {
            warn("\(error)")
            throw ExitCode(ExitStatus.badGallery)
        }
    }

    /// Where `gallery add|remove` write the edited gallery: `out` when given, else the gallery
    /// file itself, but only when that is a safetensors gallery (or does not exist yet). A torch
    /// `data.pt` is never rewritten: without `--out` the edit is refused with `badGallery`
    /// before any weights are loaded or anything is written.
    static func galleryDestination(editing input: String, format: Gallery.SourceFormat?, out: String?) throws -> String {
        guard let out else {
            if format == .torch {
                throw refusal("\(input) is a torch checkpoint; facerec only writes safetensors galleries and never rewrites torch files: pass --out \(suggestedGalleryName(for: input)) to write the edited gallery to a new file")
            }
            try checkSafeTensorsName(input, named: input, fix: "pass --out \(suggestedGalleryName(for: input))")
            return input
        }
        try checkGalleryOutput(out, option: "--out", torchInput: format == .torch ? input : nil)
        return out
    }

    /// Refuses (exit `badGallery`) to write a gallery to `path` when that would replace a file
    /// facerec did not write or pass a safetensors file off as torch: a `.pt`/`.pth` name, the
    /// torch input itself, a directory, or an existing file that is not a facerec gallery.
    static func checkGalleryOutput(_ path: String, option: String?, torchInput: String?) throws {
        let named = option.map { "\($0) \(path)" } ?? path
        try checkSafeTensorsName(path, named: named, fix: "use a .safetensors name (e.g. \(suggestedGalleryName(for: path)))")
        if let torchInput, sameFile(path, torchInput) {
            throw refusal("\(named) is the torch file \(torchInput) itself; facerec never rewrites torch files: choose a new .safetensors file")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return }
        if isDirectory.boolValue { throw refusal("\(named) is a directory: give a gallery file path") }
        let existing = try? Gallery.loadDetectingFormat(contentsOf: URL(fileURLWithPath: path))
        if existing?.format != .safetensors {
            let what = existing.map { "a \($0.format)" } ?? "not a facerec gallery"
            throw refusal("\(named) exists and is \(what); refusing to replace it: choose a new .safetensors file")
        }
    }

    /// Refuses a `.pt`/`.pth` name for a gallery facerec writes: it would pass a safetensors
    /// file off as a torch checkpoint (and could be the course data.pt).
    static func checkSafeTensorsName(_ path: String, named: String, fix: String) throws {
        let ext = (path as NSString).pathExtension
        if ["pt", "pth"].contains(ext.lowercased()) {
            throw refusal("\(named): facerec writes safetensors galleries only and will not give one a torch .\(ext) name: \(fix)")
        }
    }

    /// Whether two paths name the same file once symbolic links are followed (same device and
    /// inode, which also catches hard links; or, when either does not exist, the same path).
    static func sameFile(_ a: String, _ b: String) -> Bool {
        let fm = FileManager.default
        func resolved(_ p: String) -> String { URL(fileURLWithPath: p).standardizedFileURL.resolvingSymlinksInPath().path }
        if let x = try? fm.attributesOfItem(atPath: resolved(a)), let y = try? fm.attributesOfItem(atPath: resolved(b)),
           let xi = x[.systemFileNumber] as? NSNumber, let yi = y[.systemFileNumber] as? NSNumber,
           let xd = x[.systemNumber] as? NSNumber, let yd = y[.systemNumber] as? NSNumber {
            return xi == yi && xd == yd
        }
        return resolved(a) == resolved(b)
    }

    /// `data.pt` → `data.safetensors` (the file name only), for messages.
    static func suggestedGalleryName(for path: String) -> String {
        let name = (path as NSString).lastPathComponent
        let stem = (name as NSString).deletingPathExtension
        let suggestion = (stem.isEmpty ? "gallery" : stem) + ".safetensors"
        return suggestion == name ? stem + "-edited.safetensors" : suggestion
    }

    /// Prints `message`; the error to throw to exit with `badGallery`.
    static func refusal(_ message: String) -> ExitCode {
        warn(message)
        return ExitCode(ExitStatus.badGallery)
    }

    /// Saves a gallery, or exits with `failure` and the reason.
    static func saveGallery(_ gallery: Gallery, to path: String) throws {
        do {
            try gallery.save(to: URL(fileURLWithPath: path))
        } catch {
            warn("\(error)")
            throw ExitCode.failure
        }
    }

    static func printLine(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static func warn(_ message: String) {
        FileHandle.standardError.write(Data("facerec: \(message)\n".utf8))
    }

    /// A JSON string literal (quotes and escapes).
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A JSON array of numbers; Swift's shortest round-trip float formatting.
    static func jsonArray(_ values: [Float]) -> String {
        "[" + values.map { $0.isFinite ? "\($0)" : "null" }.joined(separator: ", ") + "]"
    }
}
