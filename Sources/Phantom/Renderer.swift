import Core
import Imaging

/// One rendered phantom: the image and, on request, the support of each structure.
public struct Rendering: Sendable {
    public var image: Image
    /// Pixels where the structure contributes (row-major, `size * size`); only structures that are
    /// present appear. Empty unless masks were requested.
    public var masks: [Structure: [Bool]]

    /// A structure's mask as an 8-bit image (255 inside), all zero when the structure is absent.
    public func maskImage(_ s: Structure) -> Image {
        let m = masks[s] ?? [Bool](repeating: false, count: image.pixelCount)
        return Image(width: image.width, height: image.height, channels: 1, samples: m.map { $0 ? 255 : 0 })
    }
}

/// Pixels that differ between two renderings of the same size, as an 8-bit mask (255 where different).
public func changeMask(_ a: Image, _ b: Image) -> Image {
    precondition(a.width == b.width && a.height == b.height && a.channels == b.channels, "changeMask: sizes differ")
    let c = a.channels
    var out = [UInt16](repeating: 0, count: a.pixelCount)
    for i in 0..<a.pixelCount {
        for k in 0..<c where a.samples[i * c + k] != b.samples[i * c + k] { out[i] = 255 }
    }
    return Image(width: a.width, height: a.height, channels: 1, samples: out)
}

/// Renders a phantom chest X-ray from its exogenous anatomy and its attributes. The result is a
/// deterministic function of (anatomy, attributes, parameters, size, bit depth): no hidden randomness, no
/// platform math (see DeterministicMath.swift), so a counterfactual differs from its factual only where a
/// changed attribute acts.
public enum PhantomRenderer {
    public static func render(_ anatomy: Anatomy, _ attributes: Attributes, parameters: SCMParameters = SCMParameters(),
                              size: Int = 256, bitDepth: Int = 8, masks: Bool = false) -> Rendering {
        precondition(size >= 16 && size <= 4096, "PhantomRenderer: size \(size) out of range")
        var r = Drawing(a: anatomy, x: attributes, p: parameters, size: size, masks: masks)
        r.draw()
        // The detector's unsharpness scales with the image: one pass per 160 pixels of side.
        for _ in 0..<max(1, size / 160) { r.canvas.blur() }
        let values = r.tone()
        return Rendering(image: Image(floats: values, width: size, height: size, channels: 1, bitDepth: bitDepth),
                         masks: r.canvas.masks ?? [:])
    }
}

private struct Drawing {
    let a: Anatomy
    let x: Attributes
    let p: SCMParameters
    var canvas: Canvas
    // Frequently used geometry, in Float.
    let mid: Float, halfW: Float, apexV: Float, apexOff: Float, medial: Float
    let domeR: Float, domeL: Float, domeCurv: Float, domePeak: Float
    let edge: Float
    let bone: Float
    var lungCoverage: [Float]

    init(a: Anatomy, x: Attributes, p: SCMParameters, size: Int, masks: Bool) {
        self.a = a; self.x = x; self.p = p
        canvas = Canvas(size: size, rotation: a.rotation, shiftU: a.shiftU, shiftV: a.shiftV, collectMasks: masks)
        mid = Float(a.midline)
        // sex → habitus.
        halfW = Float(a.thoraxHalfWidth * (x.sex == .female ? p.femaleThoraxScale : 1))
        let h = Float(a.thoraxHeight)
        apexV = Float(a.apexV)
        apexOff = Float(a.apexOffset) * halfW / 0.355
        medial = Float(a.medialHalfWidth)
        domeR = apexV + (Float(a.domeRightV) - apexV) * h
        domeL = domeR + Float(a.domeLeftDrop)
        domeCurv = Float(a.domeCurvature)
        domePeak = Float(a.domePeak)
        edge = 1.3 / Float(size)
        // Bone mineral density falls with age (the age → bone-contrast mechanism of the anatomy).
        let age = Float(x.age)
        bone = Float(a.boneDensity) * (1.12 - 0.45 * clamp01((age - 25) / 65))
        lungCoverage = [Float](repeating: 0, count: size * size)
    }

    // MARK: Lung geometry (side s: -1 = image left = patient right, +1 = image right = patient left)

    var g: LungGeometry { LungGeometry(halfW: halfW, apexV: apexV, apexOff: apexOff, medial: medial, domeR: domeR, domeL: domeL, domeCurv: domeCurv, domePeak: domePeak) }
    func dome(_ s: Float) -> Float { g.dome(s) }
    func tOf(_ v: Float, _ s: Float) -> Float { g.tOf(v, s) }
    func outer(_ t: Float) -> Float { g.outer(t) }
    func inner(_ t: Float) -> Float { g.inner(t) }
    func domeV(_ d: Float, _ s: Float) -> Float { g.domeV(d, s) }

    // MARK: Drawing

