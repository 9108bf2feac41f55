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

    @OptionGroup var common: CommonOptions

    func run() throws {
        if let problem = FileProblem.reading(input) { throw CLI.fail("\(input): \(problem)") }
        if CLI.sameFile(input, output) { throw CLI.fail("\(output) is the input file: choose another output path") }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory) {
            if isDirectory.boolValue { throw CLI.fail("cannot create \(output): is a directory") }
            if !force { throw CLI.fail("\(output) exists; pass --force to replace it") }
        }
        let parent = (output as NSString).deletingLastPathComponent
        if !parent.isEmpty && !FileManager.default.fileExists(atPath: parent) {
            throw CLI.fail("cannot create \(output): no such directory")
        }
        let result: WeightsConversion
        do {
            result = try WeightsConversion.convert(URL(fileURLWithPath: input), to: URL(fileURLWithPath: output),
                                                   overwrite: force)
        } catch let error as WeightsError {
            if case .io(let file, let reason) = error, file == output { throw CLI.fail("cannot create \(output): \(reason)") }
            throw CLI.fail("\(input): \(CLI.withoutPath(input, error))")
        }
        if verbose {
            let width = result.tensors.map(\.key.count).max() ?? 0
            for tensor in result.tensors {
                CLI.printLine("  \(tensor.key.padding(toLength: width, withPad: " ", startingAt: 0))  \(tensor.shape)")
            }
        }
        CLI.printLine("""
            \(URL(fileURLWithPath: input).lastPathComponent) (\(result.sourceFormat)): \(result.tensors.count) tensors, \
            \(result.parameterCount) parameters -> \(output) (\(result.bytesWritten) bytes, F32)
            """)
    }
}
