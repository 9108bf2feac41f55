import FaceRecognition
import Foundation

/// The PNG `facerec calibrate --plot` writes, 960 × 420, drawn pixel by pixel (no plotting
/// library): on the left the ROC (x: FAR 0…1, y: TPR 0…1, grid every 0.25, the chance diagonal
/// in grey, the curve in black, the EER point as a blue dot); on the right the genuine (green)
/// and impostor (red) distance histograms, each scaled to its own tallest bar, over distances
/// 0…the largest (grid every quarter), with the suggested threshold as a blue vertical line.
/// Titles, axis names and the grid lines' values are written in ``PlotFont``.
enum CalibrationPlot {
    static func png(_ c: Calibration, threshold: Float) throws -> Data {
        var canvas = PlotCanvas(width: 960, height: 420)
        // ROC panel: 360 × 360 at (40, 30).
        let roc = (x: 40, y: 30, size: 360)
        func rocPixel(_ far: Double, _ tpr: Double) -> (Int, Int) {
            (roc.x + Int((far * Double(roc.size)).rounded()), roc.y + roc.size - Int((tpr * Double(roc.size)).rounded()))
        }
        canvas.grid(x: roc.x, y: roc.y, width: roc.size, height: roc.size)
        canvas.line(rocPixel(0, 0), rocPixel(1, 1), colour: PlotCanvas.grey)
        var last = rocPixel(0, 0)
        for p in c.roc {
            let next = rocPixel(p.far, 1 - p.frr)
            canvas.line(last, next, colour: PlotCanvas.black, thickness: 2)
            last = next
        }
        let eer = rocPixel(c.eer, 1 - c.eer)
        canvas.disc(eer, radius: 5, colour: PlotCanvas.blue)
        canvas.text("ROC", x: roc.x, y: 8, scale: 2)
        canvas.text("EER " + String(format: "%.2f%%", 100 * c.eer), x: roc.x + 60, y: 8, scale: 2, colour: PlotCanvas.blue)
        canvas.text("TPR", x: 12, y: roc.y + roc.size / 8 - 3)
        canvas.text("FAR", x: roc.x + roc.size / 2 - 8, y: roc.y + roc.size + 14)
        for q in 0...4 {
            let value = String(format: "%.2f", Double(q) / 4)
            canvas.text(value, x: roc.x + roc.size * q / 4 - 12, y: roc.y + roc.size + 4)
            if q > 0 { canvas.text(value, x: 10, y: roc.y + roc.size - roc.size * q / 4 - 3) }  // the x axis's 0.00 serves both
        }

        // Histogram panel: 500 × 360 at (440, 30).
        let panel = (x: 440, y: 30, width: 500, height: 360)
        canvas.grid(x: panel.x, y: panel.y, width: panel.width, height: panel.height)
        let bins = 50
        let h = c.histogram(bins: bins)
        let barWidth = panel.width / bins
        for (counts, colour, inset) in [(h.impostor, PlotCanvas.red, 0), (h.genuine, PlotCanvas.green, barWidth / 4)] {
            let top = max(counts.max() ?? 1, 1)
            for (i, n) in counts.enumerated() where n > 0 {
                let height = max(1, panel.height * n / top)
                canvas.fill(x: panel.x + i * barWidth + inset, y: panel.y + panel.height - height,
                            width: barWidth - 2 * inset - 1, height: height, colour: colour)
            }
        }
        let tx = panel.x + Int((Double(threshold / h.upper) * Double(panel.width)).rounded())
        if tx >= panel.x && tx <= panel.x + panel.width {
            canvas.line((tx, panel.y), (tx, panel.y + panel.height), colour: PlotCanvas.blue, thickness: 2)
        }
        var legendX = panel.x
        for (label, colour) in [("genuine", PlotCanvas.green), ("impostor", PlotCanvas.red),
                                ("threshold " + String(format: "%.4f", threshold), PlotCanvas.blue)] {
            canvas.text(label, x: legendX, y: 8, scale: 2, colour: colour)
            legendX += PlotCanvas.textWidth(label, scale: 2) + 24
        }
        canvas.text("distance", x: panel.x + panel.width / 2 - 24, y: panel.y + panel.height + 14)
        for q in 0...4 {
            canvas.text(String(format: "%.2f", Double(h.upper) * Double(q) / 4), x: panel.x + panel.width * q / 4 - 12, y: panel.y + panel.height + 4)
        }
        return try ImageEncoder.png(canvas.image())
    }
}