    mutating func draw() {
        body()
        lungs()
        vessels()
        mediastinum()
        abdomen()
        spine()
        ribs()
        clavicles()
        scapulae()
        if x.sex == .female { breasts() }
        heart()
        if x.effusion != .none { effusion() }
        if x.pacemaker { pacemaker() }
        if x.endotrachealTube { endotrachealTube() }
        if x.centralVenousCatheter { centralLine() }
        if x.nasogastricTube { nasogastricTube() }
    }

    mutating func body() {
        let mid = self.mid, halfW = self.halfW
        let bodyHalf0 = halfW + Float(a.bodyMargin)
        let neck = Float(a.neckHalfWidth), shoulder = Float(a.shoulderV), depth = Float(a.bodyDepth)
        let arms = Float(a.armsVisible)
        canvas.fill(-0.2, -0.2, 1.2, 1.2) { u, v in
            let d = abs(u - mid)
            // The chest wall bulges at the lower ribs and narrows towards the waist.
            let bodyHalf = bodyWidth(bodyHalf0, v)
            let inTorso = torsoCoverage(d, v, bodyHalf: bodyHalf, neck: neck, shoulder: shoulder)
            let q = min(d / bodyHalf, 1)
            var t = inTorso * depth * (0.55 + 0.45 * (1 - q * q).squareRoot()) * 1.35
            if arms > 0 {
                // Upper arm beside the chest wall, its top rounded over the humeral head.
                let armC = bodyHalf0 + 0.07, armHalf: Float = 0.08
                let e = abs(d - armC) / armHalf
                if e < 1 { t += arms * 0.8 * (1 - e * e).squareRoot() * smoothstep(0, 0.06, v - shoulder - 0.05 - 0.05 * e * e) }
            }
            return t
        }
    }

    mutating func lungs() {
        for s: Float in [-1, 1] {
            let mid = self.mid, edge = self.edge, air = Float(a.lungAir)
            let lo = s < 0 ? mid - halfW - 0.02 : mid, hi = s < 0 ? mid : mid + halfW + 0.02
            let bottom = dome(s) + domeCurv * halfW * halfW + 0.02
            let seed = a.textureSeed, g = self.g
            let hx = mid + s * (medial + 0.05), hy = Float(a.hilumV)
            var cov = lungCoverage
            let n = canvas.n
            canvas.fill(lo, apexV - 0.01, hi, bottom, .lungs) { u, v in
                let d = (u - mid) * s
                if d <= 0 { return 0 }
                let t = g.tOf(v, s)
                let i0 = g.inner(t), o0 = g.outer(t)
                // The medial border fades (mediastinal fat, the retrocardiac lung): no hard line
                // runs through the heart.
                let e = min(o0 - d, min(g.domeV(d, s), g.diaphragmV(u - mid) + 0.01) - v)
                let c = smoothstep(0, edge * 2, e) * smoothstep(0, 0.07, d - i0)
                if c == 0 { return 0 }
                let q = clamp01((d - i0) / max(o0 - i0, 1e-4))
                let across = 0.72 + 0.28 * (4 * q * (1 - q)).squareRoot()
                let down = (0.75 + 0.3 * smoothstep(0, 0.5, t)) * (1 - 0.15 * smoothstep(0.7, 1.05, t))
                let hd = ((u - hx) * (u - hx) + (v - hy) * (v - hy)).squareRoot()
                let hilar: Float = 0.72 + 0.28 * smoothstep(0.02, 0.24, hd)
                let tex = hilar - 0.12 * valueNoise(u * 12, v * 12, seed &+ 3) - 0.1 * valueNoise(u * 30, v * 30, seed)
                    - 0.08 * valueNoise(u * 70, v * 70, seed &+ 7) - 0.06 * valueNoise(u * 140, v * 140, seed &+ 9)
                return -air * 1.05 * c * across * down * tex
            }
            // Remember the coverage for compositing vessels (recomputed cheaply from the same formula).
            let us = canvas.u, vs = canvas.v
            if let (xs, ys) = canvas.box(lo, apexV - 0.01, hi, bottom) {
                for yy in ys {
                    for xx in xs {
                        let i = yy * n + xx
                        let d = (us[i] - mid) * s
                        if d <= 0 { continue }
                        let t = tOf(vs[i], s)
                        let e = min(outer(t) - d, min(domeV(d, s), g.diaphragmV(us[i] - mid) + 0.01) - vs[i])
                        cov[i] = max(cov[i], smoothstep(0, edge * 2, e) * smoothstep(0, 0.07, d - inner(t)))
                    }
                }
            }
            lungCoverage = cov
        }
    }

