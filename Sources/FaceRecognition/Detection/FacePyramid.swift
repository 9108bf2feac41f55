/// The scales of facenet-pytorch's image pyramid (`detect_face`), in float64 as Python computes
/// them: the first maps `minFaceSize` to P-Net's 12-pixel cell, each next one is `factor` smaller,
/// while the shorter side still spans 12 pixels.
struct FacePyramid: Equatable {
    struct Level: Equatable {
        var scale: Double
        var height: Int
        var width: Int
    }

    var levels: [Level]

    init(height: Int, width: Int, minFaceSize: Double, factor: Double) {
        let m = 12.0 / minFaceSize
        var minl = Double(min(height, width)) * m
        var scale = m
        var levels: [Level] = []
        while minl >= 12 {
            // int(h * scale + 1): truncation of a positive float64.
            levels.append(Level(scale: scale, height: Int(Double(height) * scale + 1),
                                width: Int(Double(width) * scale + 1)))
            scale *= factor
            minl *= factor
        }
        self.levels = levels
    }
}
