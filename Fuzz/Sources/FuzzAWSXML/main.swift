import CloudPipeline
import Foundation
import FuzzDriver

// The XML tree builder every S3 and EC2 response goes through (AWSXMLElement on Foundation's
// XMLParser), without the client around it: the fast target of the three XML ones. Lookups
// walk the tree the way the clients do.
runFuzzer { start, count in
    guard let root = try? AWSXMLElement.parse(fuzzData(start, count)) else { return 0 }
    _ = root.first("Error")?.string("Code")
    _ = root.children("Contents").map { $0.string("Key") }
    _ = root.child("reservationSet")?.children("item").count
    _ = AWSXMLElement.escape(root.text)
    return 0
}