    /// Pulmonary vessels: a branching tree from each hilum, composited through the lung coverage so that
    /// they show only over aerated lung.
    mutating func vessels() {
        var rng = SplitMix64(seed: UInt64(a.vesselSeed))
        for s: Float in [-1, 1] {
            let hilum = P(mid + s * (medial + 0.05), Float(a.hilumV) + (s > 0 ? 0.015 : 0))
            let count = 8
            for k in 0..<count {
                // Fan from up-and-out to down-and-out.
                let base = -1.25 + 2.35 * (Double(k) + rng.uniform(0.2, 0.8)) / Double(count)
                let root = P(hilum.u + s * Float(rng.uniform(0, 0.03)), hilum.v + Float(rng.uniform(-0.03, 0.03)))
                branch(from: root, angle: base, side: s, length: Float(rng.uniform(0.06, 0.1)),
                       radius: 0.007, depth: 3, rng: &rng)
            }
        }
        let n = canvas.n
        for i in 0..<(n * n) where canvas.layer[i] != 0 {
            canvas.density[i] += canvas.layer[i] * lungCoverage[i]
            canvas.layer[i] = 0
        }
    }

    mutating func branch(from start: P, angle: Double, side s: Float, length: Float, radius: Float, depth: Int,
                         rng: inout SplitMix64) {
        let c = Float(DMath.cos(angle)), sn = Float(DMath.sin(angle))
        let end = P(start.u + s * c * length, start.v + sn * length)
        let bend = Float(rng.uniform(-0.12, 0.12)) * length
        let ctrl = P((start.u + end.u) / 2 - sn * bend * s, (start.v + end.v) / 2 + c * bend)
        canvas.stroke(bezier(start, ctrl, ctrl, end, 4), radius: radius, weight: 0.055, toLayer: true)
        guard depth > 0 else { return }
        let children = rng.uniform() < 0.25 ? 3 : 2
        for j in 0..<children {
            let spread = rng.uniform(0.18, 0.42) * (j == 0 ? -1 : 1) * (j == 2 ? 0.2 : 1)
            branch(from: end, angle: angle + spread, side: s, length: length * Float(rng.uniform(0.62, 0.8)),
                   radius: radius * 0.72, depth: depth - 1, rng: &rng)
        }
    }

    mutating func mediastinum() {
        let mid = self.mid, hilumV = Float(a.hilumV)
        // Vascular pedicle and great vessels between the lungs.
        canvas.fill(mid - 0.12, 0.05, mid + 0.12, hilumV + 0.12) { u, v in
            let du = (u - mid - 0.01) / (0.06 + 0.035 * clamp01((v - 0.2) / 0.3)), dv = (v - (hilumV - 0.1)) / 0.27
            let r = du * du + dv * dv
            // Soft edges: the mediastinal contour against the lung is the heart's and the aorta's job.
            return r < 1 ? 0.55 * (1 - r) : 0
        }
        // Aortic knob (patient left, image right).
        let kr = Float(a.aorticKnob)
        let knob = P(mid + medial + 0.012, hilumV - 0.135)
        canvas.fill(knob.u - kr, knob.v - kr, knob.u + kr, knob.v + kr) { u, v in
            let du = (u - knob.u) / kr, dv = (v - knob.v) / kr
            let r = du * du + dv * dv
            return r < 1 ? 0.55 * (1 - r).squareRoot() : 0
        }
        // Hila.
        for s: Float in [-1, 1] {
            let c = P(mid + s * (medial + 0.035), hilumV + (s > 0 ? 0.015 : 0))
            canvas.fill(c.u - 0.05, c.v - 0.06, c.u + 0.05, c.v + 0.06) { u, v in
                let du = (u - c.u) / 0.035, dv = (v - c.v) / 0.055
                let r = du * du + dv * dv
                return r < 1 ? 0.4 * (1 - r) : 0
            }
        }
        // Trachea and main bronchi: an air column.
        let carina = P(mid + 0.004, hilumV - 0.075)
        canvas.stroke([P(mid - 0.002, -0.05), P(mid, 0.15), carina], radius: 0.018, weight: -0.42)
        canvas.stroke(bezier(carina, P(carina.u - 0.02, carina.v + 0.02), P(carina.u - 0.04, carina.v + 0.04),
                             P(carina.u - 0.055, carina.v + 0.06), 6), radius: 0.011, weight: -0.22)
        canvas.stroke(bezier(carina, P(carina.u + 0.02, carina.v + 0.03), P(carina.u + 0.045, carina.v + 0.05),
                             P(carina.u + 0.07, carina.v + 0.075), 6), radius: 0.01, weight: -0.22)
    }

