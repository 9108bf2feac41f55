/// The parameters of facenet-pytorch's `InceptionResnetV1(classify=False)`: every state-dict key
/// with its shape, in registration order. Used to describe and validate checkpoints and to make
/// synthetic weights; the C builder checks the same names and shapes independently.
public enum FaceNetArchitecture {
    /// One state-dict entry.
    public struct Parameter: Sendable, Hashable {
        /// The tensor's state-dict key.
        public let name: String
        /// Its shape.
        public let shape: [Int]
        /// True for BatchNorm running statistics (buffers, not learned parameters).
        public var isRunningStatistic: Bool {
            name.hasSuffix(".running_mean") || name.hasSuffix(".running_var")
        }
    }

    /// All entries (without `num_batches_tracked` and the classifier's `logits.*`).
    public static let parameters: [Parameter] = {
        var list: [Parameter] = []
        func basic(_ prefix: String, _ cin: Int, _ cout: Int, _ kh: Int, _ kw: Int) {
            list.append(Parameter(name: "\(prefix).conv.weight", shape: [cout, cin, kh, kw]))
            for suffix in ["weight", "bias", "running_mean", "running_var"] {
                list.append(Parameter(name: "\(prefix).bn.\(suffix)", shape: [cout]))
            }
        }
        func plain1x1(_ prefix: String, _ cin: Int, _ cout: Int) {
            list.append(Parameter(name: "\(prefix).weight", shape: [cout, cin, 1, 1]))
            list.append(Parameter(name: "\(prefix).bias", shape: [cout]))
        }
        func factorised(_ p: String, width: Int, branch: Int, k: Int) {
            basic("\(p).branch0", width, branch, 1, 1)
            basic("\(p).branch1.0", width, branch, 1, 1)
            basic("\(p).branch1.1", branch, branch, 1, k)
            basic("\(p).branch1.2", branch, branch, k, 1)
            plain1x1("\(p).conv2d", 2 * branch, width)
        }
        basic("conv2d_1a", 3, 32, 3, 3)
        basic("conv2d_2a", 32, 32, 3, 3)
        basic("conv2d_2b", 32, 64, 3, 3)
        basic("conv2d_3b", 64, 80, 1, 1)
        basic("conv2d_4a", 80, 192, 3, 3)
        basic("conv2d_4b", 192, 256, 3, 3)
        for i in 0..<5 {
            let p = "repeat_1.\(i)"
            basic("\(p).branch0", 256, 32, 1, 1)
            basic("\(p).branch1.0", 256, 32, 1, 1)
            basic("\(p).branch1.1", 32, 32, 3, 3)
            basic("\(p).branch2.0", 256, 32, 1, 1)
            basic("\(p).branch2.1", 32, 32, 3, 3)
            basic("\(p).branch2.2", 32, 32, 3, 3)
            plain1x1("\(p).conv2d", 96, 256)
        }
        basic("mixed_6a.branch0", 256, 384, 3, 3)
        basic("mixed_6a.branch1.0", 256, 192, 1, 1)
        basic("mixed_6a.branch1.1", 192, 192, 3, 3)
        basic("mixed_6a.branch1.2", 192, 256, 3, 3)
        for i in 0..<10 { factorised("repeat_2.\(i)", width: 896, branch: 128, k: 7) }
        basic("mixed_7a.branch0.0", 896, 256, 1, 1)
        basic("mixed_7a.branch0.1", 256, 384, 3, 3)
        basic("mixed_7a.branch1.0", 896, 256, 1, 1)
        basic("mixed_7a.branch1.1", 256, 256, 3, 3)
        basic("mixed_7a.branch2.0", 896, 256, 1, 1)
        basic("mixed_7a.branch2.1", 256, 256, 3, 3)
        basic("mixed_7a.branch2.2", 256, 256, 3, 3)
        for i in 0..<5 { factorised("repeat_3.\(i)", width: 1792, branch: 192, k: 3) }
        factorised("block8", width: 1792, branch: 192, k: 3)
        list.append(Parameter(name: "last_linear.weight", shape: [512, 1792]))
        for suffix in ["weight", "bias", "running_mean", "running_var"] {
            list.append(Parameter(name: "last_bn.\(suffix)", shape: [512]))
        }
        return list
    }()

