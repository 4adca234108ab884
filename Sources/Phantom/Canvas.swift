/// The structures whose footprints the renderer can report as masks.
public enum Structure: String, CaseIterable, Codable, Sendable {
    case lungs, heart, effusion, pacemaker
    case endotrachealTube = "endotracheal_tube"
    case centralVenousCatheter = "central_venous_catheter"
    case nasogastricTube = "nasogastric_tube"
}

/// A point in the patient frame (fractions of the image side, `u` right, `v` down as displayed).
struct P { var u: Float; var v: Float; init(_ u: Float, _ v: Float) { self.u = u; self.v = v } }

/// Cubic Bézier through `a` ... `d`, sampled at `n + 1` points.
func bezier(_ a: P, _ b: P, _ c: P, _ d: P, _ n: Int = 16) -> [P] {
    (0...n).map { i in
        let t = Float(i) / Float(n), s = 1 - t
        let w0 = s * s * s, w1 = 3 * s * s * t, w2 = 3 * s * t * t, w3 = t * t * t
        return P(w0 * a.u + w1 * b.u + w2 * c.u + w3 * d.u, w0 * a.v + w1 * b.v + w2 * c.v + w3 * d.v)
    }
}

@inline(__always) func smoothstep(_ e0: Float, _ e1: Float, _ x: Float) -> Float {
    let t = min(max((x - e0) / (e1 - e0), 0), 1)
    return t * t * (3 - 2 * t)
}

@inline(__always) func clamp01(_ x: Float) -> Float { min(max(x, 0), 1) }

/// Radiographic line-integral ("density") accumulation buffer in pixel space, with the patient-frame
/// coordinates of every pixel precomputed through the acquisition's rotation and shift.
///
/// Every drawing call adds a non-negative-or-negative contribution that is exactly zero outside the
/// structure's support, and records that support in the structure's mask. Because `x + 0` is exactly `x`,
/// two renderings that differ in one structure differ only inside its support: the basis of the
/// counterfactual guarantee.
struct Canvas {
    let n: Int
    let size: Float
    var density: [Float]
    var scratch: [Float]
    /// A second accumulation buffer for structures composited later through a coverage (lung vessels).
    var layer: [Float]
    var u: [Float]
    var v: [Float]
    let cosR: Float, sinR: Float, shiftU: Float, shiftV: Float
    var masks: [Structure: [Bool]]?

    init(size n: Int, rotation: Double, shiftU: Double, shiftV: Double, collectMasks: Bool) {
        self.n = n
        size = Float(n)
        density = [Float](repeating: 0, count: n * n)
        scratch = [Float](repeating: 0, count: n * n)
        layer = [Float](repeating: 0, count: n * n)
        cosR = Float(DMath.cos(rotation)); sinR = Float(DMath.sin(rotation))
        self.shiftU = Float(shiftU); self.shiftV = Float(shiftV)
        u = [Float](repeating: 0, count: n * n)
        v = [Float](repeating: 0, count: n * n)
        let s = Float(n)
        for y in 0..<n {
            for x in 0..<n {
                let a = (Float(x) + 0.5) / s - 0.5 - self.shiftU
                let b = (Float(y) + 0.5) / s - 0.5 - self.shiftV
                u[y * n + x] = 0.5 + cosR * a + sinR * b
                v[y * n + x] = 0.5 - sinR * a + cosR * b
            }
        }
        masks = collectMasks ? [:] : nil
    }

    /// Patient frame → pixel coordinates (pixel centres at integer + 0.5 ... expressed as index space).
    @inline(__always) func toPixel(_ p: P) -> (Float, Float) {
        let a = p.u - 0.5, b = p.v - 0.5
        let x = 0.5 + cosR * a - sinR * b + shiftU
        let y = 0.5 + sinR * a + cosR * b + shiftV
        return (x * size - 0.5, y * size - 0.5)
    }

    /// Pixel bounding box (inclusive ranges, clipped) of a patient-frame rectangle.
    func box(_ u0: Float, _ v0: Float, _ u1: Float, _ v1: Float) -> (ClosedRange<Int>, ClosedRange<Int>)? {
        let corners = [P(u0, v0), P(u1, v0), P(u0, v1), P(u1, v1)].map(toPixel)
        let xs = corners.map(\.0), ys = corners.map(\.1)
        let x0 = max(Int((xs.min()! - 2).rounded(.down)), 0), x1 = min(Int((xs.max()! + 2).rounded(.up)), n - 1)
        let y0 = max(Int((ys.min()! - 2).rounded(.down)), 0), y1 = min(Int((ys.max()! + 2).rounded(.up)), n - 1)
        guard x0 <= x1, y0 <= y1 else { return nil }
        return (x0...x1, y0...y1)
    }

    mutating func mark(_ s: Structure?, _ i: Int) {
        guard let s, masks != nil else { return }
        if masks![s] == nil { masks![s] = [Bool](repeating: false, count: n * n) }
        masks![s]![i] = true
    }