/// A white RGB raster with the few primitives the plot needs; drawing outside is clipped.
struct PlotCanvas {
    typealias Colour = (r: UInt8, g: UInt8, b: UInt8)
    static let black: Colour = (0, 0, 0), grey: Colour = (190, 190, 190), blue: Colour = (30, 90, 220)
    static let red: Colour = (220, 60, 50), green: Colour = (40, 160, 60), light: Colour = (230, 230, 230)

    let width: Int
    let height: Int
    private var pixels: [UInt8]

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 255, count: width * height * 3)
    }

    mutating func set(_ x: Int, _ y: Int, _ c: Colour) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = (y * width + x) * 3
        pixels[i] = c.r; pixels[i + 1] = c.g; pixels[i + 2] = c.b
    }

    mutating func fill(x: Int, y: Int, width w: Int, height h: Int, colour: Colour) {
        guard w > 0, h > 0 else { return }
        for yy in y..<(y + h) { for xx in x..<(x + w) { set(xx, yy, colour) } }
    }

    /// A straight line (Bresenham), `thickness` pixels wide.
    mutating func line(_ a: (Int, Int), _ b: (Int, Int), colour: Colour, thickness: Int = 1) {
        var (x, y) = a
        let dx = abs(b.0 - x), dy = -abs(b.1 - y), sx = x < b.0 ? 1 : -1, sy = y < b.1 ? 1 : -1
        var err = dx + dy
        while true {
            fill(x: x - (thickness - 1) / 2, y: y - (thickness - 1) / 2, width: thickness, height: thickness, colour: colour)
            if x == b.0 && y == b.1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    mutating func disc(_ centre: (Int, Int), radius: Int, colour: Colour) {
        for dy in -radius...radius {
            for dx in -radius...radius where dx * dx + dy * dy <= radius * radius { set(centre.0 + dx, centre.1 + dy, colour) }
        }
    }

    /// A light grid every quarter and a black frame.
    mutating func grid(x: Int, y: Int, width w: Int, height h: Int) {
        for q in 1..<4 {
            line((x + w * q / 4, y), (x + w * q / 4, y + h), colour: Self.light)
            line((x, y + h * q / 4), (x + w, y + h * q / 4), colour: Self.light)
        }
        line((x, y), (x + w, y), colour: Self.black)
        line((x, y + h), (x + w, y + h), colour: Self.black)
        line((x, y), (x, y + h), colour: Self.black)
        line((x + w, y), (x + w, y + h), colour: Self.black)
    }

    /// Writes `text` in ``PlotFont`` with its top left at (x, y), each font pixel `scale` pixels
    /// wide; characters the font lacks are left blank.
    mutating func text(_ text: String, x: Int, y: Int, scale: Int = 1, colour: Colour = Self.black) {
        for (i, character) in text.enumerated() {
            guard let glyph = PlotFont.glyph(character) else { continue }
            for (row, bits) in glyph.enumerated() {
                for (column, bit) in bits.enumerated() where bit == "#" {
                    fill(x: x + (i * PlotFont.advance + column) * scale, y: y + row * scale, width: scale, height: scale, colour: colour)
                }
            }
        }
    }

    static func textWidth(_ text: String, scale: Int = 1) -> Int { text.count * PlotFont.advance * scale }

    func image() throws -> RGBImage { try RGBImage(width: width, height: height, pixels: pixels) }
}
