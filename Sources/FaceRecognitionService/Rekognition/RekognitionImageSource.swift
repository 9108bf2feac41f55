import CloudPipeline
import Foundation
import Logging

/// Where `Image.S3Object {Bucket, Name, Version}` is read from: the pipeline's object stores
/// (S3 on AWS; on the embedded default, the directory store's bucket `<data-dir>/buckets/<Bucket>`).
public protocol RekognitionImageSource: Sendable {
    /// The object's bytes. - Throws: ``RekognitionError`` (`InvalidS3ObjectException`).
    func object(bucket: String, name: String, version: String?) async throws -> Data
}

/// ``RekognitionImageSource`` over the pipeline's backend.
public struct PipelineImageSource: RekognitionImageSource {
    public let backend: PipelineBackend
    let logger: Logger

    public init(backend: PipelineBackend, logger: Logger = Logger(label: "facerec.rekognition")) {
        self.backend = backend
        self.logger = logger
    }

    func store(bucket: String) throws -> any ObjectStore {
        switch backend {
        case .local(let layout):
            // Bucket names become directory names: only S3's bucket alphabet is accepted.
            guard !bucket.isEmpty, bucket.count <= 63, bucket.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "." }),
                  !bucket.hasPrefix(".") else {
                throw RekognitionError.invalidS3Object("Invalid bucket name \(bucket.debugDescription)")
            }
            let directory = layout.bucketDirectory(bucket)
            guard FileManager.default.fileExists(atPath: directory.path) else {
                throw RekognitionError.invalidS3Object("Unable to get object metadata from S3. Check object key, region and/or access permissions.")
            }
            return try DirectoryObjectStore(root: directory)
        case .aws(let configuration):
            let s3 = S3Client(configuration: configuration.clientConfiguration(
                for: .s3, credentials: configuration.credentialsProvider(), logger: logger))
            return S3ObjectStore(client: s3, bucket: bucket)
        }
    }

    public func object(bucket: String, name: String, version: String?) async throws -> Data {
        let store = try store(bucket: bucket)
        do {
            return try await store.get(key: name)
        } catch {
            logger.info("S3Object read failed", metadata: ["bucket": "\(bucket)", "key": "\(name)", "error": "\(error)"])
            throw RekognitionError.invalidS3Object("Unable to get object metadata from S3. Check object key, region and/or access permissions.")
        }
    }
}