    mutating func abdomen() {
        let mid = self.mid, edge = self.edge, g = self.g, halfW = self.halfW
        let bodyHalf0 = halfW + Float(a.bodyMargin), seed = a.textureSeed &+ 11
        canvas.fill(-0.2, min(domeR, domeL) - 0.05, 1.2, 1.2) { u, v in
            let d = abs(u - mid)
            let bodyHalf = bodyWidth(bodyHalf0, v)
            let e = v - g.diaphragmV(u - mid)
            let q = min(d / bodyHalf, 1)
            let mottle = 0.9 + 0.2 * valueNoise(u * 9, v * 9, seed) + 0.1 * valueNoise(u * 25, v * 25, seed &+ 1)
            return 1.1 * mottle * smoothstep(-edge, edge * 2, e) * (0.85 + 0.3 * smoothstep(0, 0.25, e))
                * smoothstep(0, 0.03, bodyHalf - d) * (0.4 + 0.6 * (1 - q * q).squareRoot())
                * (0.6 + 0.4 * smoothstep(halfW * 1.2, halfW * 0.95, d))
        }
        // Bowel gas: a few soft lucencies under the left dome and across the upper abdomen.
        var gas = SplitMix64(seed: UInt64(a.textureSeed) ^ 0x9A5)
        for _ in 0..<gas.int(2...6) {
            let c = P(mid + Float(gas.uniform(-0.6, 0.9)) * halfW, g.domeV(0.5 * halfW, 1) + Float(gas.uniform(0.1, 0.3)))
            let rx = Float(gas.uniform(0.015, 0.04)), ry = rx * Float(gas.uniform(0.5, 0.9))
            canvas.fill(c.u - rx, c.v - ry, c.u + rx, c.v + ry) { u, v in
                let du = (u - c.u) / rx, dv = (v - c.v) / ry
                let r = du * du + dv * dv
                return r < 1 ? -0.35 * (1 - r) : 0
            }
        }
        let gb = Float(a.gastricBubble)
        if gb > 0 {
            let c = P(mid + 0.55 * halfW, g.domeV(0.55 * halfW, 1) + gb * 0.9)
            canvas.fill(c.u - gb * 1.6, c.v - gb, c.u + gb * 1.6, c.v + gb) { u, v in
                let du = (u - c.u) / (gb * 1.5), dv = (v - c.v) / (gb * 0.8)
                let r = du * du + dv * dv
                return r < 1 ? -0.55 * (1 - r).squareRoot() * smoothstep(-0.3, 0.2, dv) : 0
            }
        }
    }

    mutating func spine() {
        let mid = self.mid, hw = Float(a.spineWidth) / 2, vh = Float(a.vertebraHeight), bone = self.bone
        canvas.fill(mid - hw * 1.6, -0.1, mid + hw * 1.6, 1.1) { u, v in
            let du = (u - mid) / hw
            if abs(du) >= 1.5 { return 0 }
            let cycle = v / vh + 0.3
            let f = cycle - cycle.rounded(.down)   // 0..1 within a vertebra
            // Vertebral body: a rounded block with end plates; the disc is the gap around f = 0.
            let plate = smoothstep(0.06, 0.16, f) * smoothstep(0.06, 0.16, 1 - f)
            let body: Float = abs(du) < 1 ? (1 - du * du) * 0.55 : 0
            let cortex: Float = abs(du) < 1 ? 0.25 * smoothstep(0.7, 0.95, abs(du)) * (1 - abs(du)) * 8 : 0
            // Pedicles: small ovals at the lateral margins, mid-body.
            let pdu = (abs(du) - 0.75) / 0.2, pdv = (f - 0.45) / 0.18
            let ped = pdu * pdu + pdv * pdv < 1 ? 0.25 * (1 - (pdu * pdu + pdv * pdv)) : 0
            // Spinous process, lower in the cycle.
            let sdu = du / 0.18, sdv = (f - 0.75) / 0.16
            let spin = sdu * sdu + sdv * sdv < 1 ? 0.2 * (1 - (sdu * sdu + sdv * sdv)) : 0
            let transverse: Float = abs(du) < 1.5 ? 0.12 * smoothstep(1.5, 1.0, abs(du)) * smoothstep(0.25, 0.4, f) * smoothstep(0.25, 0.4, 0.7 - f + 0.25) : 0
            return bone * 0.3 * ((body + min(cortex, 0.3)) * plate + ped + spin + transverse) * smoothstep(0.02, 0.12, v)
                * (1 - 0.5 * smoothstep(0.7, 0.9, v))
        }
    }

