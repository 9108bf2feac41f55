import ArgumentParser
import FaceRecognition
import Foundation

struct FaceRecCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "facerec",
        abstract: "Detect, embed and recognise faces with FaceNet and MTCNN.",
        discussion: "Exit status, the same in every subcommand: 0 ok, 1 failure, 3 FaceNet weights missing or wrong, 4 some inputs unreadable (the others processed), 5 gallery missing, wrong or refused, 6 MTCNN weights missing or wrong, 64 usage.",
        version: "facerec \(FaceRecognitionPackage.version)",
        subcommands: [IdentifyCommand.self, VerifyCommand.self, EmbedCommand.self, DetectCommand.self, CropCommand.self,
                      EnrollCommand.self, GalleryCommand.self, EvaluateCommand.self, CalibrateCommand.self, ClusterCommand.self,
                      ConvertCommand.self]
    )
}

/// Parses, runs, and turns every way out into the contract: `facerec: ` before every error,
/// ArgumentParser's usage errors at 64 with the usage line, our statuses as thrown.
@main
enum FaceRecMain {
    static func main() {
        var command: any ParsableCommand
        do {
            command = try FaceRecCLI.parseAsRoot()
        } catch {
            exit(reportParseError(error))
        }
        do {
            try command.run()
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch {
            // Help for a subcommand arrives here, as an ArgumentParser error thrown by run().
            if error is ValidationError || error is CleanExit || String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
                exit(reportParseError(error))
            }
            Console.shared.error(error is CocoaError || (error as NSError).domain == NSCocoaErrorDomain
                                 ? "\(FileProblem(error))" : "\(error)")
            exit(CLI.ExitStatus.failure)
        }
        exit(0)
    }

    /// Help and --version on standard output (exit 0); usage errors as `facerec: …` plus the
    /// usage hint on standard error.
    static func reportParseError(_ error: any Error) -> Int32 {
        let code = FaceRecCLI.exitCode(for: error).rawValue
        var message = FaceRecCLI.fullMessage(for: error)
        if code == 0 {
            if !message.isEmpty { Console.shared.raw(message + "\n") }
            return 0
        }
        if message.hasPrefix("Error: ") { message = "facerec: " + message.dropFirst("Error: ".count) }
        if !message.isEmpty { Console.shared.raw(message + "\n", toError: true) }
        return code
    }
}
