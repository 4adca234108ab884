/// Burned-in text in a corner (laterality marker, "PORTABLE" ...): drawn in the image frame, after
/// rotation, at full brightness, like the lead letters and printed labels on real films. Editors often
/// smear it, so it is part of the phantom on purpose.
enum Marker {
    /// 5x7 glyphs, one string of 7 rows of 5 bits each.
    static let glyphs: [Character: [UInt8]] = [
        "A": [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        "B": [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        "E": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        "G": [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        "H": [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        "I": [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        "L": [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        "O": [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        "P": [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        "R": [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        "T": [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        "U": [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
    ]

    static func draw(_ text: String, corner: Int, scale: Float, into values: inout [Float], size n: Int) {
        // Single letters are lead markers (large); words are printed labels (small).
        let cell = max(1, Int((scale * Float(n) * (text.count == 1 ? 1.15 : 0.6)).rounded()))
        let chars = Array(text)
        let width = chars.count * 6 * cell - cell, height = 7 * cell
        let margin = max(2, n / 32)
        let x0 = corner % 2 == 0 ? margin : n - margin - width
        let y0 = corner < 2 ? margin : n - margin - height
        guard x0 >= 0, y0 >= 0, x0 + width <= n, y0 + height <= n else { return }
        for (k, ch) in chars.enumerated() {
            guard let rows = glyphs[ch] else { continue }
            for (ry, bits) in rows.enumerated() {
                for rx in 0..<5 where bits & (0x10 >> UInt8(rx)) != 0 {
                    for dy in 0..<cell {
                        for dx in 0..<cell {
                            values[(y0 + ry * cell + dy) * n + x0 + (k * 6 + rx) * cell + dx] = 0.96
                        }
                    }
                }
            }
        }
    }
}