    /// Multiply-accumulates of one forward pass at `size`×`size` (1.418 G at 160, 3.745 G at 240
    /// up to rounding), for benchmark GFLOPS figures.
    public static func multiplyAccumulates(height: Int, width: Int) -> Int {
        func out(_ x: Int, _ k: Int, _ s: Int, _ p: Int) -> Int { (x + 2 * p - k) / s + 1 }
        var total = 0
        var h = height, w = width
        func conv(_ cin: Int, _ cout: Int, _ kh: Int, _ kw: Int, _ s: Int, _ ph: Int, _ pw: Int,
                  at hw: (Int, Int)) -> (Int, Int) {
            let oh = out(hw.0, kh, s, ph), ow = out(hw.1, kw, s, pw)
            total += cout * cin * kh * kw * oh * ow
            return (oh, ow)
        }
        var hw = (h, w)
        hw = conv(3, 32, 3, 3, 2, 0, 0, at: hw)
        hw = conv(32, 32, 3, 3, 1, 0, 0, at: hw)
        hw = conv(32, 64, 3, 3, 1, 1, 1, at: hw)
        hw = (out(hw.0, 3, 2, 0), out(hw.1, 3, 2, 0))
        hw = conv(64, 80, 1, 1, 1, 0, 0, at: hw)
        hw = conv(80, 192, 3, 3, 1, 0, 0, at: hw)
        hw = conv(192, 256, 3, 3, 2, 0, 0, at: hw)
        for _ in 0..<5 {
            _ = conv(256, 96, 1, 1, 1, 0, 0, at: hw)
            _ = conv(32, 32, 3, 3, 1, 1, 1, at: hw)
            _ = conv(32, 32, 3, 3, 1, 1, 1, at: hw)
            _ = conv(32, 32, 3, 3, 1, 1, 1, at: hw)
            _ = conv(96, 256, 1, 1, 1, 0, 0, at: hw)
        }
        let s6 = conv(256, 384, 3, 3, 2, 0, 0, at: hw)
        _ = conv(256, 192, 1, 1, 1, 0, 0, at: hw)
        _ = conv(192, 192, 3, 3, 1, 1, 1, at: hw)
        _ = conv(192, 256, 3, 3, 2, 0, 0, at: hw)
        hw = s6
        for _ in 0..<10 {
            _ = conv(896, 256, 1, 1, 1, 0, 0, at: hw)
            _ = conv(128, 128, 1, 7, 1, 0, 3, at: hw)
            _ = conv(128, 128, 7, 1, 1, 3, 0, at: hw)
            _ = conv(256, 896, 1, 1, 1, 0, 0, at: hw)
        }
        _ = conv(896, 768, 1, 1, 1, 0, 0, at: hw)
        let s7 = conv(256, 384, 3, 3, 2, 0, 0, at: hw)
        _ = conv(256, 256, 3, 3, 2, 0, 0, at: hw)
        _ = conv(256, 256, 3, 3, 1, 1, 1, at: hw)
        _ = conv(256, 256, 3, 3, 2, 0, 0, at: hw)
        hw = s7
        for _ in 0..<6 {
            _ = conv(1792, 384, 1, 1, 1, 0, 0, at: hw)
            _ = conv(192, 192, 1, 3, 1, 0, 1, at: hw)
            _ = conv(192, 192, 3, 1, 1, 1, 0, at: hw)
            _ = conv(384, 1792, 1, 1, 1, 0, 0, at: hw)
        }
        total += 1792 * 512
        (h, w) = hw
        return total
    }
}
