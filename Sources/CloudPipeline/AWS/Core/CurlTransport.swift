import CCurl
import Foundation

/// ``AWSHTTPTransport`` on libcurl's easy interface: one blocking transfer per request, on a
/// thread of its own, that sleeps in poll(2) until the answer comes.
///
/// Not URLSession: on Linux, FoundationNetworking drives libcurl's multi interface through
/// dispatch sources that spin while a response is awaited. A `facerec-worker` idle on an SQS
/// long poll burned 1.1 cores of this 2-core machine with one receive loop and 1.7 with eight
/// (against moto; `perf` shows `URLSession._MultiHandle`'s socket sources), CPU taken from
/// recognition and billed on every EC2 worker. With this transport the same idle worker uses
/// next to none (`bash Benchmarks/worker_idle_cpu.sh`: 0.03 CPU seconds in 30 s).
///
/// Easy handles are pooled, so connections (and TLS sessions) are reused across requests.
/// Cancelling the calling task aborts the transfer within about a second (libcurl's progress
/// callback) and throws `CancellationError`; transfer failures throw ``AWSTransportError``.
public final class CurlTransport: AWSHTTPTransport {
    private let handles = EasyHandlePool()

    public init() {
        _ = Self.globalInitialization
    }

    /// `curl_global_init` must run once, before any thread uses libcurl.
    private static let globalInitialization: CURLcode = facerec_curl_global_init()

    public func send(_ request: AWSHTTPRequest, timeout: Duration) async throws -> AWSHTTPResponse {
        guard let url = request.url else {
            throw AWSTransportError(host: request.hostHeaderValue, detail: "cannot form a URL for path \(request.path.debugDescription)")
        }
        try Task.checkCancellation()
        let transfer = CurlTransfer()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                // A thread of its own per transfer: a worker's receive loops each hold a 20 s long
                // poll, and on a shared pool (a concurrent dispatch queue is limited to about one
                // thread per core) they would hold up every other request behind them.
                let thread = Thread { [handles] in
                    continuation.resume(with: Result {
                        try handles.withHandle(host: request.hostHeaderValue) { handle in
                            try transfer.perform(request, url: url, timeout: timeout, on: handle)
                        }
                    })
                }
                thread.name = "facerec.aws.curl"
                thread.start()
            }
        } onCancel: {
            transfer.cancel()
        }
    }
}

/// One request's state, shared with libcurl's callbacks through its context pointer.
private final class CurlTransfer: @unchecked Sendable {
    // @unchecked: `body` and `headers` are only touched by the thread running the transfer;
    // `cancelled` is behind `lock` (it is set from the cancelling task's thread).
    var body = Data()
    var headers: [String: String] = [:]
    private let lock = NSLock()
    private var cancelled = false

    func cancel() { lock.withLock { cancelled = true } }
    var isCancelled: Bool { lock.withLock { cancelled } }

