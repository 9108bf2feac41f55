import ArgumentParser
import FaceRecognition
import Foundation

/// The contract every subcommand keeps: exit statuses, the `facerec: ` message prefix, file
/// errors in plain words, and the loaders that turn a missing part into its own status.
enum CLI {
    /// Exit statuses, the same in every subcommand (README's table).
    enum ExitStatus {
        static let success: Int32 = 0
        /// Nothing could be done: every input unreadable, no face where one was needed, an output
        /// that cannot be written, a refused edit.
        static let failure: Int32 = 1
        /// The FaceNet weights are missing, unreadable or not the expected network.
        static let badWeights: Int32 = 3
        /// At least one input could not be read; the others were processed and printed.
        static let someInputsFailed: Int32 = 4
        /// The gallery file is missing or not a gallery, or a gallery edit was refused because it
        /// would replace a file facerec did not write (a torch `data.pt`, a `.pt` name, another file).
        static let badGallery: Int32 = 5
        /// The MTCNN weights are missing or damaged.
        static let badDetectorWeights: Int32 = 6
        /// The command line is wrong (ArgumentParser's own status for usage errors).
        static let usage: Int32 = 64
    }

    /// Prints `facerec: message` and returns the error that exits with `status`.
    static func fail(_ message: String, status: Int32 = ExitStatus.failure) -> ExitCode {
        Console.shared.error(message)
        return ExitCode(status)
    }

    /// The exit status of a batch: 0 when every input was processed, 4 when some were and some
    /// were not, 1 when none was.
    static func finish(processed: Int, failed: Int) throws {
        guard failed > 0 else { return }
        throw ExitCode(processed > 0 ? ExitStatus.someInputsFailed : ExitStatus.failure)
    }

    /// Builds the detector, or exits 6 (weights missing or damaged) or 64 (an option out of range,
    /// named by its flag).
    static func loadDetector(_ options: DetectionOptions, mtcnn: MTCNNOptions) throws -> MTCNN {
        let advice = "Run weights/fetch_mtcnn_weights.sh, or pass --mtcnn-weights DIR (or set FACEREC_MTCNN_WEIGHTS) to a folder holding pnet.pt, rnet.pt and onet.pt"
        let directory: URL
        if let explicit = options.explicitWeightsDirectory {
            directory = explicit
        } else {
            // The library's lookup, so that the CLI finds weights wherever a program using the library would.
            do {
                directory = try WeightsLookup().mtcnnDirectory()
            } catch {
                let searched = if case .weightsNotFoundInSearchPath(let folders) = error { folders.joined(separator: ", ") } else { "\(error)" }
                throw fail("MTCNN weights not found in \(searched) (searched in that order). \(advice)", status: ExitStatus.badDetectorWeights)
            }
        }
        do {
            return try MTCNN(weightsDirectory: directory, options: mtcnn)
        } catch .weightsNotFound(let file) {
            throw fail("MTCNN weights not found: \(file). \(advice)", status: ExitStatus.badDetectorWeights)
        } catch .invalidOption(let field, let reason) {
            throw fail("\(flag(forMTCNNField: field)) \(reason)", status: ExitStatus.usage)
        } catch {
            throw fail("\(error)", status: ExitStatus.badDetectorWeights)
        }
    }

    /// The CLI flag behind an `MTCNNOptions` field, for messages (never the library's name).
    static func flag(forMTCNNField field: String) -> String {
        switch field {
        case "minFaceSize": return "--min-face-size"
        case "imageSize": return "--size"
        case "margin": return "--margin"
        default: return "detector option \(field)"
        }
    }

    /// Loads FaceNet weights, or exits 3 with a message saying what is wrong.
    static func loadFaceNet(_ path: String, precision: FaceNetPrecision = .float32) throws -> FaceNet {
        if let problem = FileProblem.reading(path) {
            if problem == .noSuchFile {
                throw fail("FaceNet weights \(path): no such file. Run weights/fetch_facenet_weights.sh or see weights/README.md: point --weights at 20180402-114759-vggface2.pt (facenet-pytorch's release) or its safetensors conversion",
                           status: ExitStatus.badWeights)
            }
            throw fail("FaceNet weights \(path): \(problem)", status: ExitStatus.badWeights)
        }
        do {
            return try FaceNet(contentsOf: URL(fileURLWithPath: path), precision: precision)
        } catch {
            throw fail("cannot use \(path) as FaceNet weights: \(withoutPath(path, error))", status: ExitStatus.badWeights)
        }
    }

    /// Loads a gallery file or data.pt, or exits 5.
    static func loadGallery(_ path: String) throws -> Gallery {
        try loadGalleryDetectingFormat(path).gallery
    }

