import CFaceNet

/// How ``FaceNet`` computes its convolutions.
///
/// ``float32`` is the default and matches facenet-pytorch to 1e-4 per component.
/// ``int8(calibration:)`` is an opt-in approximation for throughput: the convolutions run on
/// 8-bit integers (u8 activations × 7-bit weights, int32 sums; AVX-512 VNNI or AVX2 kernels where
/// the CPU has them, plain C elsewhere, all giving the same result), except conv2d_1a, 2a and
/// 3b, which carry much of the int8 error for 5 % of the work and stay float32. Weights are
/// quantised per output channel when the network is built; each int8 convolution's input is
/// quantised per tensor with a clipping value calibrated once, at load, on the face crops
/// given. Residual additions, pooling, the last linear layer and the L2 norm
/// stay in float32. Embeddings differ slightly from the float32 ones (cosine similarity about
/// 0.995 or more on face crops at 240×240): compare int8 embeddings with int8 embeddings, and
/// measure on your own data before relying on it (README, "int8 FaceNet").
///
/// ```swift
/// let crops: [RGBImage] = ...   // 16–64 face crops like the ones you will embed, one size
/// let facenet = try FaceNet(contentsOf: weightsURL, precision: .int8(calibration: crops))
/// ```
public enum FaceNetPrecision: Sendable {
    /// float32 throughout (the default).
    case float32
    /// int8 convolutions, activation scales calibrated on `calibration`: face crops of one size
    /// (at least 80×80), cropped as the crops to be embedded will be, one forward pass's worth
    /// (at most ``maximumCalibrationCrops``).
    case int8(calibration: [RGBImage])

    /// The precision without its calibration data.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case float32, int8
    }

    public var kind: Kind {
        switch self {
        case .float32: .float32
        case .int8: .int8
        }
    }

    /// Calibration runs as one batch: more crops than this are refused.
    public static let maximumCalibrationCrops = 256

    /// Refuses an empty, oversized or mixed-size calibration set, or crops smaller than FaceNet takes.
    static func checkCalibration(_ crops: [RGBImage]) throws(InferenceError) {
        guard let first = crops.first else {
            throw .invalidInput(network: "FaceNet int8 calibration", message: "no calibration crops: give at least one face crop")
        }
        guard crops.count <= maximumCalibrationCrops else {
            throw .invalidInput(network: "FaceNet int8 calibration",
                                message: "\(crops.count) calibration crops: at most \(maximumCalibrationCrops)")
        }
        guard crops.allSatisfy({ $0.width == first.width && $0.height == first.height }) else {
            throw .invalidInput(network: "FaceNet int8 calibration", message: "calibration crops must share one size")
        }
        guard first.width >= FaceNet.minimumInputSize, first.height >= FaceNet.minimumInputSize else {
            throw .invalidInput(network: "FaceNet int8 calibration",
                                message: "calibration crops of \(first.width)×\(first.height) are smaller than \(FaceNet.minimumInputSize)×\(FaceNet.minimumInputSize)")
        }
    }
}
