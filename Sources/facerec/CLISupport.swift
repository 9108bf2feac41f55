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
        /// The gallery file is missing or not a gallery.
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
