extension Image {
    /// The region `width`×`height` at (x, y), which must lie inside the image.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> Image {
        precondition(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= width && y + h <= height,
                     "Image.cropped: \(w)x\(h) at (\(x), \(y)) is outside \(width)x\(height)")
        var out = [UInt16](repeating: 0, count: w * h * channels)
        for row in 0..<h {
            let src = ((y + row) * width + x) * channels
            out.replaceSubrange(row * w * channels..<(row + 1) * w * channels, with: samples[src..<(src + w * channels)])
        }
        return Image(width: w, height: h, channels: channels, bitDepth: bitDepth, samples: out)
    }

    /// The largest centred square.
    public func centerSquare() -> Image {
        let side = min(width, height)
        return cropped(x: (width - side) / 2, y: (height - side) / 2, width: side, height: side)
    }
}
