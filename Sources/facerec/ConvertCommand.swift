import ArgumentParser
import FaceRecognition
import Foundation

/// `facerec convert IN OUT.safetensors`: rewrites any checkpoint this package reads (PyTorch zip
/// or legacy `.pt`, safetensors) as float32 safetensors. The work is `WeightsConversion`; this
/// command parses arguments and prints the summary.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a PyTorch checkpoint (.pt, zip or legacy) to safetensors.",
        discussion: """
            The input format is detected from its bytes. Every tensor is written as F32 under its \
            key (BatchNorm num_batches_tracked counters are dropped), with metadata \
            {"format": "pt", "source": <input file name>}; safetensors metadata of the input is \
            kept. An existing output file is only replaced with --force.
            """
    )

    @Argument(help: "Input weights: a .pt/.pth checkpoint (zip or legacy) or a .safetensors file.")
    var input: String

    @Argument(help: "Output .safetensors path.")
    var output: String

    @Flag(name: .shortAndLong, help: "Replace the output file if it exists.")
    var force = false

    @Flag(name: .shortAndLong, help: "List every tensor with its shape.")
    var verbose = false

    func run() throws {
        let result = try WeightsConversion.convert(URL(fileURLWithPath: input), to: URL(fileURLWithPath: output),
                                                   overwrite: force)
        if verbose {
            let width = result.tensors.map(\.key.count).max() ?? 0
            for tensor in result.tensors {
                print("  \(tensor.key.padding(toLength: width, withPad: " ", startingAt: 0))  \(tensor.shape)")
            }
        }
        print("""
            \(URL(fileURLWithPath: input).lastPathComponent) (\(result.sourceFormat)): \(result.tensors.count) tensors, \
            \(result.parameterCount) parameters -> \(output) (\(result.bytesWritten) bytes, F32)
            """)
    }
}