    mutating func ribs() {
        let h = Float(a.thoraxHeight)
        for i in 0..<a.ribCount {
            let fi = Float(i)
            let y = Float(a.ribFirstV) + fi * Float(a.ribSpacing) * h * (1 + 0.03 * fi) + Float(a.ribJitter[i % a.ribJitter.count])
            let t = tOf(y + 0.04, -1)
            let reach = min(outer(max(t, 0.02)) + 0.01, halfW + 0.01) * (i == 0 ? 0.8 : 1)
            let arch = Float(a.ribArch) * (0.6 + 0.4 * min(reach / halfW, 1))
            let drop = Float(a.ribDrop) * (0.5 + 0.5 * min(reach / halfW, 1))
            let thick = Float(a.ribThickness) * (0.8 + 0.035 * fi) * (1 + 12 * Float(a.ribJitter[(i + 5) % a.ribJitter.count]))
            for s: Float in [-1, 1] {
                let yy = y + (s > 0 ? 0.004 + Float(a.ribJitter[(i + 3) % a.ribJitter.count]) : 0)
                let p0 = P(mid + s * (Float(a.spineWidth) * 0.45), yy)
                // Posterior arc: out from the spine, up a little, then hooking down along the chest wall.
                let p3 = P(mid + s * reach * 1.0, yy + drop * 0.6)
                let posterior = bezier(p0, P(mid + s * reach * 0.4, yy - arch * 0.9), P(mid + s * reach * 1.0, yy - arch * 0.2), p3, 20)
                canvas.stroke(posterior, radius: thick * 0.5, weight: 0.28 * bone, profile: .bone(inner: 0.7, fill: 0.45),
                              toLayer: true)
                // Anterior arc: from the lateral wall down and in towards the costal cartilage.
                let front = bezier(p3, P(mid + s * reach * 0.96, yy + drop * 0.95),
                                   P(mid + s * reach * 0.7, yy + drop + Float(a.ribAnteriorSlope) * 0.7),
                                   P(mid + s * reach * 0.38, yy + drop + Float(a.ribAnteriorSlope) * 1.2), 16)
                canvas.stroke(front, radius: thick * 0.55, weight: 0.1 * bone, profile: .bone(inner: 0.6, fill: 0.5),
                              toLayer: true)
            }
        }
        // Below the diaphragm the thick, scattering abdomen washes the lower ribs out.
        let n = canvas.n, g = self.g, mid = self.mid
        for i in 0..<(n * n) where canvas.layer[i] != 0 {
            let u = canvas.u[i], v = canvas.v[i]
            let e = v - g.diaphragmV(u - mid)
            canvas.density[i] += canvas.layer[i] * (1 - 0.6 * smoothstep(0, 0.08, e))
            canvas.layer[i] = 0
        }
    }

    mutating func clavicles() {
        let cv = Float(a.clavicleV), len = Float(a.clavicleLength), tilt = Float(a.clavicleTilt)
        for s: Float in [-1, 1] {
            let pts = bezier(P(mid + s * 0.035, cv + 0.01), P(mid + s * len * 0.35, cv + 0.02),
                             P(mid + s * len * 0.65, cv - tilt * 0.9), P(mid + s * len, cv - tilt), 20)
            canvas.stroke(pts, radius: 0.0125, weight: 0.55 * bone, profile: .bone(inner: 0.7, fill: 0.6))
        }
    }

    mutating func scapulae() {
        let off = Float(a.scapulaOffset)
        for s: Float in [-1, 1] {
            let top = P(mid + s * (halfW + 0.01 + off), Float(a.clavicleV) + 0.01)
            let bottom = P(mid + s * (halfW - 0.07 + off), 0.47)
            let lateral = P(mid + s * (halfW + 0.1), 0.2)
            let tri = [top, bottom, lateral]
            let edge = self.edge
            canvas.fill(min(top.u, bottom.u, lateral.u), top.v, max(top.u, bottom.u, lateral.u), bottom.v) { u, v in
                var m: Float = 1
                for k in 0..<3 {
                    let p0 = tri[k], p1 = tri[(k + 1) % 3]
                    let ex = p1.u - p0.u, ey = p1.v - p0.v
                    let l = (ex * ex + ey * ey).squareRoot()
                    // Signed distance to the edge, positive inside (the triangle winds by side).
                    m = min(m, s * ((u - p0.u) * ey - (v - p0.v) * ex) / l)
                }
                return m > -edge ? 0.12 * smoothstep(-edge, 0.04, m) : 0
            }
            canvas.stroke([top, bottom], radius: 0.006, weight: 0.12 * bone)
        }
    }

    mutating func breasts() {
        let size = Float(a.breastSize), bv = Float(a.breastV)
        for s: Float in [-1, 1] {
            let c = P(mid + s * halfW * 0.62, bv + 0.08)
            let rx = 0.2 * size.squareRoot(), ry = 0.17 * size.squareRoot()
            canvas.fill(c.u - rx, c.v - ry, c.u + rx, c.v + ry) { u, v in
                let du = (u - c.u) / rx, dv = (v - c.v) / ry
                let r = du * du + dv * dv
                return r < 1 ? 0.5 * size * (1 - r).squareRoot() * smoothstep(-0.9, 0.1, dv) : 0
            }
        }
    }

    /// The cardiac silhouette: a tilted ellipse whose horizontal extent is exactly CTR × thoracic width.
    struct Heart { var c: P; var a: Float; var b: Float; var cosT: Float; var sinT: Float; var width: Float }

    var heartGeometry: Heart {
        let width = Float(x.ctr) * 2 * halfW
        let tilt = Double(a.heartTilt)
        let ct = Float(DMath.cos(tilt)), st = Float(DMath.sin(tilt))
        let k = Float(a.heartAspect)
        let major = (width / 2) / (ct * ct + k * k * st * st).squareRoot()
        let minor = k * major
        let halfH = (major * major * st * st + minor * minor * ct * ct).squareRoot()
        let cu = mid + Float(a.heartShift) * width
        let cv = domeL + 0.015 - halfH * 0.82
        return Heart(c: P(cu, cv), a: major, b: minor, cosT: ct, sinT: st, width: width)
    }

