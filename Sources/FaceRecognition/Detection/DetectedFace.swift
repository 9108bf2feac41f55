/// An axis-aligned face box in image pixels, as facenet-pytorch returns it: `[x1, y1, x2, y2]`,
/// unclamped (it may extend past the image), float32.
///
/// JSON: `[x1, y1, x2, y2]`.
public struct FaceBox: Sendable, Equatable {
    /// Left edge.
    public var x1: Float
    /// Top edge.
    public var y1: Float
    /// Right edge.
    public var x2: Float
    /// Bottom edge.
    public var y2: Float

    /// A box from its edges, in image pixels.
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

/// A landmark point in image pixels. JSON: `[x, y]`.
public struct FacePoint: Sendable, Equatable {
    /// Horizontal position, from the left edge.
    public var x: Float
    /// Vertical position, from the top edge.
    public var y: Float

    /// A point in image pixels.
    public init(x: Float, y: Float) {
        self.x = x
        self.y = y
    }
}

/// One face found by ``MTCNN``: its box, the O-Net face probability and the five landmarks
/// (left eye, right eye, nose, left and right mouth corner), in the coordinates of the image as
/// given, and how far that image was turned to find the face upright.
///
/// JSON: `{"box": [x1, y1, x2, y2], "prob": p, "landmarks": [[x, y], …], "orientation": 0}`.
public struct DetectedFace: Sendable, Equatable {
    /// The face's box, unclamped.
    public var box: FaceBox
    /// O-Net's face probability (0 … 1).
    public var probability: Float
    /// Left eye, right eye, nose, left and right mouth corner.
    public var landmarks: [FacePoint]
    /// `.up` unless ``MTCNNOptions/tryRotations`` found the face only in a turned copy.
    public var orientation: FaceOrientation = .up

    /// A face from its parts.
    public init(box: FaceBox, probability: Float, landmarks: [FacePoint], orientation: FaceOrientation = .up) {
        self.box = box
        self.probability = probability
        self.landmarks = landmarks
        self.orientation = orientation
    }
}
