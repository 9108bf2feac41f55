import Foundation

/// Deterministic synthetic FaceNet weights, bit-identical to those that
/// `Tests/Fixtures/make_facenet_goldens.py` feeds to facenet-pytorch. The real vggface2 weights
/// cannot be downloaded everywhere; these let the parity tests, the end-to-end tests and the
/// benchmarks run the real network on real faces anywhere.
///
/// Each learned parameter is a splitmix64 stream seeded by the FNV-1a hash of its key: element i
/// takes the top 24 bits of mix64(seed + (i + 1)·0x9E3779B97F4A7C15) as u ∈ [−1, 1) and becomes
/// u·√(6 / fan_in) (weights), 0.05·u (residual biases), 1 + 0.25·u (BatchNorm γ) or 0.1·u (β),
/// all in float32. BatchNorm running statistics are not random (every face would collapse onto
/// one embedding): they were calibrated on real crops and are passed in.
///
/// `package`: for this package's tests and benchmarks, not part of the library's API.
package enum SyntheticFaceNetWeights {
    /// The full state dict: generated parameters plus `runningStatistics` (every
    /// `*.running_mean` / `*.running_var` of the architecture).
    package static func make(runningStatistics: StateDict) throws -> StateDict {
        var tensors: [String: Tensor] = [:]
        for parameter in FaceNetArchitecture.parameters {
            if parameter.isRunningStatistic {
                tensors[parameter.name] = try runningStatistics.require(parameter.name, shape: parameter.shape)
            } else {
                tensors[parameter.name] = tensor(named: parameter.name, shape: parameter.shape)
            }
        }
        return StateDict(tensors: tensors, metadata: ["generator": "SyntheticFaceNetWeights"])
    }

    /// The synthetic values of one parameter.
    package static func tensor(named name: String, shape: [Int]) -> Tensor {
        let count = shape.reduce(1, *)
        let kind = Kind(name)
        let fanIn = count / max(shape.first ?? 1, 1)
        let bound = Float((6.0 / Double(fanIn)).squareRoot())
        let seed = fnv1a64(name)
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBufferPointer { out in
            var state = seed
            for i in 0..<count {
                state &+= 0x9E37_79B9_7F4A_7C15
                let u = uniform(mix64(state))
                switch kind {
                case .batchNormWeight: out[i] = 1 + 0.25 * u
                case .batchNormBias: out[i] = 0.1 * u
                case .residualBias: out[i] = 0.05 * u
                case .weight: out[i] = u * bound
                }
            }
        }
        return Tensor(shape: shape, scalars: values)
    }

    private enum Kind {
        case weight, residualBias, batchNormWeight, batchNormBias
        init(_ name: String) {
            if name.hasSuffix("bn.weight") { self = .batchNormWeight }
            else if name.hasSuffix("bn.bias") { self = .batchNormBias }
            else if name.hasSuffix("conv2d.bias") { self = .residualBias }
            else { self = .weight }
        }
    }

    @inline(__always) static func mix64(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The top 24 bits as a float in [−1, 1); exact in float32.
    @inline(__always) static func uniform(_ bits: UInt64) -> Float {
        Float(bits >> 40) * 0x1p-23 - 1
    }

    static func fnv1a64(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
