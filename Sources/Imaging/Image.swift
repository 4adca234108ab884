/// A raster image with interleaved 8- or 16-bit samples.
///
/// - `channels`: 1 = gray, 2 = gray + alpha, 3 = RGB, 4 = RGBA (the PNG colour models).
/// - `bitDepth`: 8 or 16. Every sample is stored as `UInt16` whatever the depth, so that one code path
///   serves both; an 8-bit image holds values 0...255, a 16-bit one 0...65535.
/// - `samples`: row-major, interleaved (`samples[(y * width + x) * channels + c]`), top row first.
///
/// Float conversions map the full sample range to [0, 1] (`value / maxValue`), so an 8-bit and a 16-bit
/// version of the same picture give the same floats up to quantisation.
public struct Image: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public let bitDepth: Int
    public var samples: [UInt16]

    /// Creates an image from samples; traps on inconsistent sizes (a programming error, not a user one).
    public init(width: Int, height: Int, channels: Int, bitDepth: Int = 8, samples: [UInt16]) {
        precondition(width > 0 && height > 0, "Image: size \(width)x\(height) must be positive")
        precondition((1...4).contains(channels), "Image: channels must be 1...4, got \(channels)")
        precondition(bitDepth == 8 || bitDepth == 16, "Image: bit depth must be 8 or 16, got \(bitDepth)")
        precondition(samples.count == width * height * channels,
                     "Image: \(samples.count) samples for \(width)x\(height)x\(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.bitDepth = bitDepth
        self.samples = samples
    }

    /// A black (and, with alpha, opaque) image.
    public init(width: Int, height: Int, channels: Int = 1, bitDepth: Int = 8) {
        var s = [UInt16](repeating: 0, count: width * height * channels)
        if channels == 2 || channels == 4 {
            let m = UInt16(bitDepth == 16 ? 65535 : 255)
            for i in stride(from: channels - 1, to: s.count, by: channels) { s[i] = m }
        }
        self.init(width: width, height: height, channels: channels, bitDepth: bitDepth, samples: s)
    }

    /// The most pixels the PNG and JPEG decoders accept (8192 x 8192; X-rays are at most about 4300 x 3500). A file's
    /// header can claim up to 65535 x 65535 in a few bytes: decoding that would allocate tens of gigabytes.
    public static let maxDecodedPixels = 1 << 26

    /// The largest sample value at this bit depth (255 or 65535).
    public var maxValue: Int { bitDepth == 16 ? 65535 : 255 }
    public var hasAlpha: Bool { channels == 2 || channels == 4 }
    public var pixelCount: Int { width * height }

    public subscript(x: Int, y: Int, channel: Int) -> UInt16 {
        get { samples[(y * width + x) * channels + channel] }
        set { samples[(y * width + x) * channels + channel] = newValue }
    }
}

// MARK: - Float conversion

extension Image {
    /// Samples as floats in [0, 1], interleaved like `samples`.
    public func floats() -> [Float] {
        let scale = 1 / Float(maxValue)
        return samples.map { Float($0) * scale }
    }

    /// One channel as a plane of floats in [0, 1] (row-major, `width * height` values).
    public func plane(_ channel: Int) -> [Float] {
        precondition(channel >= 0 && channel < channels, "Image.plane: channel \(channel) of \(channels)")
        let scale = 1 / Float(maxValue)
        var out = [Float](repeating: 0, count: pixelCount)
        for i in 0..<pixelCount { out[i] = Float(samples[i * channels + channel]) * scale }
        return out
    }

    /// An image from interleaved floats in [0, 1]; values are clamped and rounded to the nearest sample.
    /// NaN maps to 0.
    public init(floats: [Float], width: Int, height: Int, channels: Int = 1, bitDepth: Int = 8) {
        precondition(floats.count == width * height * channels,
                     "Image(floats:): \(floats.count) values for \(width)x\(height)x\(channels)")
        let m = Float(bitDepth == 16 ? 65535 : 255)
        let s = floats.map { v -> UInt16 in
            guard v > 0 else { return 0 }   // also catches NaN
            return v >= 1 ? UInt16(m) : UInt16((v * m).rounded())
        }
        self.init(width: width, height: height, channels: channels, bitDepth: bitDepth, samples: s)
    }
}

// MARK: - Channel and depth conversion

extension Image {
    /// One gray channel. RGB uses the Rec. 601 luma weights (0.299, 0.587, 0.114) in exact integer
    /// arithmetic; alpha is dropped (X-ray PNGs with alpha are opaque).
    public func grayscale() -> Image {
        switch channels {
        case 1: return self
        case 2:
            return Image(width: width, height: height, channels: 1, bitDepth: bitDepth,
                         samples: (0..<pixelCount).map { samples[$0 * 2] })
        default:
            var out = [UInt16](repeating: 0, count: pixelCount)
            samples.withUnsafeBufferPointer { s in
                for i in 0..<pixelCount {
                    let b = i * channels
                    let v = 299 * UInt32(s[b]) + 587 * UInt32(s[b + 1]) + 114 * UInt32(s[b + 2])
                    out[i] = UInt16((v + 500) / 1000)
                }
            }
            return Image(width: width, height: height, channels: 1, bitDepth: bitDepth, samples: out)
        }
    }

