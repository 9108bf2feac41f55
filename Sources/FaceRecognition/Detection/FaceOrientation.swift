/// How far an image was turned, clockwise, for ``MTCNN`` to find its faces upright
/// (``MTCNNOptions/tryRotations``): `.rotated90` for a phone photo stored sideways without an
/// EXIF orientation, whose faces stand upright once the image is turned 90° clockwise.
///
/// Boxes and landmarks are always reported in the coordinates of the image as given (the
/// continuous pixel-edge coordinates MTCNN uses, so a box maps exactly); only the crops are
/// taken from the turned image, where the face is upright.
public enum FaceOrientation: Int, Sendable, Equatable, Codable, CaseIterable {
    case up = 0
    case rotated90 = 90
    case rotated180 = 180
    case rotated270 = 270

    /// The EXIF transform that turns the image this way (``RGBImage/oriented(_:)``).
    public var exifOrientation: EXIFOrientation {
        switch self {
        case .up: return .up
        case .rotated90: return .right
        case .rotated180: return .down
        case .rotated270: return .left
        }
    }

    /// A point of the turned image in the coordinates of the image as given, `width` × `height`.
    public func original(_ p: FacePoint, width: Int, height: Int) -> FacePoint {
        let w = Float(width), h = Float(height)
        switch self {
        case .up: return p
        case .rotated90: return FacePoint(x: p.y, y: h - p.x)
        case .rotated180: return FacePoint(x: w - p.x, y: h - p.y)
        case .rotated270: return FacePoint(x: w - p.y, y: p.x)
        }
    }

    /// A point of the image as given (`width` × `height`) in the coordinates of the turned image.
    public func turned(_ p: FacePoint, width: Int, height: Int) -> FacePoint {
        let w = Float(width), h = Float(height)
        switch self {
        case .up: return p
        case .rotated90: return FacePoint(x: h - p.y, y: p.x)
        case .rotated180: return FacePoint(x: w - p.x, y: h - p.y)
        case .rotated270: return FacePoint(x: p.y, y: w - p.x)
        }
    }

    /// A face of the image as given (`width` × `height`) in the coordinates of the turned image,
    /// upright there (orientation `.up`).
    public func turned(_ face: DetectedFace, width: Int, height: Int) -> DetectedFace {
        let a = turned(FacePoint(x: face.box.x1, y: face.box.y1), width: width, height: height)
        let b = turned(FacePoint(x: face.box.x2, y: face.box.y2), width: width, height: height)
        return DetectedFace(box: FaceBox(x1: min(a.x, b.x), y1: min(a.y, b.y), x2: max(a.x, b.x), y2: max(a.y, b.y)),
                            probability: face.probability,
                            landmarks: face.landmarks.map { turned($0, width: width, height: height) })
    }

    /// A face found in the turned image, in the coordinates of the image as given
    /// (`width` × `height`), carrying this orientation.
    public func original(_ face: DetectedFace, width: Int, height: Int) -> DetectedFace {
        let a = original(FacePoint(x: face.box.x1, y: face.box.y1), width: width, height: height)
        let b = original(FacePoint(x: face.box.x2, y: face.box.y2), width: width, height: height)
        return DetectedFace(box: FaceBox(x1: min(a.x, b.x), y1: min(a.y, b.y), x2: max(a.x, b.x), y2: max(a.y, b.y)),
                            probability: face.probability,
                            landmarks: face.landmarks.map { original($0, width: width, height: height) },
                            orientation: self)
    }
}
