import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 for tests that need a *real* peer the AWS services
/// can't provide (instance metadata, scripted 5xx/throttling answers). One connection at a
/// time, `Connection: close`, handler decides each answer; every request is recorded.
public final class LocalHTTPServer: @unchecked Sendable {
    public struct Request: Sendable {
        public let method: String
        public let path: String
        /// Names lower-cased.
        public let headers: [String: String]
        public let body: Data
    }

    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String] = [:]
        public var body: Data = Data()

        public init(status: Int, headers: [String: String] = [:], body: Data = Data()) {
            self.status = status
            self.headers = headers
            self.body = body
        }

        public init(status: Int, text: String, contentType: String = "text/plain") {
            self.init(status: status, headers: ["Content-Type": contentType], body: Data(text.utf8))
        }
    }

    public let port: Int
    public var endpoint: URL { URL(string: "http://127.0.0.1:\(port)")! }

    private let listener: Int32
    private let lock = NSLock()
    private var recorded: [Request] = []
    private var stopping = false
    /// Signalled by the serving thread once it has closed the listener and will touch no
    /// descriptor again.
    private let finished = DispatchSemaphore(value: 0)
    private let handler: @Sendable (Request) -> Response

    public init(handler: @escaping @Sendable (Request) -> Response) throws {
        self.handler = handler
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in self.serve() }
        thread.start()
    }

    /// Requests received so far, in order.
    public var requests: [Request] { lock.withLock { recorded } }

    /// Stops accepting connections: returns once the listener is closed and the serving thread
    /// has finished (any request in progress is answered first). Calling it again does nothing.
    ///
    /// Only the serving thread closes the listener. When `stop()` closed it from outside while
    /// that thread was still answering a request, the thread went back to `accept()` on a
    /// descriptor number the next test's server had meanwhile been given, and answered that
    /// server's requests with the old handler (AWSRetryTests failed this way under ASan).
    public func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopping = true }
            return !stopping
        }
        if first { finished.wait() }
    }

    private func serve() {
        defer {
            close(listener)
            finished.signal()
        }
        while !lock.withLock({ stopping }) {
            // Wait for a connection at most 20 ms at a time so a stop() is noticed promptly.
            var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 20) > 0, !lock.withLock({ stopping }) else { continue }
            let connection = accept(listener, nil, nil)
            if connection < 0 { continue }
            handle(connection)
            close(connection)
        }
    }

    private func handle(_ connection: Int32) {
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        let separator: [UInt8] = [13, 10, 13, 10]
        var headerEnd: Int?
        while headerEnd == nil {
            let n = read(connection, &chunk, chunk.count)
            if n <= 0 { return }
            buffer += chunk[0..<n]
            if buffer.count >= 4 {
                for i in 0...(buffer.count - 4) where Array(buffer[i..<i + 4]) == separator {
                    headerEnd = i
                    break
                }
            }
        }
        let head = String(decoding: buffer[0..<headerEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        var headers: [String: String] = [:]
        for line in lines {
            if let colon = line.firstIndex(of: ":") {
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        var body = Array(buffer[(headerEnd! + 4)...])
        let expected = Int(headers["content-length"] ?? "0") ?? 0
        while body.count < expected {
            let n = read(connection, &chunk, chunk.count)
            if n <= 0 { break }
            body += chunk[0..<n]
        }
        let request = Request(method: requestLine.first.map(String.init) ?? "", path: requestLine.count > 1 ? String(requestLine[1]) : "/",
                              headers: headers, body: Data(body))
        lock.withLock { recorded.append(request) }
        let response = handler(request)
        var text = "HTTP/1.1 \(response.status) Status\r\nConnection: close\r\nContent-Length: \(response.body.count)\r\n"
        for (name, value) in response.headers { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        let bytes = Array(text.utf8) + Array(response.body)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            offset += n
        }
    }
}

/// A loopback port bound but never listening: every connection to it is refused, and no other
/// socket can take the port while this one holds it.
public struct RefusingPort {
    private let fd: Int32
    public let endpoint: URL

    public init() throws {
        #if canImport(Glibc)
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let socketFD = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard socketFD >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(socketFD, pointer, length) == 0 && getsockname(socketFD, pointer, &length) == 0
            }
        }
        guard bound else {
            closeDescriptor(socketFD)
            throw POSIXError(.EADDRINUSE)
        }
        fd = socketFD
        endpoint = URL(string: "http://127.0.0.1:\(UInt16(bigEndian: address.sin_port))")!
    }

    public func close() { closeDescriptor(fd) }
}

private func closeDescriptor(_ fd: Int32) {
    #if canImport(Glibc)
    _ = Glibc.close(fd)
    #else
    _ = Darwin.close(fd)
    #endif
}
