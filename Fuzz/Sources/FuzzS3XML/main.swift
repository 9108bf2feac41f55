import CloudPipeline
import Foundation
import FuzzAWSSupport
import FuzzDriver

// S3's REST-XML answers through the public client: ListObjectsV2 (URL-encoded keys, sizes,
// ETags, ISO 8601 dates, truncation), GetObject/HeadObject (headers: Content-Length,
// Last-Modified as an HTTP date, x-amz-meta-*), PutObject's ETag, and for non-2xx statuses
// AWSServiceError's reading of `<Error>` (or JSON) bodies. Plus the bare XML tree builder.
runFuzzer { start, count in
    let data = fuzzData(start, count)
    let input = FuzzedResponse(data)
    let client = S3Client(configuration: fuzzConfiguration(CannedTransport(input.response)))
    blockOn {
        switch input.selector % 6 {
        case 0: _ = try await client.listObjectsV2(bucket: "fuzz-bucket", prefix: "in/")
        case 1: _ = try await client.getObject(bucket: "fuzz-bucket", key: "in/a b+c.jpg")
        case 2: _ = try await client.headObject(bucket: "fuzz-bucket", key: "k")
        case 3: _ = try await client.putObject(bucket: "fuzz-bucket", key: "k", body: Data("x".utf8))
        case 4: try await client.deleteObject(bucket: "fuzz-bucket", key: "k")
        default: _ = try? AWSXMLElement.parse(input.response.body)
        }
    }
    return 0
}