    func perform(_ request: AWSHTTPRequest, url: URL, timeout: Duration, on handle: UnsafeMutableRawPointer) throws -> AWSHTTPResponse {
        if isCancelled { throw CancellationError() }
        curl_easy_reset(handle)
        let milliseconds = max(1, Int(timeout.components.seconds) * 1000 + Int(timeout.components.attoseconds / 1_000_000_000_000_000))
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        let given = Set(request.headers.map { $0.name.lowercased() })
        for header in request.headers where header.name.lowercased() != "host" {
            // "Name;" sends a header with an empty value; "Name:" would remove it.
            headerList = curl_slist_append(headerList, header.value.isEmpty ? "\(header.name);" : "\(header.name): \(header.value)")
        }
        // Headers libcurl would add on its own: no 100-continue round trip before a body, and no
        // invented Accept or form Content-Type (an S3 object would keep the latter).
        for name in ["Expect", "Accept", "Content-Type"] where !given.contains(name.lowercased()) {
            headerList = curl_slist_append(headerList, "\(name):")
        }

        let context = Unmanaged.passUnretained(self).toOpaque()
        let code: CURLcode = try withExtendedLifetime(self) {
            try request.body.withUnsafeBytes { (bodyBytes: UnsafeRawBufferPointer) -> CURLcode in
                try errorBuffer.withUnsafeMutableBufferPointer { errorPointer in
                    var setup = [
                        facerec_curl_set_pointer(handle, CURLOPT_URL, url.absoluteString),
                        facerec_curl_set_pointer(handle, CURLOPT_HTTPHEADER, headerList),
                        facerec_curl_set_long(handle, CURLOPT_NOSIGNAL, 1),
                        facerec_curl_set_long(handle, CURLOPT_TIMEOUT_MS, milliseconds),
                        facerec_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, min(milliseconds, 10_000)),
                        facerec_curl_set_pointer(handle, CURLOPT_ERRORBUFFER, errorPointer.baseAddress),
                        facerec_curl_set_data_callback(handle, CURLOPT_WRITEFUNCTION, curlWriteBody),
                        facerec_curl_set_pointer(handle, CURLOPT_WRITEDATA, context),
                        facerec_curl_set_data_callback(handle, CURLOPT_HEADERFUNCTION, curlWriteHeader),
                        facerec_curl_set_pointer(handle, CURLOPT_HEADERDATA, context),
                        facerec_curl_set_progress_callback(handle, curlProgress),
                        facerec_curl_set_pointer(handle, CURLOPT_XFERINFODATA, context),
                        facerec_curl_set_long(handle, CURLOPT_NOPROGRESS, 0),
                    ]
                    switch request.method {
                    case "GET":
                        break
                    case "HEAD":
                        setup.append(facerec_curl_set_long(handle, CURLOPT_NOBODY, 1))
                    default:
                        if !request.body.isEmpty || request.method == "PUT" || request.method == "POST" {
                            // The body stays alive (and unmoved) for the whole transfer: libcurl reads it in place.
                            setup.append(facerec_curl_set_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bodyBytes.count)))
                            setup.append(facerec_curl_set_pointer(handle, CURLOPT_POSTFIELDS, bodyBytes.baseAddress ?? emptyBody))
                        }
                        setup.append(facerec_curl_set_pointer(handle, CURLOPT_CUSTOMREQUEST, request.method))
                    }
                    if let failed = setup.first(where: { $0 != CURLE_OK }) {
                        throw AWSTransportError(host: request.hostHeaderValue, detail: "libcurl refused an option: \(Self.describe(failed))")
                    }
                    return curl_easy_perform(handle)
                }
            }
        }
        guard code == CURLE_OK else {
            if code == CURLE_ABORTED_BY_CALLBACK, isCancelled { throw CancellationError() }
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw AWSTransportError(host: request.hostHeaderValue,
                                    detail: detail.isEmpty ? Self.describe(code) : "\(Self.describe(code)): \(detail)")
        }
        var status = 0
        _ = facerec_curl_response_code(handle, &status)
        return AWSHTTPResponse(statusCode: status, headers: headers, body: body)
    }

    /// One header line of the response. A status line starts a new response (after a
    /// `100 Continue` or a redirect): the headers gathered so far were not the final ones.
    func receiveHeader(_ line: String) {
        if line.hasPrefix("HTTP/") {
            headers.removeAll()
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        if let existing = headers[name] {
            headers[name] = existing + ", " + value
        } else {
            headers[name] = value
        }
    }

    static func describe(_ code: CURLcode) -> String {
        "curl error \(code.rawValue) (\(String(cString: curl_easy_strerror(code))))"
    }
}

/// What POSTFIELDS points at for an empty body (a non-null pointer; nothing is read).
nonisolated(unsafe) private let emptyBody = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1))

private let curlWriteBody: facerec_curl_data_callback = { data, size, count, context in
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context!).takeUnretainedValue()
    let length = size * count
    if let data, length > 0 {
        data.withMemoryRebound(to: UInt8.self, capacity: length) { transfer.body.append($0, count: length) }
    }
    return length
}

private let curlWriteHeader: facerec_curl_data_callback = { data, size, count, context in
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context!).takeUnretainedValue()
    let length = size * count
    if let data, length > 0 {
        transfer.receiveHeader(String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self))
    }
    return length
}

/// Called by libcurl at least once a second during a transfer; non-zero aborts it.
private let curlProgress: facerec_curl_progress_callback = { context, _, _, _, _ in
    Unmanaged<CurlTransfer>.fromOpaque(context!).takeUnretainedValue().isCancelled ? 1 : 0
}

/// Idle easy handles, each keeping its connections open for the next request.
private final class EasyHandlePool: @unchecked Sendable {
    // @unchecked: `idle` is only touched under `lock`; a handle is used by one thread at a time.
    private let lock = NSLock()
    private var idle: [UnsafeMutableRawPointer] = []
    /// Idle handles kept (each may hold a connection); more are cleaned up when returned.
    private let capacity = 32

    deinit { idle.forEach { curl_easy_cleanup($0) } }

    func withHandle<T>(host: String, _ body: (UnsafeMutableRawPointer) throws -> T) throws -> T {
        guard let handle = lock.withLock({ idle.popLast() }) ?? curl_easy_init() else {
            throw AWSTransportError(host: host, detail: "libcurl could not create a handle (out of memory)")
        }
        defer {
            let kept = lock.withLock { () -> Bool in
                guard idle.count < capacity else { return false }
                idle.append(handle)
                return true
            }
            if !kept { curl_easy_cleanup(handle) }
        }
        return try body(handle)
    }
}
