import ArgumentParser
import FaceRecognition
import Foundation

/// Options every subcommand takes.
struct CommonOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "No progress bar and no informational messages (errors are still printed).")
    var quiet = false

    // Parsing is the first thing every command does; the console must know before anything is printed.
    func validate() throws {
        if quiet { Console.shared.quiet = true }
    }
}

/// The MTCNN detector's options, the same in every command that detects faces.
struct DetectionOptions: ParsableArguments {
    @Option(name: .customLong("mtcnn-weights"),
            help: ArgumentHelp("Folder with MTCNN's pnet.pt, rnet.pt, onet.pt (default: $FACEREC_MTCNN_WEIGHTS or weights/).",
                               valueName: "dir"))
    var mtcnnWeights: String?

    /// The former name of --mtcnn-weights in detect and crop, still accepted.
    @Option(name: .customLong("weights-dir"), help: .hidden)
    var weightsDir: String?

    @Option(name: .customLong("min-face-size"), parsing: .unconditional, help: "Smallest face searched for, in pixels.")
    var minFaceSize: Double = 20

    @Flag(name: .customLong("apply-exif"), help: "Rotate images by their EXIF orientation first (the reference pipeline does not).")
    var applyEXIF = false

    @Flag(name: .customLong("try-rotations"),
          help: "When an image has no face, look again with it turned 90, 180 and 270 degrees clockwise and keep the turn with the most probable face (JSON gives it as \"orientation\"; boxes stay in the image's own coordinates).")
    var tryRotations = false

    /// The folder given on the command line, if any; otherwise the library's ``WeightsLookup``
    /// decides ($FACEREC_MTCNN_WEIGHTS, ./weights, the XDG data folder).
    var explicitWeightsDirectory: URL? {
        (mtcnnWeights ?? weightsDir).map { URL(fileURLWithPath: $0) }
    }

    func validate() throws {
        if mtcnnWeights != nil && weightsDir != nil {
            throw ValidationError("--weights-dir is the old name of --mtcnn-weights: give only --mtcnn-weights")
        }
        guard minFaceSize.isFinite, minFaceSize > 0 else {
            throw ValidationError("--min-face-size must be a positive number of pixels, got \(minFaceSize.formatted())")
        }
    }

    func mtcnn(keepAll: Bool = false, imageSize: Int = 240, margin: Int = 0) -> MTCNNOptions {
        MTCNNOptions(minFaceSize: minFaceSize, keepAll: keepAll, imageSize: imageSize, margin: margin,
                     tryRotations: tryRotations)
    }
}

/// `--threshold`: a distance, or `none` (always the nearest gallery entry).
struct ThresholdArgument: ExpressibleByArgument {
    /// `.infinity` for none.
    let value: Float
    /// As typed, for messages.
    let text: String

    init?(argument: String) {
        text = argument
        if ["none", "inf", "infinity"].contains(argument.lowercased()) {
            value = .infinity
        } else if let number = Float(argument) {
            value = number
        } else {
            return nil
        }
    }

    /// Refuses NaN and negative values, naming the flag.
    func check() throws {
        guard !value.isNaN, value >= 0 else {
            throw ValidationError("--threshold must be a distance of 0 or more (or none), got \(text)")
        }
    }
}

extension Double {
    /// 20 rather than 20.0, for messages.
    func formatted() -> String { self == rounded() && abs(self) < 1e15 ? String(Int(self)) : "\(self)" }
}

extension MatchMetric: ExpressibleByArgument {}

/// `--min-quality`: faces whose ``FaceQuality/score`` is below it are skipped.
struct QualityOptions: ParsableArguments {
    @Option(name: .customLong("min-quality"), parsing: .unconditional,
            help: ArgumentHelp("Skip faces whose quality score (0-1: the weakest of sharpness, brightness, size and frontal pose; README) is below this.",
                               valueName: "score"))
    var minQuality: Float?

    func validate() throws {
        if let minQuality, !(minQuality >= 0 && minQuality <= 1) {
            throw ValidationError("--min-quality must lie in 0...1, got \(minQuality)")
        }
    }
}
