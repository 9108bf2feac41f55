import Foundation

/// Every byte facerec writes to standard output and standard error goes through here, so a
/// progress bar never shares a line with anything: the bar is drawn on standard error only when
/// that is a terminal (and not with --quiet), and it is erased before any result or message line
/// is written, then drawn again below it.
final class Console: @unchecked Sendable {
    static let shared = Console()

    private let lock = NSLock()
    /// --quiet: no progress bar, no informational notes (errors are still printed).
    var quiet = false
    let stderrIsTerminal = isatty(STDERR_FILENO) == 1
    /// The bar's text while one is on screen.
    private var bar: String?

    /// A result line on standard output.
    func out(_ line: String) {
        lock.withLock {
            erase()
            write(STDOUT_FILENO, line + "\n")
            draw()
        }
    }

    /// `facerec: message` on standard error.
    func error(_ message: String) {
        lock.withLock {
            erase()
            write(STDERR_FILENO, "facerec: " + message + "\n")
            draw()
        }
    }

    /// `facerec: message` on standard error unless --quiet.
    func note(_ message: String) {
        guard !quiet else { return }
        error(message)
    }

    /// Text for standard output that is not a line of results (help, version): written as is.
    func raw(_ text: String, toError: Bool = false) {
        lock.withLock {
            erase()
            write(toError ? STDERR_FILENO : STDOUT_FILENO, text)
            draw()
        }
    }

    /// Whether a progress bar would be shown.
    var showsProgress: Bool { stderrIsTerminal && !quiet }

    /// Shows or replaces the bar.
    func setProgress(_ text: String) {
        guard showsProgress else { return }
        lock.withLock {
            bar = text
            draw()
        }
    }

    /// Erases the bar for good.
    func endProgress() {
        lock.withLock {
            erase()
            bar = nil
        }
    }

    // Carriage return and "erase line": the bar starts at column 0 and leaves nothing behind.
    private func erase() {
        if bar != nil { write(STDERR_FILENO, "\r\u{1B}[K") }
    }

    private func draw() {
        if let bar { write(STDERR_FILENO, "\r\u{1B}[K" + bar) }
    }

    private func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            bytes = bytes.dropFirst(n)
        }
    }
}

/// Images done out of a total, as a bar on standard error (see ``Console``).
final class ProgressBar: @unchecked Sendable {
    private let lock = NSLock()
    private let total: Int
    private var done = 0
    private let start = Date()
    private let enabled: Bool

    init(total: Int) {
        self.total = total
        enabled = total >= 2 && Console.shared.showsProgress
        if enabled { advance(by: 0) }
    }

    func advance(by count: Int) {
        guard enabled else { return }
        lock.withLock {
            done += count
            let width = 30
            let filled = total > 0 ? width * min(done, total) / total : width
            let rate = Double(done) / max(Date().timeIntervalSince(start), 1e-3)
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            Console.shared.setProgress(String(format: "[%@] %d/%d  %.1f images/s", bar, done, total, rate))
        }
    }

    func finish() {
        guard enabled else { return }
        Console.shared.endProgress()
    }
}
