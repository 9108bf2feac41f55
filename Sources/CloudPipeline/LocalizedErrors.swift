import Foundation

// `error.localizedDescription` gives each error's own description (the queue, key, bucket or
// variable at fault), instead of Foundation's "The operation could not be completed". Servers
// that log or return `localizedDescription` then say what went wrong.

extension SQLiteError: LocalizedError {
    public var errorDescription: String? { description }
}

extension MessageQueueError: LocalizedError {
    public var errorDescription: String? { description }
}

extension InstanceProviderError: LocalizedError {
    public var errorDescription: String? { description }
}

extension ObjectKeyError: LocalizedError {
    public var errorDescription: String? { description }
}

extension ObjectStoreError: LocalizedError {
    public var errorDescription: String? { description }
}

extension ScalingPolicyError: LocalizedError {
    public var errorDescription: String? { description }
}

extension CredentialsRejected: LocalizedError {
    public var errorDescription: String? { description }
}

extension JobMessageError: LocalizedError {
    public var errorDescription: String? { description }
}

extension UnprocessableImage: LocalizedError {
    public var errorDescription: String? { description }
}

extension SigV4Error: LocalizedError {
    public var errorDescription: String? { description }
}

extension AWSCredentialsError: LocalizedError {
    public var errorDescription: String? { description }
}

extension AWSXMLError: LocalizedError {
    public var errorDescription: String? { description }
}

extension AWSTransportError: LocalizedError {
    public var errorDescription: String? { description }
}

extension AWSServiceError: LocalizedError {
    public var errorDescription: String? { description }
}

extension AWSClientError: LocalizedError {
    public var errorDescription: String? { description }
}

extension CloudConfigurationError: LocalizedError {
    public var errorDescription: String? { description }
}

extension FleetDeploymentError: LocalizedError {
    public var errorDescription: String? { description }
}
