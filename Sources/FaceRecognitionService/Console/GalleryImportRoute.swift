import CloudPipeline
import FaceRecognition
import Foundation
import Hummingbird

/// `POST /ui/import-gallery?CollectionId=<id>`: the console's upload of a gallery file (the
/// course `data.pt`, or a `facerec enroll` file) as a new collection — what
/// `facerec-server collections import` does on the server's own disk.
///
/// Rekognition has no such operation, so this is the console's one route with an effect; it
/// meets the Rekognition API's checks: the request is SigV4-signed for the service
/// `rekognition` with a configured key (the same verifier), a read-only key is refused, and
/// answers and errors have Rekognition's JSON shapes. The body is the file's bytes.
struct GalleryImportRoute: Sendable {
    let api: RekognitionAPI
    /// Largest gallery accepted (a 100,000-face gallery is about 200 MB; the course one 200 KB).
    let maxBodyBytes: Int

    static let path = "/import-gallery"

    func respond(to request: Request) async -> Response {
        let requestId = UUID().uuidString.lowercased()
        do {
            let body: Data
            do {
                body = Data(buffer: try await request.body.collect(upTo: maxBodyBytes))
            } catch {
                throw RekognitionError.invalidParameter("The gallery file exceeds \(maxBodyBytes) bytes.")
            }
            var headers = request.headers.map { AWSHTTPHeader($0.name.rawName, $0.value) }
            // HTTP/1.1's Host header arrives as the request's authority (count it once).
            if let authority = request.head.authority, !headers.contains(where: { $0.name.lowercased() == "host" }) {
                headers.append(AWSHTTPHeader("host", authority))
            }
            let caller = try api.verifier.verify(IncomingSignedRequest(method: request.method.rawValue, path: request.uri.path,
                                                                       query: request.uri.query ?? "", headers: headers, body: body),
                                                 now: api.now())
            guard !caller.readOnly else { throw RekognitionError.accessDenied("A read-only key may not import a gallery.") }
            guard let collectionId = request.uri.queryParameters["CollectionId"].map(String.init), !collectionId.isEmpty else {
                throw RekognitionError.invalidParameter("Missing required parameter: CollectionId")
            }
            let gallery = try Self.gallery(from: body)
            let report = try await RekognitionSetup.importGallery(gallery, collectionId: collectionId, into: api.operations.collections)
            struct Imported: Encodable { let CollectionId: String; let FaceCount: Int; let UserCount: Int }
            let answer = try JSONEncoder().encode(Imported(CollectionId: collectionId, FaceCount: report.faces, UserCount: report.users))
            return RekognitionAPI.response(.ok, body: answer, requestId: requestId)
        } catch let error as RekognitionError {
            return RekognitionAPI.response(error.status, body: error.body, requestId: requestId)
        } catch {
            let failure = RekognitionError.internalError("Internal server error (request \(requestId))")
            return RekognitionAPI.response(failure.status, body: failure.body, requestId: requestId)
        }
    }

    /// Reads a gallery from its bytes (the loader reads files: a private temporary one).
    static func gallery(from data: Data) throws -> Gallery {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("facerec-gallery-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        do {
            try data.write(to: file, options: .withoutOverwriting)
            return try Gallery.load(contentsOf: file)
        } catch {
            throw RekognitionError.invalidParameter("Not a gallery file (the course data.pt or a facerec enroll file): \(error)")
        }
    }
}
