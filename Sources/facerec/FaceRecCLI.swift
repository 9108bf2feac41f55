import ArgumentParser

@main
struct FaceRecCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "facerec",
        abstract: "Detect, embed and recognise faces with FaceNet and MTCNN.",
        subcommands: [IdentifyCommand.self, EmbedCommand.self, DetectCommand.self, CropCommand.self, EnrollCommand.self, GalleryCommand.self, ConvertCommand.self]
    )
}
