/// Draws detections onto an image: box outlines and landmark dots, for eyeballing results.
public enum FaceAnnotation {
    /// An RGB colour to draw with.
    public struct Colour: Sendable, Equatable {
        /// Red, green and blue, 0 … 255.
        public var r: UInt8, g: UInt8, b: UInt8
        /// A colour from its components.
        public init(r: UInt8, g: UInt8, b: UInt8) {
            self.r = r
            self.g = g
            self.b = b
        }
        /// Pure green.
    public static let green = Colour(r: 0, g: 255, b: 0)
        /// Pure red.
    public static let red = Colour(r: 255, g: 0, b: 0)
    }

    /// A copy of `image` with each face's box outlined (thickness scaled to the image) and its
    /// landmarks drawn as filled circles. Parts outside the image are clipped.
    public static func annotate(_ image: RGBImage, faces: [DetectedFace], boxColour: Colour = .green,
                                landmarkColour: Colour = .red) -> RGBImage {
        var canvas = Canvas(image)
        let thickness = max(2, min(image.width, image.height) / 200)
        for face in faces {
            let b = face.box
            canvas.outline(x1: truncatedInt(b.x1), y1: truncatedInt(b.y1), x2: truncatedInt(b.x2),
                           y2: truncatedInt(b.y2), thickness: thickness, colour: boxColour)
            for p in face.landmarks {
                canvas.disc(cx: truncatedInt(p.x.rounded()), cy: truncatedInt(p.y.rounded()),
                            radius: thickness + 1, colour: landmarkColour)
            }
        }
        return canvas.image
    }

    private struct Canvas {
        var image: RGBImage

        init(_ image: RGBImage) { self.image = image }

        mutating func fill(x0: Int, y0: Int, x1: Int, y1: Int, colour: Colour) {
            let xs = max(x0, 0), xe = min(x1, image.width), ys = max(y0, 0), ye = min(y1, image.height)
            guard xs < xe, ys < ye else { return }
            let width = image.width
            image.pixels.withUnsafeMutableBufferPointer { px in
                for y in ys..<ye {
                    for x in xs..<xe {
                        let i = (y * width + x) * 3
                        px[i] = colour.r
                        px[i + 1] = colour.g
                        px[i + 2] = colour.b
                    }
                }
            }
        }

        mutating func outline(x1: Int, y1: Int, x2: Int, y2: Int, thickness t: Int, colour: Colour) {
            fill(x0: x1, y0: y1, x1: x2 + 1, y1: y1 + t, colour: colour)
            fill(x0: x1, y0: y2 - t + 1, x1: x2 + 1, y1: y2 + 1, colour: colour)
            fill(x0: x1, y0: y1, x1: x1 + t, y1: y2 + 1, colour: colour)
            fill(x0: x2 - t + 1, y0: y1, x1: x2 + 1, y1: y2 + 1, colour: colour)
        }

        mutating func disc(cx: Int, cy: Int, radius r: Int, colour: Colour) {
            for dy in -r...r {
                let half = Int(Double(r * r - dy * dy).squareRoot())
                fill(x0: cx - half, y0: cy + dy, x1: cx + half + 1, y1: cy + dy + 1, colour: colour)
            }
        }
    }
}
