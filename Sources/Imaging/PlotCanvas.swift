/// A gray drawing surface for small diagnostic plots (loss curves, reliability diagrams); 1 = white, 0 = black.
///
/// Drawing only darkens (`set` keeps the minimum of old and new), so overlapping marks never erase each other and
/// the order of drawing does not matter. Coordinates outside the surface are ignored.
public struct PlotCanvas: Sendable {
    public let width: Int, height: Int
    public var pixels: [Float]

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
        pixels = [Float](repeating: 1, count: width * height)
    }

    public mutating func set(_ x: Int, _ y: Int, _ v: Float) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        pixels[y * width + x] = min(pixels[y * width + x], v)
    }

    public mutating func rect(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ v: Float) {
        for x in x0...x1 { set(x, y0, v); set(x, y1, v) }
        for y in y0...y1 { set(x0, y, v); set(x1, y, v) }
    }

    /// Every pixel of the rectangle with corners (x0, y0) and (x1, y1), in either order.
    public mutating func fill(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ v: Float) {
        for y in min(y0, y1)...max(y0, y1) { for x in min(x0, x1)...max(x0, x1) { set(x, y, v) } }
    }

    /// Bresenham's line.
    public mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ v: Float, thick: Bool = false) {
        var x = x0, y = y0
        let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        while true {
            set(x, y, v)
            if thick { set(x, y + 1, v); set(x + 1, y, v) }
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    /// Text in a 3×5 pixel font (digits, letters and a few signs; lower case is drawn as upper case, unknown
    /// characters as a space), each pixel `scale` wide. A character advances `4 * scale` pixels.
    public mutating func text(_ s: String, x: Int, y: Int, scale: Int, value: Float = 0) {
        var cx = x
        for ch in s.uppercased() {
            if let rows = Self.font[ch] {
                for (r, bits) in rows.enumerated() {
                    for c in 0..<3 where bits & (4 >> c) != 0 {
                        for dy in 0..<scale { for dx in 0..<scale { set(cx + c * scale + dx, y + r * scale + dy, value) } }
                    }
                }
            }
            cx += 4 * scale
        }
    }

    /// The width `text` gives `s` at `scale` (the last character's trailing gap included).
    public static func textWidth(_ s: String, scale: Int) -> Int { s.count * 4 * scale }

    /// Rows of three bits, top first (4 = left pixel).
    static let font: [Character: [Int]] = [
        "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7], "4": [5, 5, 7, 1, 1],
        "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 2, 2], "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7],
        ".": [0, 0, 0, 0, 2], "-": [0, 0, 7, 0, 0], "+": [0, 2, 7, 2, 0], "(": [1, 2, 2, 2, 1], ")": [4, 2, 2, 2, 4],
        ":": [0, 2, 0, 2, 0], "%": [5, 1, 2, 4, 5], "=": [0, 7, 0, 7, 0], "/": [1, 1, 2, 4, 4], ",": [0, 0, 0, 2, 4],
        "_": [0, 0, 0, 0, 7],
        "A": [2, 5, 7, 5, 5], "B": [6, 5, 6, 5, 6], "C": [7, 4, 4, 4, 7], "D": [6, 5, 5, 5, 6], "E": [7, 4, 6, 4, 7],
        "F": [7, 4, 6, 4, 4], "G": [7, 4, 5, 5, 7], "H": [5, 5, 7, 5, 5], "I": [7, 2, 2, 2, 7], "J": [1, 1, 1, 5, 7],
        "K": [5, 5, 6, 5, 5], "L": [4, 4, 4, 4, 7], "M": [5, 7, 7, 5, 5], "N": [6, 5, 5, 5, 5], "O": [7, 5, 5, 5, 7],
        "P": [7, 5, 7, 4, 4], "Q": [7, 5, 5, 7, 1], "R": [6, 5, 6, 5, 5], "S": [7, 4, 7, 1, 7], "T": [7, 2, 2, 2, 2],
        "U": [5, 5, 5, 5, 7], "V": [5, 5, 5, 5, 2], "W": [5, 5, 7, 7, 5], "X": [5, 5, 2, 5, 5], "Y": [5, 5, 2, 2, 2],
        "Z": [7, 1, 2, 4, 7],
    ]

    /// The surface as an 8-bit gray image.
    public func image() -> Image { Image(floats: pixels, width: width, height: height, channels: 1) }
}