    /// Adds `f(u, v)` over the pixels of a patient-frame box; non-zero values mark the structure.
    @inline(__always)
    mutating func fill(_ u0: Float, _ v0: Float, _ u1: Float, _ v1: Float, _ structure: Structure? = nil,
                       _ f: (Float, Float) -> Float) {
        guard let (xs, ys) = box(u0, v0, u1, v1) else { return }
        let n = self.n
        var touched: [Int] = []
        u.withUnsafeBufferPointer { U in
            v.withUnsafeBufferPointer { V in
                density.withUnsafeMutableBufferPointer { D in
                    for y in ys {
                        for x in xs {
                            let i = y * n + x
                            let c = f(U[i], V[i])
                            if c != 0 {
                                D[i] += c
                                if structure != nil { touched.append(i) }
                            }
                        }
                    }
                }
            }
        }
        if masks != nil, let structure {
            for i in touched { mark(structure, i) }
        }
    }

    enum Profile {
        /// A solid cylinder seen side on: thickness sqrt(1 - q²).
        case solid
        /// A hollow bone: outer cylinder minus `fill` of an inner one of relative radius `inner`, which
        /// gives the bright cortical rims of ribs.
        case bone(inner: Float, fill: Float)
    }

    /// Strokes a polyline of radius `radius` (patient units) into the scratch buffer (max over segments,
    /// so joints do not double), then adds `weight` × profile to the density (or to `layer`).
    mutating func stroke(_ points: [P], radius: Float, weight: Float, profile: Profile = .solid,
                         structure: Structure? = nil, toLayer: Bool = false) {
        guard points.count >= 2 else { return }
        var r = radius * size
        var w = weight
        if r < 1 { w *= r; r = 1 }   // thin lines: keep the integrated density, draw at one pixel
        let px = points.map(toPixel)
        var minX = n, maxX = -1, minY = n, maxY = -1
        let n = self.n
        scratch.withUnsafeMutableBufferPointer { S in
            for k in 0..<(px.count - 1) {
                let (ax, ay) = px[k], (bx, by) = px[k + 1]
                let x0 = max(Int((min(ax, bx) - r - 1).rounded(.down)), 0)
                let x1 = min(Int((max(ax, bx) + r + 1).rounded(.up)), n - 1)
                let y0 = max(Int((min(ay, by) - r - 1).rounded(.down)), 0)
                let y1 = min(Int((max(ay, by) + r + 1).rounded(.up)), n - 1)
                if x0 > x1 || y0 > y1 { continue }
                minX = min(minX, x0); maxX = max(maxX, x1); minY = min(minY, y0); maxY = max(maxY, y1)
                let dx = bx - ax, dy = by - ay
                let len2 = dx * dx + dy * dy
                for y in y0...y1 {
                    for x in x0...x1 {
                        let qx = Float(x) - ax, qy = Float(y) - ay
                        var t = len2 > 0 ? (qx * dx + qy * dy) / len2 : 0
                        t = min(max(t, 0), 1)
                        let ex = qx - t * dx, ey = qy - t * dy
                        let q2 = (ex * ex + ey * ey) / (r * r)
                        if q2 >= 1 { continue }
                        let val: Float
                        switch profile {
                        case .solid: val = (1 - q2).squareRoot()
                        case let .bone(inner, fillFraction):
                            let i2 = inner * inner
                            val = (1 - q2).squareRoot() - (q2 < i2 ? fillFraction * (i2 - q2).squareRoot() : 0)
                        }
                        let i = y * n + x
                        if val > S[i] { S[i] = val }
                    }
                }
            }
        }
        guard maxX >= minX, maxY >= minY else { return }
        for y in minY...maxY {
            for x in minX...maxX {
                let i = y * n + x
                let s = scratch[i]
                if s != 0 {
                    if toLayer { layer[i] += w * s } else { density[i] += w * s }
                    mark(structure, i)
                    scratch[i] = 0
                }
            }
        }
    }

    /// A [1 2 1]/4 binomial blur of the density in both directions: the unsharpness of a real detector
    /// (focal spot, scatter, the downscaling of a 3000-pixel film). Each mask grows by the blur's one-pixel
    /// reach, so a structure's mask still contains every pixel it can change.
    mutating func blur() {
        let n = self.n
        var tmp = [Float](repeating: 0, count: n * n)
        density.withUnsafeBufferPointer { D in
            tmp.withUnsafeMutableBufferPointer { T in
                for y in 0..<n {
                    let row = y * n
                    for x in 0..<n {
                        let l = D[row + max(x - 1, 0)], r = D[row + min(x + 1, n - 1)]
                        T[row + x] = (l + 2 * D[row + x] + r) * 0.25
                    }
                }
            }
        }
        tmp.withUnsafeBufferPointer { T in
            density.withUnsafeMutableBufferPointer { D in
                for y in 0..<n {
                    let up = max(y - 1, 0) * n, down = min(y + 1, n - 1) * n, row = y * n
                    for x in 0..<n { D[row + x] = (T[up + x] + 2 * T[row + x] + T[down + x]) * 0.25 }
                }
            }
        }
        guard let current = masks else { return }
        var grown: [Structure: [Bool]] = [:]
        for (s, m) in current {
            var g = m
            for y in 0..<n {
                for x in 0..<n where m[y * n + x] {
                    for yy in max(y - 1, 0)...min(y + 1, n - 1) {
                        for xx in max(x - 1, 0)...min(x + 1, n - 1) { g[yy * n + xx] = true }
                    }
                }
            }
            grown[s] = g
        }
        masks = grown
    }
}
