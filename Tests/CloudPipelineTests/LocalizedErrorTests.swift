import CloudPipeline
import Foundation
import Testing

@Suite("CloudPipeline errors")
struct LocalizedErrorTests {
    @Test("the module's public errors have a localizedDescription equal to their description")
    func localizedDescriptions() {
        let errors: [any Error & CustomStringConvertible] = [
            MessageQueueError.messageNotInFlight("handle-1"),
            InstanceProviderError.unknownInstance("i-0123"),
            ObjectStoreError.notFound("photos/a.jpg"),
            ScalingPolicyError.invalid("max below min"),
            JobMessageError.malformedJSON("unexpected end"),
            UnprocessableImage(reason: "not an image: 10 bytes"),
            SigV4Error.invalidExpiry(0),
            AWSCredentialsError.incomplete(source: "environment", missing: "AWS_SECRET_ACCESS_KEY"),
            AWSServiceError(service: "sqs", operation: "ReceiveMessage", statusCode: 403, code: "AccessDenied",
                            message: "no", requestId: "r-1"),
            CloudConfigurationError.missing(variable: "FACEREC_INPUT_QUEUE_URL"),
        ]
        for error in errors {
            #expect(error.localizedDescription == error.description, "\(type(of: error))")
            #expect(!error.localizedDescription.contains("could not be completed"))
        }
    }
}
