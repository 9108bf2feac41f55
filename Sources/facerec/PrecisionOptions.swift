import ArgumentParser
import FaceRecognition
import Foundation

extension FaceNetPrecision.Kind: ExpressibleByArgument {}

/// `--precision` and `--calibration`: FaceNet in float32 (the default) or the int8 approximation,
/// the same in every command that embeds faces.
struct PrecisionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("FaceNet's arithmetic: float32 (exact to facenet-pytorch) or int8 (faster, an approximation; needs --calibration).",
                               valueName: "float32|int8"))
    var precision: FaceNetPrecision.Kind = .float32

    @Option(name: .customLong("calibration"),
            help: ArgumentHelp("Face images, or folders of them, the int8 network calibrates its activation scales on at load: the largest face of each, cropped as the command crops its inputs (at most 256). Repeatable.",
                               valueName: "path"))
    var calibration: [String] = []

    func validate() throws {
        if precision == .int8 && calibration.isEmpty {
            throw ValidationError("--precision int8 calibrates on face images: give --calibration with a folder of faces like the ones to embed")
        }
        if precision == .float32 && !calibration.isEmpty {
            throw ValidationError("--calibration is for --precision int8")
        }
    }

    /// The precision to build FaceNet with: for int8, `crop` turns each calibration image into
    /// the crop the command would embed (nil: no face; skipped). Exits 2 when no crop results.
    func facenetPrecision(crop: (RGBImage) throws -> RGBImage?) throws -> FaceNetPrecision {
        guard precision == .int8 else { return .float32 }
        let inputs = ImageInputs(calibration)
        guard !inputs.files.isEmpty else {
            // One message: what is wrong with each path given (missing, empty, not an image).
            let reasons = inputs.failures.map(\.description).joined(separator: "; ")
            throw CLI.fail("--calibration: no image to calibrate on (\(reasons.isEmpty ? calibration.joined(separator: ", ") : reasons))",
                           status: ExitCode.validationFailure.rawValue)
        }
        _ = inputs.reportFailures()
        var crops: [RGBImage] = []
        for path in inputs.files where crops.count < FaceNetPrecision.maximumCalibrationCrops {
            do {
                if let face = try crop(try CLI.readImage(path, applyEXIF: false)) { crops.append(face) }
            } catch {
                CLI.warn("--calibration: \(error)")  // the error names the file
            }
        }
        guard !crops.isEmpty else {
            throw CLI.fail("--calibration: no face found in \(calibration.joined(separator: ", "))", status: ExitCode.validationFailure.rawValue)
        }
        CLI.note("int8 FaceNet: calibrating on \(crops.count) face crop\(crops.count == 1 ? "" : "s")")
        return .int8(calibration: crops)
    }
}