    /// Loads a gallery file or data.pt and tells its format, or exits 5.
    static func loadGalleryDetectingFormat(_ path: String) throws -> (gallery: Gallery, format: Gallery.SourceFormat) {
        if let problem = FileProblem.reading(path) {
            throw fail("gallery \(path): \(problem)", status: ExitStatus.badGallery)
        }
        do {
            return try Gallery.loadDetectingFormat(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw fail("\(path): \(withoutPath(path, error))", status: ExitStatus.badGallery)
        }
    }

    /// An error's description without a leading "PATH: " (so each path is printed once).
    static func withoutPath(_ path: String, _ error: any Error) -> String {
        var text = "\(error)"
        for prefix in [path + ": ", URL(fileURLWithPath: path).path + ": ", URL(fileURLWithPath: path).lastPathComponent + ": "]
        where text.hasPrefix(prefix) {
            text.removeFirst(prefix.count)
            break
        }
        return text
    }

    /// Reads and decodes one image; the error names the problem in plain words, without the path.
    static func readImage(_ path: String, applyEXIF: Bool = false) throws(InputFailure) -> RGBImage {
        let data = try readFile(path)
        do {
            return try ImageDecoder.decode(data, options: DecodeOptions(applyEXIFOrientation: applyEXIF))
        } catch {
            switch error.cause {
            case .empty: throw InputFailure(path: path, reason: "empty file")
            case .unknownFormat: throw InputFailure(path: path, reason: "not a JPEG or PNG image")
            default: throw InputFailure(path: path, reason: "\(error.cause)")
            }
        }
    }

    /// The bytes of a regular file, or the reason (no such file, is a directory, permission denied).
    static func readFile(_ path: String) throws(InputFailure) -> Data {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw InputFailure(path: path, reason: FileProblem(errno: errno).description) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let problem = FileProblem(errno: errno)
            close(fd)
            throw InputFailure(path: path, reason: problem.description)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw InputFailure(path: path, reason: FileProblem.isDirectory.description)
        }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            throw InputFailure(path: path, reason: FileProblem(error).description)
        }
    }

    /// Writes `data` to `path` (created or replaced), or exits 1 with "cannot create PATH: why".
    static func writeFile(_ data: Data, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else {
            let problem = FileProblem(errno: errno)
            throw fail("cannot create \(path): \(problem == .noSuchFile ? "no such directory" : problem.description)")
        }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        do { try handle.write(contentsOf: data) } catch {
            throw fail("cannot write \(path): \(FileProblem(error))")
        }
    }

    /// Creates a folder (and its parents) for outputs, or exits 1 with "cannot create PATH: why".
    static func makeDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            var isDirectory: ObjCBool = false
            let problem: String = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
                ? "a file is in the way" : FileProblem(error).description
            throw fail("cannot create \(path): \(problem)")
        }
    }

    /// Refuses (usage error) an output image name whose extension is not a format facerec writes.
    static func checkImageOutput(_ path: String, flag: String) throws(ValidationError) {
        let ext = (path as NSString).pathExtension.lowercased()
        switch ext {
        case "png": return
        case "jpg", "jpeg":
            throw ValidationError("\(flag) \(path): facerec writes PNG only (there is no JPEG encoder); use a .png name")
        case "": throw ValidationError("\(flag) \(path): no extension; use a .png name")
        default: throw ValidationError("\(flag) \(path): unknown image format .\(ext); use a .png name")
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
        fail(message, status: ExitStatus.badGallery)
    }

    /// Saves a gallery, or exits with `failure` and the reason.
    static func saveGallery(_ gallery: Gallery, to path: String) throws {
        do {
            try gallery.save(to: URL(fileURLWithPath: path))
        } catch {
            throw fail("cannot create \(path): \(FileProblem(error))")
        }
    }

    /// A result line on standard output.
    static func printLine(_ line: String) { Console.shared.out(line) }

    /// A problem on standard error (always shown).
    static func warn(_ message: String) { Console.shared.error(message) }

    /// Information on standard error (hidden by --quiet).
    static func note(_ message: String) { Console.shared.note(message) }

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

    /// One JSON line through the library's `Codable` forms (keys sorted, so lines are stable).
    static func jsonLine(_ value: some Encodable, omitsEmbeddings: Bool = false) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        if omitsEmbeddings { encoder.userInfo[.omitsEmbeddings] = true }
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            return "{\"error\": \(jsonString("cannot encode the result: \(error)"))}"
        }
    }

    /// A JSON array of numbers; Swift's shortest round-trip float formatting.
    static func jsonArray(_ values: [Float]) -> String {
        "[" + values.map(jsonNumber).joined(separator: ", ") + "]"
    }

    static func jsonNumber(_ value: Float) -> String { value.isFinite ? "\(value)" : "null" }
}
