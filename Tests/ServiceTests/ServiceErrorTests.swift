import FaceRecognitionService
import Foundation
import Testing

@Suite("Service errors")
struct ServiceErrorTests {
    @Test("the module's public errors have a readable localizedDescription")
    func localizedDescriptions() {
        let errors: [any Error & CustomStringConvertible] = [
            ServiceStartupError("--gallery: no such file"),
            UploadClient.UploadError.timedOut(seconds: 3),
            FaceCollectionStoreError.alreadyExists("staff"),
            RekognitionError.invalidParameter("MaxFaces must be at least 1"),
            MultipartError.notMultipart,
        ]
        for error in errors {
            #expect(error.localizedDescription == error.description, "\(type(of: error))")
        }
        #expect((MicroBatcherError.missingResult as Error).localizedDescription.contains("fewer results"))
    }
}
