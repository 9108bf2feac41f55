import ArgumentParser

@main
struct FaceRecCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "facerec",
        abstract: "Detect, embed and recognise faces with FaceNet and MTCNN.",
        subcommands: [EmbedCommand.self, DetectCommand.self, CropCommand.self, ConvertCommand.self]
    )
}
