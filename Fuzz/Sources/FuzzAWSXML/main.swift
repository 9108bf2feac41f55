import CloudPipeline
import Foundation
import FuzzDriver

// The XML reader every S3 and EC2 response (and XML error body) goes through
// (AWSXMLElement.parse on AWSXMLReader), without the client around it: the fast target of the
// XML ones. Lookups walk the tree the way the clients do.
runFuzzer { start, count in
    guard let root = try? AWSXMLElement.parse(fuzzData(start, count)) else { return 0 }
    _ = root.first("Error")?.string("Code")
    _ = root.children("Contents").map { $0.string("Key") }
    _ = root.child("reservationSet")?.children("item").count
    _ = AWSXMLElement.escape(root.text)
    return 0
}