    mutating func heart() {
        let h = heartGeometry, dens = Float(a.heartDensity), g = self.g, mid = self.mid
        let ext = max(h.a, h.b) + 0.01
        canvas.fill(h.c.u - ext, h.c.v - ext, h.c.u + ext, h.c.v + ext, .heart) { u, v in
            let du = u - h.c.u, dv = v - h.c.v
            let pa = (du * h.cosT + dv * h.sinT) / h.a, pb = (-du * h.sinT + dv * h.cosT) / h.b
            let r = pa * pa + pb * pb
            // Nearly uniform brightness with a crisp border, as the silhouette of a fluid-filled organ.
            // Nearly uniform brightness with a crisp border where it meets lung; its upper part fades into
            // the mediastinum.
            let fade = 0.35 + 0.65 * smoothstep(-0.8, 0.1, pb * h.cosT + pa * h.sinT)
            // The heart sits on the diaphragm: nothing of it shows below the dome.
            let dome = g.diaphragmV(u - mid)
            let onDiaphragm = smoothstep(dome + 0.025, dome - 0.005, v)
            return r < 1 ? dens * fade * onDiaphragm * (0.62 * smoothstep(0, 0.12, 1 - r) + 0.3 * (1 - r).squareRoot()) : 0
        }
        // The upper heart border (atria, pulmonary outflow) joining the silhouette to the mediastinum.
        let halfH = (h.a * h.a * h.sinT * h.sinT + h.b * h.b * h.cosT * h.cosT).squareRoot()
        let uc = P(mid + 0.012 + 0.05 * h.width, h.c.v - halfH * 0.55)
        let ua = 0.3 * h.width, ub = halfH * 0.65
        canvas.fill(uc.u - ua, uc.v - ub, uc.u + ua, uc.v + ub, .heart) { u, v in
            let du = (u - uc.u) / ua, dv = (v - uc.v) / ub
            let r = du * du + dv * dv
            return r < 1 ? dens * 0.35 * (1 - r).squareRoot() : 0
        }
    }

    /// Pleural effusion: fluid layering at the base of the hemithorax, with a meniscus that climbs the
    /// lateral wall and a graded density that blunts the costophrenic angle and hides the dome.
    mutating func effusion() {
        let vol = Float(x.effusionVolume), edge = self.edge, g = self.g, density = Float(p.fluidDensity)
        for s: Float in [-1, 1] where (s > 0 && x.effusion.left) || (s < 0 && x.effusion.right) {
            let mid = self.mid
            let level = dome(s) - vol * 0.3 * (dome(s) - apexV)
            let climb = 0.05 + 0.1 * vol
            let lo = s < 0 ? mid - halfW - 0.03 : mid, hi = s < 0 ? mid : mid + halfW + 0.03
            canvas.fill(lo, level - climb - 0.04, hi, dome(s) + domeCurv * halfW * halfW + 0.05, .effusion) { u, v in
                let d = (u - mid) * s
                if d <= 0 { return 0 }
                let t = g.tOf(v, s)
                let i0 = g.inner(t), o0 = g.outer(t)
                let q = clamp01((d - i0) / max(o0 - i0, 1e-4))
                let lv = level - climb * q * q.squareRoot()
                // Fluid layers posteriorly, behind the heart too: it reaches almost to the midline.
                let inside = smoothstep(0, 0.06, d) * smoothstep(-0.01, 0.006, o0 + 0.008 - d)
                let depthBelow = v - lv
                if depthBelow <= -0.03 || inside == 0 { return 0 }
                let below = min(g.domeV(d, s), g.diaphragmV(u - mid)) + 0.035 - v
                if below <= 0 { return 0 }
                let grade = smoothstep(-0.03, 0.07, depthBelow) * (0.7 + 0.3 * smoothstep(0, 0.15, depthBelow))
                // Hand over to the abdomen at the diaphragm without a seam (no double density).
                let under = smoothstep(-edge, edge * 2, v - g.diaphragmV(u - mid))
                return density * grade * inside * smoothstep(0, 0.035, below) * (1 - 0.75 * under)
            }
        }
    }

    // MARK: Devices

