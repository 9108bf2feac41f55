import ArgumentParser
import FaceRecognitionService
import Foundation
import ServiceCommandLine

/// `facerec-send`: the workload generator. Uploads a folder to `POST /` concurrently, prints
/// the answers, and scores them against a labels CSV.
@main
struct FaceRecSend: AsyncParsableCommand {
    static func main() async { await ServiceMain.run(Self.self) }

    static let configuration = CommandConfiguration(
        commandName: "facerec-send",
        abstract: "Upload images to a facerec-server concurrently and gather the answers.",
        discussion: """
            Prints one STEM:NAME line per image in input order, then a summary (answers, errors, \
            throughput, latency percentiles) on stderr. With --labels (a CSV of Image,Results such as \
            face_images_100.csv) it also prints the accuracy. Exit status 4 if any upload failed.
            """)

    @Option(help: "The server's base URL (plain http://, as facerec-server listens).") var url = "http://127.0.0.1:8080"
    @Option(help: "Requests in flight at once.") var concurrency = 16
    @Option(help: "CSV with Image,Results columns to score the answers.") var labels: String?
    @Option(help: "Bearer token (default: $FACEREC_API_TOKEN).") var token: String?
    @Option(help: "Seconds to wait for one answer.") var timeout = 300.0
    @Argument(help: "Image files or folders (their .jpg/.jpeg/.png files).") var paths: [String]

    func validate() throws {
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        guard let parsed = URL(string: url), parsed.scheme?.lowercased() == "http", parsed.host != nil else {
            throw ValidationError("--url must be an http:// URL with a host, e.g. http://127.0.0.1:8080")
        }
    }

    func run() async throws {
        let files = try Self.imageFiles(paths)
        guard !files.isEmpty else { throw ValidationError("no .jpg/.jpeg/.png files in \(paths.joined(separator: ", "))") }
        let client = UploadClient(baseURL: URL(string: url)!, bearerToken: token ?? ProcessInfo.processInfo.environment["FACEREC_API_TOKEN"], timeout: timeout)
        let bar = TerminalProgress(total: files.count)
        let start = ContinuousClock.now
        let results = await client.uploadAll(files, concurrency: concurrency) { bar.update($0) }
        bar.finish()
        let elapsed = ContinuousClock.now - start

        var answers: [String: String] = [:]
        var latencies: [Double] = []
        var failures = 0
        for (file, result) in zip(files, results) {
            switch result {
            case .success(let answer) where answer.status == 200:
                print(answer.body)
                latencies.append(answer.seconds)
                if let colon = answer.body.firstIndex(of: ":") {
                    answers[String(answer.body[..<colon])] = String(answer.body[answer.body.index(after: colon)...])
                }
            case .success(let answer):
                failures += 1
                ServiceLog.notice("\(file.lastPathComponent): HTTP \(answer.status): \(answer.body)")
            case .failure(let error):
                failures += 1
                ServiceLog.notice("\(file.lastPathComponent): \(error)")
            }
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        ServiceLog.notice(String(format: "%d answers, %d failed, %.1f s, %.2f images/s; latency %@", latencies.count, failures,
                                 seconds, Double(files.count) / seconds, LatencySummary(latencies).description))
        if let labels {
            let expected = try Self.readLabels(labels)
            let scored = expected.filter { answers[$0.key] != nil }
            let correct = scored.filter { answers[$0.key] == $0.value }.count
            ServiceLog.notice(String(format: "accuracy %d/%d = %.1f%% (of %d labelled images)", correct, scored.count,
                                     scored.isEmpty ? 0 : 100 * Double(correct) / Double(scored.count), expected.count))
        }
        if failures > 0 { throw ExitCode(4) }
    }

    static func imageFiles(_ paths: [String]) throws -> [URL] {
        var files: [URL] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw ValidationError("\(path) does not exist")
            }
            if isDirectory.boolValue {
                let entries = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
                files += entries.filter { ["jpg", "jpeg", "png"].contains(($0 as NSString).pathExtension.lowercased()) }
                    .map { URL(fileURLWithPath: path).appendingPathComponent($0) }
            } else {
                files.append(URL(fileURLWithPath: path))
            }
        }
        return files
    }

    /// `Image,Results` rows → stem: name.
    static func readLabels(_ path: String) throws -> [String: String] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var labels: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline).dropFirst() {
            let fields = line.split(separator: ",", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if fields.count == 2 { labels[fields[0]] = fields[1] }
        }
        return labels
    }
}

/// A one-line progress bar on stderr when it is a terminal.
final class TerminalProgress: @unchecked Sendable {
    // @unchecked: `last` is only touched under `lock`.
    private let total: Int
    private let enabled = isatty(STDERR_FILENO) == 1
    private let lock = NSLock()
    private var last = -1

    init(total: Int) { self.total = total }

    func update(_ done: Int) {
        guard enabled else { return }
        lock.withLock {
            guard done != last else { return }
            last = done
            let width = 30
            let filled = total > 0 ? width * done / total : width
            FileHandle.standardError.write(Data("\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(done)/\(total)".utf8))
        }
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
