import Core

/// The exogenous (patient and acquisition) variables of one phantom: everything about the picture that no
/// label causes. Lengths are fractions of the image side, in patient-frame coordinates `u` (left to right
/// as displayed: the patient's right is on the image left) and `v` (top to bottom).
public struct Anatomy: Codable, Equatable, Sendable {
    // Habitus.
    public var midline: Double            // u of the spine
    public var thoraxHalfWidth: Double    // inner rib cage half width (male; sex scales it)
    public var thoraxHeight: Double       // apex-to-dome scale
    public var bodyMargin: Double         // soft tissue outside the ribs
    public var bodyDepth: Double          // soft-tissue thickness at the midline
    public var shoulderV: Double
    public var neckHalfWidth: Double
    public var armsVisible: Double        // 0...1 strength of the arm shadows at the image edges
    // Lungs and diaphragm.
    public var apexV: Double
    public var apexOffset: Double         // distance of the apex from the midline
    public var medialHalfWidth: Double    // half width of the mediastinum between the lungs
    public var domeRightV: Double         // patient right (image left) dome: higher
    public var domeLeftDrop: Double       // how much lower the left dome is
    public var domeCurvature: Double
    public var domePeak: Double           // fraction of the half width where the dome peaks
    public var lungAir: Double
    public var gastricBubble: Double      // size, 0 = none
    // Heart and mediastinum.
    public var heartShift: Double         // fraction of the heart width right of the midline (image right)
    public var heartTilt: Double          // radians
    public var heartAspect: Double        // minor / major axis
    public var heartDensity: Double
    public var aorticKnob: Double         // radius
    public var hilumV: Double
    // Bones.
    public var ribCount: Int
    public var ribFirstV: Double
    public var ribSpacing: Double
    public var ribArch: Double            // posterior arc height
    public var ribThickness: Double
    public var ribDrop: Double            // lateral fall of the posterior arcs
    public var ribAnteriorSlope: Double   // medial fall of the anterior arcs
    public var ribJitter: [Double]        // per-rib small offsets
    public var clavicleV: Double
    public var clavicleTilt: Double
    public var clavicleLength: Double
    public var scapulaOffset: Double
    public var spineWidth: Double
    public var vertebraHeight: Double
    public var boneDensity: Double        // patient factor; age lowers it further
    // Soft tissue.
    public var breastSize: Double         // used for female patients
    public var breastV: Double
    // Acquisition.
    public var exposure: Double
    public var gamma: Double
    public var noiseGrain: Double
    public var rotation: Double           // radians
    public var shiftU: Double
    public var shiftV: Double
    public var heelEffect: Double
    public var markerCorner: Int          // 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right
    public var markerText: String
    public var markerScale: Double
    // Texture seeds (32-bit so that any JSON reader keeps them exact).
    public var vesselSeed: UInt32
    public var textureSeed: UInt32
    public var noiseSeed: UInt32
    // Device placement variation.
    public var pacemakerU: Double
    public var pacemakerV: Double
    public var tubeDepth: Double
    public var lineSide: Double           // < 0.7: right internal jugular, else left subclavian

    public init(rng: inout SplitMix64) {
        var r = rng
        func u(_ lo: Double, _ hi: Double) -> Double { r.uniform(lo, hi) }
        func n(_ mean: Double, _ sd: Double, _ lo: Double, _ hi: Double) -> Double {
            min(max(mean + sd * r.normal(), lo), hi)
        }
        midline = n(0.5, 0.012, 0.47, 0.53)
        thoraxHalfWidth = n(0.385, 0.02, 0.34, 0.43)
        thoraxHeight = n(1.0, 0.05, 0.88, 1.12)
        bodyMargin = n(0.1, 0.02, 0.05, 0.15)
        bodyDepth = n(1.0, 0.08, 0.8, 1.25)
        shoulderV = n(0.03, 0.02, -0.02, 0.08)
        neckHalfWidth = u(0.1, 0.14)
        armsVisible = u(0, 1) < 0.75 ? u(0.5, 1) : 0
        apexV = n(0.115, 0.015, 0.08, 0.15)
        apexOffset = u(0.13, 0.17)
        medialHalfWidth = u(0.035, 0.05)
        domeRightV = n(0.69, 0.03, 0.6, 0.78)
        domeLeftDrop = u(0.01, 0.045)
        domeCurvature = u(1.9, 2.8)
        domePeak = u(0.45, 0.65)
        lungAir = n(1.0, 0.07, 0.8, 1.2)
        gastricBubble = u(0, 1) < 0.7 ? u(0.02, 0.05) : 0
        heartShift = n(0.2, 0.035, 0.1, 0.3)
        heartTilt = n(0.55, 0.08, 0.35, 0.75)
        heartAspect = n(0.74, 0.04, 0.64, 0.84)
        heartDensity = n(1.0, 0.06, 0.85, 1.15)
        aorticKnob = n(0.026, 0.005, 0.015, 0.04)
        hilumV = n(0.42, 0.02, 0.37, 0.47)
        ribCount = r.int(10...11)
        ribFirstV = n(0.105, 0.01, 0.08, 0.13)
        ribSpacing = n(0.056, 0.003, 0.048, 0.064)
        ribArch = u(0.06, 0.09)
        ribThickness = n(0.023, 0.0018, 0.018, 0.028)
        ribDrop = u(0.15, 0.22)
        ribAnteriorSlope = u(0.09, 0.14)
        ribJitter = (0..<12).map { _ in r.normal() * 0.004 }
        clavicleV = n(0.16, 0.015, 0.12, 0.2)
        clavicleTilt = u(0.04, 0.1)
        clavicleLength = u(0.22, 0.27)
        scapulaOffset = u(0.0, 0.04)
        spineWidth = n(0.062, 0.005, 0.05, 0.075)
        vertebraHeight = n(0.038, 0.003, 0.032, 0.045)
        boneDensity = n(1.0, 0.08, 0.8, 1.2)
        breastSize = u(0.5, 1.2)
        breastV = n(0.6, 0.03, 0.53, 0.68)
        exposure = n(1.0, 0.12, 0.75, 1.3)
        gamma = n(1.0, 0.12, 0.75, 1.3)
        noiseGrain = u(0.006, 0.02)
        rotation = n(0, 0.025, -0.05, 0.05)
        shiftU = n(0, 0.012, -0.03, 0.03)
        shiftV = n(0, 0.015, -0.035, 0.035)
        heelEffect = u(-0.08, 0.08)
        markerCorner = r.int(0...3)
        markerText = ["L", "R", "L", "R", "AP", "PA", "PORTABLE", "UPRIGHT"][r.int(0...7)]
        markerScale = u(0.008, 0.014)
        vesselSeed = UInt32(truncatingIfNeeded: r.next())
        textureSeed = UInt32(truncatingIfNeeded: r.next())
        noiseSeed = UInt32(truncatingIfNeeded: r.next())
        pacemakerU = u(-0.02, 0.03)
        pacemakerV = u(-0.02, 0.02)
        tubeDepth = u(-0.03, 0.03)
        lineSide = u(0, 1)
        rng = r
    }
}
