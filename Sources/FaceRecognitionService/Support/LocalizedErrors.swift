import Foundation

// `error.localizedDescription` gives each error's own description, as in the FaceRecognition
// and CloudPipeline modules.

extension ServiceStartupError: LocalizedError {
    public var errorDescription: String? { description }
}

extension UploadClient.UploadError: LocalizedError {
    public var errorDescription: String? { description }
}

extension RekognitionKeysError: LocalizedError {
    public var errorDescription: String? { description }
}

extension FaceCollectionStoreError: LocalizedError {
    public var errorDescription: String? { description }
}

extension RekognitionError: LocalizedError {
    public var errorDescription: String? { description }
}

extension MultipartError: LocalizedError {
    public var errorDescription: String? { description }
}

extension MicroBatcherError: LocalizedError {
    public var errorDescription: String? {
        switch self {
        case .missingResult: "the batch's processing returned fewer results than it was given images"
        }
    }
}
