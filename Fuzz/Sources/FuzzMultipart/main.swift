import Foundation
import FuzzDriver

// The upload API's multipart/form-data parser (Sources/FaceRecognitionService, compiled here
// alone from the same file through a symlink, so the fuzzer does not build Hummingbird and the
// rest of the service with coverage instrumentation).
// Input: the Content-Type header value up to the first '\n', then the body.
runFuzzer { start, count in
    let data = fuzzData(start, count)
    let newline = data.firstIndex(of: 0x0A) ?? data.endIndex
    let contentType = String(decoding: data[data.startIndex..<newline], as: UTF8.self)
    let body = newline < data.endIndex ? data[(newline + 1)...] : Data()
    guard let boundary = try? MultipartFormData.boundary(fromContentType: contentType) else { return 0 }
    if let form = try? MultipartFormData(body: Data(body), boundary: boundary) {
        precondition(form.parts.count <= MultipartFormData.maxParts, "more parts than the limit")
        var total = 0
        for part in form.parts { total += part.body.count }
        precondition(total <= body.count, "parts hold more bytes than the body")
        _ = form.part(named: "inputFile")
    }
    return 0
}
