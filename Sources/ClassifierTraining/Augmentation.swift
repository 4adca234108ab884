import Core
import Datasets
import Foundation

/// Random changes to a training image that keep its labels: a horizontal flip and a small affine transform.
///
/// Every draw comes from a generator seeded by (run seed, image index, epoch), so an image looks the same each time
/// that epoch visits it, whichever loader thread reads it and whether or not the run was resumed in between, and
/// differently in the next epoch. Applied to the gray plane in [0, 1] before normalisation.
public struct Augmentation: Sendable, Equatable {
    /// Flip left-right with probability 1/2 (torchvision's RandomHorizontalFlip).
    public var flip = false
    /// torchvision's RandomAffine(degrees: 10, translate: (0.05, 0.05), scale: (0.9, 1.1)), bilinear, fill 0.
    public var affine = false
    public var maxRotationDegrees = 10.0
    public var scaleRange = 0.9...1.1
    /// The largest shift, as a fraction of the side.
    public var maxTranslation = 0.05

    public init(flip: Bool = false, affine: Bool = false) {
        self.flip = flip
        self.affine = affine
    }

    /// Parses `flip,affine` (either, both, or `none`).
    public init(parsing text: String) throws {
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) {
            switch item {
            case "flip": flip = true
            case "affine": affine = true
            case "none", "": break
            default: throw AugmentationError("--augment \(text): \"\(item)\" is not an augmentation; use flip, affine or both (flip,affine)")
            }
        }
    }

    public var isIdentity: Bool { !flip && !affine }

    /// The names as `init(parsing:)` reads them (`none` for no augmentation).
    public var description: String {
        let names = [flip ? "flip" : nil, affine ? "affine" : nil].compactMap { $0 }
        return names.isEmpty ? "none" : names.joined(separator: ",")
    }

    /// The parameters drawn for one visit of one image.
    public struct Draw: Sendable, Equatable {
        public var flipped = false
        public var degrees = 0.0, scale = 1.0, shiftX = 0.0, shiftY = 0.0
    }

    /// The draw of image `index` in `epoch` of a run seeded with `seed`.
    public func draw(seed: UInt64, index: Int, epoch: Int) -> Draw {
        var rng = SplitMix64(seed: seed, salt: 0xA06D_E7A1_0000_0000, index: index, epoch: epoch)
        func uniform(_ range: ClosedRange<Double>) -> Double {
            range.lowerBound + Double(rng.next() >> 11) * 0x1p-53 * (range.upperBound - range.lowerBound)
        }
        var d = Draw()
        // Drawn whether or not used, so that turning one augmentation on does not change the other's draws.
        let flipDraw = uniform(0...1)
        let degrees = uniform(-maxRotationDegrees...maxRotationDegrees), scale = uniform(scaleRange)
        let shiftX = uniform(-maxTranslation...maxTranslation), shiftY = uniform(-maxTranslation...maxTranslation)
        if flip { d.flipped = flipDraw < 0.5 }
        if affine { (d.degrees, d.scale, d.shiftX, d.shiftY) = (degrees, scale, shiftX, shiftY) }
        return d
    }

    /// `plane` (side × side, row by row) under the augmentation drawn for (seed, index, epoch).
    public func apply(_ plane: [Float], side: Int, seed: UInt64, index: Int, epoch: Int) -> [Float] {
        guard !isIdentity else { return plane }
        let d = draw(seed: seed, index: index, epoch: epoch)
        var out = affine ? Self.transform(plane, side: side, d) : plane
        if d.flipped {
            for y in 0..<side { out[(y * side)..<(y * side + side)].reverse() }
        }
        return out
    }

    /// Rotation by `degrees` and scaling about the centre, then a shift by (shiftX, shiftY) sides; each output pixel
    /// samples the input bilinearly at the inverse-mapped point, 0 outside.
    static func transform(_ plane: [Float], side: Int, _ d: Draw) -> [Float] {
        let n = Double(side), c = (n - 1) / 2
        let radians = d.degrees * .pi / 180
        let cosA = cos(radians) / d.scale, sinA = sin(radians) / d.scale
        var out = [Float](repeating: 0, count: side * side)
        func pixel(_ x: Int, _ y: Int) -> Double {
            x >= 0 && y >= 0 && x < side && y < side ? Double(plane[y * side + x]) : 0
        }
        for y in 0..<side {
            for x in 0..<side {
                let u = Double(x) - c - d.shiftX * n, v = Double(y) - c - d.shiftY * n
                let sx = cosA * u + sinA * v + c, sy = -sinA * u + cosA * v + c
                let x0 = Int(sx.rounded(.down)), y0 = Int(sy.rounded(.down))
                let fx = sx - Double(x0), fy = sy - Double(y0)
                let top = pixel(x0, y0) * (1 - fx) + pixel(x0 + 1, y0) * fx
                let bottom = pixel(x0, y0 + 1) * (1 - fx) + pixel(x0 + 1, y0 + 1) * fx
                out[y * side + x] = Float(top * (1 - fy) + bottom * fy)
            }
        }
        return out
    }
}

public struct AugmentationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