    mutating func pacemaker() {
        let h = heartGeometry
        let gc = P(mid + halfW * 0.6 + Float(a.pacemakerU), Float(a.clavicleV) + 0.075 + Float(a.pacemakerV))
        let ga: Float = 0.05, gb: Float = 0.036
        canvas.fill(gc.u - ga - 0.01, gc.v - gb - 0.01, gc.u + ga + 0.01, gc.v + gb + 0.01, .pacemaker) { u, v in
            let du = (u - gc.u) / ga, dv = (v - gc.v) / gb
            let du2: Float = du * du, dv2: Float = dv * dv
            let r: Float = du2 * du2 + dv2 * dv2
            if r >= 1.08 { return 0 }
            let c: Float = smoothstep(1.08, 0.92, r)
            let header: Float = dv < -0.45 ? 0.45 : 1   // the epoxy header is less dense than the titanium can
            let battery: Float = (abs(du) < 0.6 && dv > -0.2 && dv < 0.7) ? 0.4 : 0
            return c * (3.2 * header + battery)
        }
        // Leads: from the header medially into the subclavian vein, down the SVC, into the right atrium and
        // the right ventricular apex.
        let start = P(gc.u - ga * 0.6, gc.v - gb * 0.7)
        let subclavian = P(mid + 0.09, Float(a.clavicleV) + 0.03)
        let svc = P(mid - 0.03, Float(a.hilumV) - 0.02)
        let ra = P(h.c.u - h.a * 0.55 * h.cosT, h.c.v - h.a * 0.2)
        let rv = P(h.c.u + h.a * 0.55 * h.cosT, h.c.v + h.a * 0.5 * h.sinT)
        let loop = bezier(start, P(start.u + 0.05, start.v + 0.05), P(start.u - 0.05, start.v + 0.06), P(start.u - 0.02, start.v - 0.01), 12)
        let toVein = bezier(P(start.u - 0.02, start.v - 0.01), P(start.u - 0.04, start.v - 0.04), P(subclavian.u + 0.04, subclavian.v - 0.01), subclavian, 12)
        let down = bezier(subclavian, P(svc.u + 0.03, subclavian.v), P(svc.u, svc.v - 0.06), svc, 14)
        let toRV = bezier(svc, P(svc.u, svc.v + 0.06), P(rv.u - 0.08, rv.v + 0.01), rv, 16)
        let toRA = bezier(svc, P(svc.u - 0.005, svc.v + 0.05), P(ra.u - 0.01, ra.v + 0.03), P(ra.u + 0.015, ra.v - 0.005), 12)
        for part in [loop, toVein, down, toRV, toRA] {
            canvas.stroke(part, radius: 0.0032, weight: 2.6, structure: .pacemaker)
        }
    }

    mutating func endotrachealTube() {
        let tip = Float(a.hilumV) - 0.075 - 0.055 + Float(a.tubeDepth) * 0.5
        let path = [P(mid - 0.004, -0.06), P(mid - 0.002, 0.12), P(mid + 0.001, tip)]
        for off: Float in [-0.011, 0.011] {
            canvas.stroke(path.map { P($0.u + off, $0.v) }, radius: 0.0022, weight: 0.7, structure: .endotrachealTube)
        }
        canvas.stroke(path.map { P($0.u - 0.007, $0.v) }, radius: 0.003, weight: 2.4, structure: .endotrachealTube)
    }

    mutating func centralLine() {
        let tip = P(mid - 0.032, Float(a.hilumV) - 0.01 + Float(a.tubeDepth))
        let pts: [P]
        if a.lineSide < 0.7 {   // right internal jugular
            pts = bezier(P(mid - 0.1, -0.04), P(mid - 0.075, 0.08), P(mid - 0.04, Float(a.clavicleV)), P(mid - 0.036, Float(a.clavicleV) + 0.05), 16)
                + bezier(P(mid - 0.036, Float(a.clavicleV) + 0.05), P(mid - 0.034, tip.v - 0.1), P(tip.u, tip.v - 0.05), tip, 12)
        } else {                 // left subclavian
            let entry = P(mid + halfW * 0.75, Float(a.clavicleV) + 0.02)
            pts = bezier(entry, P(mid + 0.12, Float(a.clavicleV) + 0.05), P(mid + 0.03, Float(a.clavicleV) + 0.04), P(mid - 0.03, Float(a.clavicleV) + 0.07), 18)
                + bezier(P(mid - 0.03, Float(a.clavicleV) + 0.07), P(mid - 0.036, tip.v - 0.1), P(tip.u, tip.v - 0.05), tip, 12)
        }
        canvas.stroke(pts, radius: 0.0028, weight: 2.3, structure: .centralVenousCatheter)
    }

    mutating func nasogastricTube() {
        let stomach = P(mid + halfW * 0.55, domeL + 0.1)
        let pts = bezier(P(mid + 0.006, -0.06), P(mid + 0.014, 0.3), P(mid + 0.02, domeL - 0.1), P(mid + 0.04, domeL + 0.02), 20)
            + bezier(P(mid + 0.04, domeL + 0.02), P(mid + 0.07, domeL + 0.08), P(stomach.u - 0.05, stomach.v + 0.02), stomach, 14)
        canvas.stroke(pts, radius: 0.003, weight: 2.2, structure: .nasogastricTube)
    }

    // MARK: Tone

