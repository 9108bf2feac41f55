import Foundation

/// Head pose estimated from MTCNN's five landmarks (left eye, right eye, nose, left and right
/// mouth corner, "left" meaning the image's left).
///
/// - `roll`: the angle of the line from the left eye to the right eye against the image's
///   x axis, `atan2(ry − ly, rx − lx)` in degrees, in (−180, 180]. Positive when the right eye
///   is lower (y grows downwards): the head is tilted clockwise as seen.
/// - `yaw`: `asin(t / (d / 2))` in degrees, where `d` is the distance between the eyes and `t` the
///   offset of the nose from the eyes' midpoint along the eye line (so roll does not leak into
///   it), clamped to ±90. 0 for a nose centred between the eyes; positive when the nose is
///   towards the image's right eye. A rough estimate (it assumes the nose tip sits over the
///   eyes' midpoint when frontal), good for telling frontal faces from turned ones.
/// - `frontal`: `max(0, cos yaw) × max(0, cos roll)`, 1 for an upright frontal face, 0.5 at
///   60° of yaw, 0 for a profile or an upside-down face.
///
/// Pitch is not estimated: five points constrain it poorly.
public struct FacePose: Sendable, Equatable, Codable {
    /// Degrees, positive towards the image's right.
    public var yaw: Float
    /// Degrees, positive clockwise as seen.
    public var roll: Float
    /// 0…1, 1 for upright and frontal.
    public var frontal: Float

    public init(yaw: Float, roll: Float, frontal: Float) {
        self.yaw = yaw
        self.roll = roll
        self.frontal = frontal
    }

    /// The pose from five landmarks in MTCNN's order; nil with fewer than three points or when
    /// the eyes coincide.
    public init?(landmarks: [FacePoint]) {
        guard landmarks.count >= 3 else { return nil }
        let left = landmarks[0], right = landmarks[1], nose = landmarks[2]
        let ex = Double(right.x - left.x), ey = Double(right.y - left.y)
        let distance = (ex * ex + ey * ey).squareRoot()
        guard distance > 0, distance.isFinite else { return nil }
        let roll = atan2(ey, ex)
        let mx = Double(left.x + right.x) / 2, my = Double(left.y + right.y) / 2
        let along = ((Double(nose.x) - mx) * ex + (Double(nose.y) - my) * ey) / distance
        let yaw = asin(min(max(along / (distance / 2), -1), 1))
        let frontal = max(0, cos(yaw)) * max(0, cos(roll))
        self.init(yaw: Float(yaw * 180 / .pi), roll: Float(roll * 180 / .pi), frontal: Float(frontal))
    }
}
