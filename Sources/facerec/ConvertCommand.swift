import ArgumentParser
import FaceRecognition
import Foundation

/// `facerec convert IN OUT.safetensors`: rewrites any checkpoint this package reads (PyTorch zip
/// or legacy `.pt`, safetensors) as float32 safetensors. Lossless for float32 weights: every
/// tensor is kept under its key (only BatchNorm's `num_batches_tracked` counters, which carry no
/// weights, are dropped by the loader).
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a PyTorch checkpoint (.pt, zip or legacy) to safetensors.",
        discussion: """
            The input format is detected from its bytes. The output holds every tensor as F32 \
            with metadata {"format": "pt", "source": <input file name>}; safetensors metadata of \
            the input is kept. An existing output file is only replaced with --force.
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

    func validate() throws {
        let inputURL = URL(fileURLWithPath: input).standardizedFileURL
        let outputURL = URL(fileURLWithPath: output).standardizedFileURL
        guard inputURL.path != outputURL.path else {
            throw ValidationError("input and output are the same file: \(input)")
        }
        if !force && FileManager.default.fileExists(atPath: outputURL.path) {
            throw ValidationError("\(output) exists; pass --force to replace it")
        }
    }

    func run() throws {
        let inputURL = URL(fileURLWithPath: input)
        let outputURL = URL(fileURLWithPath: output)
        let bytes: Data
        do {
            bytes = try Data(contentsOf: inputURL, options: .mappedIfSafe)
        } catch {
            throw ValidationError("cannot read \(input): \(error.localizedDescription)")
        }
        let format = WeightsLoader.detectFormat(bytes)
        var dict = try WeightsLoader.load(data: bytes, name: inputURL.lastPathComponent)
        if dict.metadata.isEmpty { dict.metadata["format"] = "pt" }
        dict.metadata["source"] = dict.metadata["source"] ?? inputURL.lastPathComponent
        try SafeTensors.write(dict, to: outputURL)

        if verbose {
            let width = dict.sortedKeys.map(\.count).max() ?? 0
            for key in dict.sortedKeys {
                let shape = dict[key]?.shape ?? []
                print("  \(key.padding(toLength: width, withPad: " ", startingAt: 0))  \(shape)")
            }
        }
        let parameters = dict.tensors.values.reduce(0) { $0 + $1.count }
        let written = (try? FileManager.default.attributesOfItem(atPath: outputURL.path)[.size] as? Int) ?? 0
        print("""
            \(inputURL.lastPathComponent) (\(format.map(String.init(describing:)) ?? "unknown format")): \
            \(dict.tensors.count) tensors, \(parameters) parameters -> \(output) (\(written) bytes, F32)
            """)
    }
}
