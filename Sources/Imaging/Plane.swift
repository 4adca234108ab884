import Foundation

/// A single-channel float image, row-major, values usually in [0, 1]: what masks, gray X-rays and difference
/// maps are made of in image space.
public struct Plane: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var values: [Float]

    public init(width: Int, height: Int, values: [Float]) {
        precondition(values.count == width * height, "Plane: \(values.count) values for \(width)x\(height)")
        self.width = width
        self.height = height
        self.values = values
    }

    public init(width: Int, height: Int, fill: Float = 0) {
        self.init(width: width, height: height, values: Array(repeating: fill, count: width * height))
    }

    /// The gray level of an image (RGB averaged by luminance; alpha ignored).
    public init(gray image: Image) {
        self.init(width: image.width, height: image.height, values: image.grayscale().plane(0))
    }

    public subscript(x: Int, y: Int) -> Float {
        get { values[y * width + x] }
        set { values[y * width + x] = newValue }
    }

    public func image(bitDepth: Int = 8) -> Image { Image(floats: values, width: width, height: height, bitDepth: bitDepth) }

    public func resized(width w: Int, height h: Int) -> Plane {
        if w == width && h == height { return self }
        // Through 16-bit samples: the resampler's quantisation (1/65535) is far below what masks and edits need.
        let img = Image(floats: values.map { min(max($0, 0), 1) }, width: width, height: height, bitDepth: 16)
        return Plane(width: w, height: h, values: img.resized(width: w, height: h).plane(0))
    }

    /// 1 where the value is above `threshold`, else 0.
    public func thresholded(_ threshold: Float) -> Plane {
        Plane(width: width, height: height, values: values.map { $0 > threshold ? 1 : 0 })
    }

    /// The largest value within `radius` pixels (a square window), as max-pooling with stride 1.
    public func dilated(radius: Int) -> Plane {
        guard radius > 0 else { return self }
        return separable(radius) { window in window.max() ?? 0 }
    }

    /// The mean over a (2·radius+1)² box, edges clamped.
    public func boxBlurred(radius: Int) -> Plane {
        guard radius > 0 else { return self }
        return separable(radius) { window in window.reduce(0, +) / Float(window.count) }
    }

    func separable(_ radius: Int, _ reduce: (ArraySlice<Float>) -> Float) -> Plane {
        var rows = values
        for y in 0..<height {
            let row = Array(values[(y * width)..<((y + 1) * width)])
            for x in 0..<width {
                rows[y * width + x] = reduce(row[max(0, x - radius)...min(width - 1, x + radius)])
            }
        }
        var out = rows
        for x in 0..<width {
            let column = (0..<height).map { rows[$0 * width + x] }
            for y in 0..<height {
                out[y * width + x] = reduce(column[max(0, y - radius)...min(height - 1, y + radius)])
            }
        }
        return Plane(width: width, height: height, values: out)
    }

    /// The fraction of pixels above 0.5.
    public var area: Double { Double(values.filter { $0 > 0.5 }.count) / Double(values.count) }

    /// Planes of one size laid out in rows and columns, `gap` pixels apart on a background of `fill`: contact sheets
    /// and figures.
    public static func grid(_ rows: [[Plane]], gap: Int = 0, fill: Float = 1) -> Plane {
        let w = rows[0][0].width, h = rows[0][0].height
        let columns = rows.map(\.count).max() ?? 0
        var sheet = Plane(width: columns * (w + gap) - gap, height: rows.count * (h + gap) - gap, fill: fill)
        for (r, row) in rows.enumerated() {
            for (c, plane) in row.enumerated() {
                precondition(plane.width == w && plane.height == h, "Plane.grid: planes of different sizes")
                for y in 0..<h {
                    for x in 0..<w { sheet[c * (w + gap) + x, r * (h + gap) + y] = plane[x, y] }
                }
            }
        }
        return sheet
    }

    public static func intersection(_ a: Plane, _ b: Plane) -> Plane {
        precondition(a.width == b.width && a.height == b.height)
        return Plane(width: a.width, height: a.height, values: zip(a.values, b.values).map { min($0, $1) })
    }

    public static func union(_ a: Plane, _ b: Plane) -> Plane {
        precondition(a.width == b.width && a.height == b.height)
        return Plane(width: a.width, height: a.height, values: zip(a.values, b.values).map { max($0, $1) })
    }
}

/// Putting an edit back into the input outside its mask.
public enum PixelBlend {
    /// A soft mask that is 1 inside `mask`, falls off over `feather` pixels outside it, and is exactly 0 beyond:
    /// blending with it changes nothing further than `feather` pixels from the mask.
    public static func feathered(_ mask: Plane, feather: Int) -> Plane {
        let binary = mask.thresholded(0.5)
        guard feather > 0 else { return binary }
        let soft = binary.dilated(radius: feather / 2).boxBlurred(radius: (feather + 1) / 2)
        return Plane(width: mask.width, height: mask.height, values: zip(soft.values, binary.values).map { max($0, $1) })
    }

    /// input + weight · (edit − input), pixel by pixel.
    public static func blend(input: Plane, edit: Plane, weight: Plane) -> Plane {
        precondition(input.values.count == edit.values.count && edit.values.count == weight.values.count)
        var out = input.values
        for i in out.indices { out[i] = input.values[i] + weight.values[i] * (edit.values[i] - input.values[i]) }
        return Plane(width: input.width, height: input.height, values: out)
    }
}

/// Pictures a person can read.
public enum Visualize {
    /// The signed change `after − before` in diverging colours over the gray X-ray: red where the edit
    /// brightened, blue where it darkened, the X-ray itself where nothing changed. `scale` is the change shown
    /// at full colour (the largest absolute change when nil).
    public static func difference(before: Plane, after: Plane, scale: Float? = nil) -> Image {
        precondition(before.values.count == after.values.count)
        let diffs = zip(after.values, before.values).map { $0 - $1 }
        let s = max(scale ?? (diffs.map(abs).max() ?? 0), 1e-6)
        var rgb = [Float](repeating: 0, count: diffs.count * 3)
        for (i, d) in diffs.enumerated() {
            let base = 0.35 * before.values[i] + 0.1
            let t = min(abs(d) / s, 1)
            let colour: (Float, Float, Float) = d >= 0 ? (1, 0.25, 0.15) : (0.15, 0.45, 1)
            rgb[3 * i] = base * (1 - t) + colour.0 * t
            rgb[3 * i + 1] = base * (1 - t) + colour.1 * t
            rgb[3 * i + 2] = base * (1 - t) + colour.2 * t
        }
        return Image(floats: rgb, width: before.width, height: before.height, channels: 3)
    }

    /// The mask as a translucent yellow overlay on the X-ray, with its edge drawn.
    public static func mask(_ mask: Plane, over image: Plane) -> Image {
        precondition(mask.values.count == image.values.count)
        let edge = Plane(width: mask.width, height: mask.height,
                         values: zip(mask.thresholded(0.5).dilated(radius: 1).values, mask.thresholded(0.5).values).map { $0 - $1 })
        var rgb = [Float](repeating: 0, count: image.values.count * 3)
        for i in image.values.indices {
            let g = image.values[i], m = min(max(mask.values[i], 0), 1) * 0.45
            var c = (g * (1 - m) + m, g * (1 - m) + 0.85 * m, g * (1 - m))
            if edge.values[i] > 0 { c = (1, 0.85, 0) }
            rgb[3 * i] = c.0
            rgb[3 * i + 1] = c.1
            rgb[3 * i + 2] = c.2
        }
        return Image(floats: rgb, width: image.width, height: image.height, channels: 3)
    }
}