    /// Three channels (RGB): gray is replicated, alpha dropped.
    public func rgb() -> Image {
        if channels == 3 { return self }
        var out = [UInt16](repeating: 0, count: pixelCount * 3)
        for i in 0..<pixelCount {
            let b = i * channels
            if channels <= 2 {
                let v = samples[b]
                out[i * 3] = v; out[i * 3 + 1] = v; out[i * 3 + 2] = v
            } else {
                out[i * 3] = samples[b]; out[i * 3 + 1] = samples[b + 1]; out[i * 3 + 2] = samples[b + 2]
            }
        }
        return Image(width: width, height: height, channels: 3, bitDepth: bitDepth, samples: out)
    }

    /// The same picture at another bit depth (8 ↔ 16). 8 → 16 multiplies by 257 (so 255 → 65535), 16 → 8
    /// rounds to nearest.
    public func converted(toBitDepth depth: Int) -> Image {
        precondition(depth == 8 || depth == 16, "Image.converted: bit depth must be 8 or 16")
        if depth == bitDepth { return self }
        let s: [UInt16] = depth == 16
            ? samples.map { $0 &* 257 }
            : samples.map { UInt16((UInt32($0) * 255 + 32767) / 65535) }
        return Image(width: width, height: height, channels: channels, bitDepth: depth, samples: s)
    }
}

// MARK: - Resize

extension Image {
    /// Resamples to `width` x `height`. Along each axis that shrinks, each output sample is the exact area
    /// average of the input samples it covers (box filter with fractional edges: no aliasing when
    /// downscaling X-rays); along an axis that grows, it is linear interpolation between pixel centres.
    /// Channels, including alpha, are resampled independently.
    public func resized(width newWidth: Int, height newHeight: Int) -> Image {
        precondition(newWidth > 0 && newHeight > 0, "Image.resized: size must be positive")
        if newWidth == width && newHeight == height { return self }
        let xTaps = Self.resampleTaps(from: width, to: newWidth)
        let yTaps = Self.resampleTaps(from: height, to: newHeight)
        // Horizontal pass into floats, then vertical.
        var tmp = [Float](repeating: 0, count: newWidth * height * channels)
        samples.withUnsafeBufferPointer { src in
            tmp.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    let row = y * width * channels
                    for (ox, taps) in xTaps.enumerated() {
                        for c in 0..<channels {
                            var acc: Float = 0
                            for t in taps { acc += t.weight * Float(src[row + t.index * channels + c]) }
                            dst[(y * newWidth + ox) * channels + c] = acc
                        }
                    }
                }
            }
        }
        let m = Float(maxValue)
        var out = [UInt16](repeating: 0, count: newWidth * newHeight * channels)
        let rowLen = newWidth * channels
        tmp.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for (oy, taps) in yTaps.enumerated() {
                    for i in 0..<rowLen {
                        var acc: Float = 0
                        for t in taps { acc += t.weight * src[t.index * rowLen + i] }
                        dst[oy * rowLen + i] = UInt16(min(max(acc.rounded(), 0), m))
                    }
                }
            }
        }
        return Image(width: newWidth, height: newHeight, channels: channels, bitDepth: bitDepth, samples: out)
    }

    struct Tap { var index: Int; var weight: Float }

    /// Input taps and weights (summing to 1) for each output index along one axis.
    static func resampleTaps(from n: Int, to m: Int) -> [[Tap]] {
        let scale = Double(n) / Double(m)
        return (0..<m).map { o in
            if m < n {
                // Area: output pixel o covers the input interval [o*scale, (o+1)*scale).
                let lo = Double(o) * scale, hi = Double(o + 1) * scale
                var taps: [Tap] = []
                var i = Int(lo)
                while Double(i) < hi && i < n {
                    let w = min(hi, Double(i + 1)) - max(lo, Double(i))
                    if w > 1e-12 { taps.append(Tap(index: i, weight: Float(w / scale))) }
                    i += 1
                }
                return taps
            } else {
                // Linear between pixel centres, edges clamped.
                let p = (Double(o) + 0.5) * scale - 0.5
                let i0 = Int(p.rounded(.down)), f = p - Double(i0)
                let a = min(max(i0, 0), n - 1), b = min(max(i0 + 1, 0), n - 1)
                if a == b || f == 0 { return [Tap(index: a, weight: 1)] }
                return [Tap(index: a, weight: Float(1 - f)), Tap(index: b, weight: Float(f))]
            }
        }
    }
}
