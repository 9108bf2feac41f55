import Foundation

/// How usable a detected face is for recognition: sharpness, brightness, size and pose, and one
/// 0…1 ``score`` that `--min-quality` (and a service's quality filter) compares with, as
/// Rekognition's `QualityFilter` and DeepFace's quality checks do.
///
/// Measured on the face's box, clamped to the image and truncated to whole pixels as
/// `extract_face` crops it, at the image's own resolution (no resizing, which would blur small
/// faces and confound sharpness with size):
///
/// - ``sharpness``: the variance of the Laplacian of the grey crop, the usual blur measure
///   (OpenCV's `cv2.Laplacian(grey, CV_64F).var()` with its default 3×3 kernel
///   `[[0, 1, 0], [1, −4, 1], [0, 1, 0]]`, over the pixels whose neighbours are all inside the
///   crop). Grey is ITU-R 601 luma, `0.299 R + 0.587 G + 0.114 B`, on the 0…255 scale. Blur
///   lowers it; 0 for a flat patch or a crop under 3×3.
/// - ``brightness``: the mean grey level of the crop, 0…255.
/// - ``size``: the box's shorter side in pixels (of the image, unclamped).
/// - ``pose``: yaw, roll and a 0…1 frontal score from the landmarks (``FacePose``); nil without
///   usable landmarks.
///
/// ``score`` is the weakest of four 0…1 parts, so `--min-quality 0.5` keeps faces that are at
/// least half-way good in every respect:
/// `min(sharpness / 100, 1)` (100 is the common blur-detection cut-off for the Laplacian
/// variance), `1 − |brightness − 127.5| / 127.5` (1 at mid-grey, 0 for black or white),
/// `min(size / 64, 1)` (a face 64 px or larger scores 1) and `pose.frontal` (left out when
/// there is no pose).
public struct FaceQuality: Sendable, Equatable, Codable {
    /// Variance of the Laplacian of the grey crop (larger is sharper).
    public var sharpness: Float
    /// Mean grey level, 0…255.
    public var brightness: Float
    /// Shorter side of the box, in pixels.
    public var size: Float
    /// Head pose from the landmarks; nil without usable landmarks.
    public var pose: FacePose?

    public init(sharpness: Float, brightness: Float, size: Float, pose: FacePose?) {
        self.sharpness = sharpness
        self.brightness = brightness
        self.size = size
        self.pose = pose
    }

    /// Laplacian variance that scores 1.
    public static let sharpnessReference: Float = 100
    /// Box side, in pixels, that scores 1.
    public static let sizeReference: Float = 64

    /// The weakest of the sharpness, brightness, size and frontal parts, 0…1 (see the type's
    /// documentation for the formulas).
    public var score: Float {
        var parts = [
            min(max(sharpness, 0) / Self.sharpnessReference, 1),
            max(0, 1 - abs(brightness - 127.5) / 127.5),
            min(max(size, 0) / Self.sizeReference, 1),
        ]
        if let pose { parts.append(pose.frontal) }
        return parts.min() ?? 0
    }

    /// The quality of `face` in `image` (the image it was detected in).
    public static func assess(_ image: RGBImage, face: DetectedFace) -> FaceQuality {
        let box = face.box
        let crop = image.cropped(x1: truncatedInt(max(box.x1, 0)), y1: truncatedInt(max(box.y1, 0)),
                                 x2: truncatedInt(min(box.x2, Float(image.width))),
                                 y2: truncatedInt(min(box.y2, Float(image.height))))
        let grey = Self.grey(crop)
        return FaceQuality(sharpness: Self.laplacianVariance(grey, width: crop.width, height: crop.height),
                           brightness: grey.isEmpty ? 0 : Float(grey.reduce(0, +) / Double(grey.count)),
                           size: max(0, min(box.x2 - box.x1, box.y2 - box.y1)),
                           pose: FacePose(landmarks: face.landmarks))
    }

    /// ITU-R 601 luma of each pixel, 0…255, row-major.
    static func grey(_ image: RGBImage) -> [Double] {
        let count = image.width * image.height
        var out = [Double](repeating: 0, count: count)
        image.pixels.withUnsafeBufferPointer { px in
            for i in 0..<count {
                out[i] = 0.299 * Double(px[3 * i]) + 0.587 * Double(px[3 * i + 1]) + 0.114 * Double(px[3 * i + 2])
            }
        }
        return out
    }

    /// Variance of the 4-neighbour Laplacian over the interior pixels; 0 under 3×3.
    static func laplacianVariance(_ grey: [Double], width: Int, height: Int) -> Float {
        guard width >= 3, height >= 3 else { return 0 }
        var sum = 0.0, squares = 0.0
        for y in 1..<(height - 1) {
            for x in 1..<(width - 1) {
                let i = y * width + x
                let l = grey[i - 1] + grey[i + 1] + grey[i - width] + grey[i + width] - 4 * grey[i]
                sum += l
                squares += l * l
            }
        }
        let n = Double((width - 2) * (height - 2))
        let mean = sum / n
        return Float(max(0, squares / n - mean * mean))
    }
}
