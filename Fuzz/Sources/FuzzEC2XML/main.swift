import CloudPipeline
import Foundation
import FuzzAWSSupport
import FuzzDriver

// EC2's query-protocol XML answers through the public client: DescribeInstances
// (reservations, instances, tags, launch times, next token), RunInstances,
// TerminateInstances; non-2xx statuses go through AWSServiceError's `<Response><Errors>`.
runFuzzer { start, count in
    let data = fuzzData(start, count)
    let input = FuzzedResponse(data)
    let client = EC2Client(configuration: fuzzConfiguration(CannedTransport(input.response)))
    blockOn {
        switch input.selector % 3 {
        case 0: _ = try await client.describeInstances(filters: [EC2Filter(name: "tag:role", values: ["worker"])])
        case 1: _ = try await client.runInstances(EC2RunInstancesRequest(imageId: "ami-12345678", instanceType: "t3.micro"),
                                                  clientToken: "fuzz")
        default: _ = try await client.terminateInstances(["i-0123456789abcdef0"])
        }
    }
    return 0
}
