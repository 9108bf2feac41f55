import Foundation

// `error.localizedDescription` gives each error's own description (in the library's terms:
// files, tensors, options), instead of "The operation could not be completed".

extension MTCNNError: LocalizedError {
    public var errorDescription: String? { description }
}

extension InferenceError: LocalizedError {
    public var errorDescription: String? { description }
}

extension WeightsError: LocalizedError {
    public var errorDescription: String? { description }
}

extension ImageDecodingError: LocalizedError {
    public var errorDescription: String? { description }
}

extension GalleryError: LocalizedError {
    public var errorDescription: String? { description }
}

extension VerificationError: LocalizedError {
    public var errorDescription: String? { description }
}
