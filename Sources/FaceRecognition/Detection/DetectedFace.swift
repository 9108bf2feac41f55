/// An axis-aligned face box in image pixels, as facenet-pytorch returns it: `[x1, y1, x2, y2]`,
/// unclamped (it may extend past the image), float32.
public struct FaceBox: Sendable, Equatable {
    public var x1: Float
    public var y1: Float
    public var x2: Float
    public var y2: Float

    public init(x1: Float, y1: Float, x2: Float, y2: Float) {
        self.x1 = x1
        self.y1 = y1
        self.x2 = x2
        self.y2 = y2
    }

    /// `[x1, y1, x2, y2]`.
    public var array: [Float] { [x1, y1, x2, y2] }
    /// `(x2 - x1) * (y2 - y1)` in float32, the key of facenet-pytorch's largest-first order.
    public var area: Float { (x2 - x1) * (y2 - y1) }
}

/// A landmark point in image pixels.
public struct FacePoint: Sendable, Equatable {
    public var x: Float
    public var y: Float

    public init(x: Float, y: Float) {
        self.x = x
        self.y = y
    }
}

/// One face found by ``MTCNN``: its box, the O-Net face probability and the five landmarks
/// (left eye, right eye, nose, left and right mouth corner), in the coordinates of the image as
/// given, and how far that image was turned to find the face upright.
public struct DetectedFace: Sendable, Equatable {
    public var box: FaceBox
    public var probability: Float
    public var landmarks: [FacePoint]
    /// `.up` unless ``MTCNNOptions/tryRotations`` found the face only in a turned copy.
    public var orientation: FaceOrientation = .up

    public init(box: FaceBox, probability: Float, landmarks: [FacePoint], orientation: FaceOrientation = .up) {
        self.box = box
        self.probability = probability
        self.landmarks = landmarks
        self.orientation = orientation
    }
}
