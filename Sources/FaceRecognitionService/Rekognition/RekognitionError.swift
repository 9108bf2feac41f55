import Foundation
import Hummingbird

/// An error in Amazon Rekognition's wire shape: `{"__type": "...", "message": "..."}` with its
/// HTTP status, as the AWS SDKs parse it (the `__type` becomes the exception class, e.g.
/// boto3's `client.exceptions.ResourceNotFoundException`).
public struct RekognitionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The exception name (`ResourceNotFoundException`, ...).
    public let type: String
    public let message: String
    public let status: HTTPResponse.Status

    public init(_ type: String, _ message: String, status: HTTPResponse.Status = .badRequest) {
        self.type = type
        self.message = message
        self.status = status
    }

    public var description: String { "\(type): \(message)" }

    // Client errors: Rekognition answers all of them with 400, signature mismatches with 403.

    public static func invalidParameter(_ message: String) -> Self { .init("InvalidParameterException", message) }
    public static func resourceNotFound(_ message: String) -> Self { .init("ResourceNotFoundException", message) }
    public static func resourceAlreadyExists(_ message: String) -> Self { .init("ResourceAlreadyExistsException", message) }
    public static func invalidImageFormat(_ message: String) -> Self { .init("InvalidImageFormatException", message) }
    public static func imageTooLarge(_ message: String) -> Self { .init("ImageTooLargeException", message) }
    public static func invalidS3Object(_ message: String) -> Self { .init("InvalidS3ObjectException", message) }
    public static func invalidPaginationToken(_ message: String) -> Self { .init("InvalidPaginationTokenException", message) }
    public static func conflict(_ message: String) -> Self { .init("ConflictException", message) }
    public static func accessDenied(_ message: String) -> Self { .init("AccessDeniedException", message) }
    public static func provisionedThroughputExceeded(_ message: String) -> Self {
        .init("ProvisionedThroughputExceededException", message)
    }
    public static func unknownOperation(_ target: String) -> Self {
        .init("UnknownOperationException", "unknown operation \(target.debugDescription)")
    }
    public static func serialization(_ message: String) -> Self { .init("SerializationException", message) }
    public static func internalError(_ message: String) -> Self {
        .init("InternalServerError", message, status: .internalServerError)
    }
    public static func serviceUnavailable(_ message: String) -> Self {
        .init("ServiceUnavailableException", message, status: .serviceUnavailable)
    }

    // Authentication errors, worded as AWS words them.

    public static let missingAuthenticationToken = Self("MissingAuthenticationTokenException", "Request is missing Authentication Token")
    public static func incompleteSignature(_ message: String) -> Self { .init("IncompleteSignatureException", message) }
    public static let unrecognizedClient = Self("UnrecognizedClientException", "The security token included in the request is invalid.")
    public static let signatureMismatch = Self(
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        status: .forbidden)
    public static func invalidSignature(_ message: String) -> Self { .init("InvalidSignatureException", message) }

    /// The JSON body.
    var body: Data {
        (try? JSONEncoder().encode(["__type": type, "message": message])) ?? Data()
    }
}