    /// Density → film brightness: 1 − exp(−gain·D) through a gamma, by a lookup table built with the
    /// deterministic exp/pow, plus the anode heel, grain and the burned-in marker.
    mutating func tone() -> [Float] {
        let n = canvas.n
        let lutSize = 4096, dMax: Float = 8
        let gain = 0.95 * a.exposure, gamma = a.gamma
        var lut = [Float](repeating: 0, count: lutSize + 1)
        for k in 0...lutSize {
            let d = Double(k) / Double(lutSize) * Double(dMax)
            let film = 1 - DMath.exp(-gain * d)
            lut[k] = Float(film > 0 ? DMath.pow(film, gamma) : 0)
        }
        let heel = Float(a.heelEffect), grain = Float(a.noiseGrain), seed = a.noiseSeed
        var out = [Float](repeating: 0, count: n * n)
        let scale = Float(lutSize) / dMax
        canvas.density.withUnsafeBufferPointer { D in
            for y in 0..<n {
                let heelF = 1 + heel * ((Float(y) + 0.5) / Float(n) - 0.5)
                for xx in 0..<n {
                    let i = y * n + xx
                    let d = max(D[i], 0) * heelF * scale
                    let k = min(Int(d), lutSize - 1)
                    let f = min(d - Float(k), 1)
                    var val = lut[k] + (lut[k + 1] - lut[k]) * f
                    let g = hashUniform(xx, y, seed) + hashUniform(y, xx, seed ^ 0x5bd1e995) - 1
                    val += grain * g * (0.5 + 0.5 * val)
                    out[i] = val
                }
            }
        }
        Marker.draw(a.markerText, corner: a.markerCorner, scale: Float(a.markerScale), into: &out, size: n)
        return out
    }
}

/// Half width of the torso at height v: it bulges at the lower ribs and narrows towards the waist.
@inline(__always) func bodyWidth(_ base: Float, _ v: Float) -> Float {
    base * (0.92 + 0.11 * smoothstep(0.1, 0.6, v) - 0.12 * smoothstep(0.72, 1.1, v))
}

/// Soft-tissue outline of the torso: the neck between rounded shoulders, the chest wall at `bodyHalf`.
@inline(__always) func torsoCoverage(_ d: Float, _ v: Float, bodyHalf: Float, neck: Float, shoulder: Float) -> Float {
    // The neck rises out of the shoulders along the curved slope of the trapezius.
    let lateral = clamp01((d - neck) / (bodyHalf + 0.06 - neck))
    let top = -0.25 + (shoulder + 0.25 + 0.12 * lateral * lateral * lateral) * smoothstep(neck * 0.85, neck + 0.08, d)
    return smoothstep(0, 0.03, bodyHalf - d + 0.03 * smoothstep(0.25, 0.05, v)) * smoothstep(0, 0.03, v - top)
}

/// The lung fields and diaphragm, shared by the lungs, the abdomen and the effusion.
struct LungGeometry {
    let halfW: Float, apexV: Float, apexOff: Float, medial: Float
    let domeR: Float, domeL: Float, domeCurv: Float, domePeak: Float

    func dome(_ s: Float) -> Float { s < 0 ? domeR : domeL }
    /// 0 at the apex, 1 at the dome's peak.
    func tOf(_ v: Float, _ s: Float) -> Float { (v - apexV) / (dome(s) - apexV) }
    /// Distance of the lateral lung border from the midline.
    func outer(_ t: Float) -> Float {
        let w = clamp01(t / 0.75)
        // Rounded apex (square root), then a lateral border that keeps widening towards the base.
        return apexOff + (halfW - apexOff) * (0.75 * w.squareRoot() + 0.25 * w) * (0.94 + 0.06 * clamp01(t))
    }
    /// Distance of the medial lung border from the midline.
    func inner(_ t: Float) -> Float { apexOff - (apexOff - medial) * clamp01(t / 0.2).squareRoot() }
    /// The diaphragm at distance d from the midline: a dome that falls into the costophrenic recess.
    func domeV(_ d: Float, _ s: Float) -> Float {
        let k = d - domePeak * halfW
        return dome(s) + domeCurv * k * k
    }
    /// The top of the abdomen at signed offset x from the midline: the domes without their medial dip
    /// (the heart sits there), joined smoothly across the midline.
    func diaphragmV(_ x: Float) -> Float {
        let d = abs(x)
        let k = max(d - domePeak * halfW, 0)
        let side = dome(x < 0 ? -1 : 1) + domeCurv * k * k
        let centre = (domeR + domeL) / 2
        let w = smoothstep(0, 0.06, d)
        return centre + (side - centre) * w
    }
}

/// Smooth lattice noise in [0, 1) from integer hashes (no platform math).
@inline(__always) func valueNoise(_ x: Float, _ y: Float, _ seed: UInt32) -> Float {
    let x0 = x.rounded(.down), y0 = y.rounded(.down)
    let fx = x - x0, fy = y - y0
    let ix = Int(x0), iy = Int(y0)
    let sx = fx * fx * (3 - 2 * fx), sy = fy * fy * (3 - 2 * fy)
    let a = hashUniform(ix, iy, seed), b = hashUniform(ix + 1, iy, seed)
    let c = hashUniform(ix, iy + 1, seed), d = hashUniform(ix + 1, iy + 1, seed)
    let top = a + (b - a) * sx, bottom = c + (d - c) * sx
    return top + (bottom - top) * sy
}
