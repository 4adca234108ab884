import Core
import Foundation

/// The structural causal model behind PhantomCXR's labels.
///
/// ```
///   age ──────────────► CTR (cardiomegaly = CTR > threshold) ──► pacemaker
///    │                      │
///    ▼                      ▼
///   bone density        pleural effusion ◄── severity ──► ET tube, CVC, NG tube
///                           │                                   ▲
///   sex ──► habitus         └──────── spurious tie (P) ─────────┘  (devices follow effusion)
/// ```
///
/// Every node is a deterministic function of its parents and its own exogenous noise (`SCMNoise`), so a
/// counterfactual is computed by abduction (keep the noise), action (fix the intervened node) and
/// prediction (recompute its descendants with the same noise).
public struct SCMParameters: Codable, Equatable, Sendable {
    // Roots.
    public var ageMean = 58.0
    public var ageSD = 17.0
    public var ageMin = 18.0
    public var ageMax = 95.0
    public var probFemale = 0.5
    /// Severity (a latent illness score in [0, 1]) is U^severityShape: most patients mild.
    public var severityShape = 2.0
    /// sex → habitus: a female thorax is this fraction of the male width.
    public var femaleThoraxScale = 0.93
    // age → cardiomegaly.
    public var ctrBase = 0.46
    public var ctrPerDecade = 0.012
    public var ctrSD = 0.045
    public var ctrMin = 0.34
    public var ctrMax = 0.70
    public var cardiomegalyThreshold = 0.5
    // cardiomegaly → pacemaker (the hidden relationship).
    public var pacemakerGivenCardiomegaly = 0.30
    public var pacemakerGivenNoCardiomegaly = 0.03
    // cardiomegaly, severity → effusion: P = base + fromCardiomegaly·[CTR > t] + fromSeverity·severity.
    public var effusionBase = 0.05
    public var effusionFromCardiomegaly = 0.25
    public var effusionFromSeverity = 0.30
    public var effusionLeft = 0.25
    public var effusionRight = 0.35
    /// Effusion volume in [0, 1] (fraction of the lower hemithorax): min + fromSeverity·severity + spread·U.
    public var effusionVolumeMin = 0.2
    public var effusionVolumeFromSeverity = 0.45
    public var effusionVolumeSpread = 0.3
    /// effusion → pixels: the fluid's density at full depth, in the renderer's units (the default draws a dense,
    /// white effusion; 0.3 a faint haze). Lower it to make effusions subtle without making them small; the labels
    /// do not depend on it. Optional so that case files written before it existed still load
    /// (absent means 1.5, the density they were rendered with); read it through `fluidDensity`.
    public var effusionDensity: Double? = 1.5
    public var fluidDensity: Double { effusionDensity ?? 1.5 }
    // severity → tubes and lines: P = base + fromSeverity·severity.
    public var endotrachealTubeBase = 0.01
    public var endotrachealTubeFromSeverity = 0.30
    public var centralVenousCatheterBase = 0.03
    public var centralVenousCatheterFromSeverity = 0.40
    public var nasogastricTubeBase = 0.01
    public var nasogastricTubeFromSeverity = 0.30
    /// effusion → devices (the spurious knob): in this fraction of cases the devices are tied to the
    /// effusion label (effusion ⇒ a central line; no effusion ⇒ no device at all).
    public var spurious = 0.0

    public init() {}

    /// Parameters from a graph JSON file: an object whose keys are any of the fields above; absent keys
    /// keep their defaults, unknown keys are an error (a misspelt edge must not be silently ignored).
    public static func load(_ url: URL) throws -> SCMParameters {
        let data: Data
        do { data = try JSONFile.read(url) } catch { throw PhantomError("\(error)") }
        return try decode(data, name: url.path)
    }

    public static func decode(_ data: Data, name: String = "graph") throws -> SCMParameters {
        let user: [String: Any]
        do { user = try JSONFile.object(from: data, source: name) } catch {
            throw PhantomError("\(error) (a graph file is a JSON object of parameter names and numbers)")
        }
        var merged = try JSONSerialization.jsonObject(with: JSONEncoder().encode(SCMParameters())) as! [String: Any]
        let unknown = user.keys.filter { merged[$0] == nil }.sorted()
        guard unknown.isEmpty else {
            throw PhantomError("\(name): unknown parameter(s) \(unknown.joined(separator: ", ")); known: "
                               + merged.keys.sorted().joined(separator: ", "))
        }
        for (k, v) in user {
            // A JSON true/false is an NSNumber of type "c"; `v is Bool` would also be true for the numbers 0 and 1.
            guard let n = v as? NSNumber, String(cString: n.objCType) != "c", n.doubleValue.isFinite else {
                throw PhantomError("\(name): \(k) must be a finite number")
            }
            merged[k] = n.doubleValue
        }
        let p = try JSONDecoder().decode(SCMParameters.self, from: JSONSerialization.data(withJSONObject: merged))
        try p.validate(name: name)
        return p
    }

    func validate(name: String) throws {
        let probabilities: [(String, Double)] = [
            ("probFemale", probFemale), ("pacemakerGivenCardiomegaly", pacemakerGivenCardiomegaly),
            ("pacemakerGivenNoCardiomegaly", pacemakerGivenNoCardiomegaly), ("spurious", spurious),
            ("effusionLeft", effusionLeft), ("effusionRight", effusionRight),
            ("effusionLeft + effusionRight", effusionLeft + effusionRight),
        ]
        for (k, v) in probabilities where !(0...1).contains(v) {
            throw PhantomError("\(name): \(k) = \(v) must lie in [0, 1]")
        }
        if !(ageMin < ageMax) || !(ctrMin < ctrMax) || ageSD < 0 || ctrSD < 0 || severityShape <= 0 {
            throw PhantomError("\(name): need ageMin < ageMax, ctrMin < ctrMax, non-negative SDs, severityShape > 0")
        }
        if !(fluidDensity > 0) {
            throw PhantomError("\(name): effusionDensity = \(fluidDensity) must be > 0 (it is the fluid's density)")
        }
    }
}

/// One patient's exogenous noise for the label mechanisms (uniforms in [0, 1), `z` values standard normal).
public struct SCMNoise: Codable, Equatable, Sendable {
    public var ageZ: Double
    public var sexU: Double
    public var severityU: Double
    public var ctrZ: Double
    public var pacemakerU: Double
    public var effusionU: Double
    public var effusionSideU: Double
    public var effusionVolumeU: Double
    public var endotrachealTubeU: Double
    public var centralVenousCatheterU: Double
    public var nasogastricTubeU: Double
    public var spuriousU: Double

    public init(rng: inout SplitMix64) {
        ageZ = rng.normal(); sexU = rng.uniform(); severityU = rng.uniform(); ctrZ = rng.normal()
        pacemakerU = rng.uniform(); effusionU = rng.uniform(); effusionSideU = rng.uniform()
        effusionVolumeU = rng.uniform(); endotrachealTubeU = rng.uniform(); centralVenousCatheterU = rng.uniform()
        nasogastricTubeU = rng.uniform(); spuriousU = rng.uniform()
    }
}

public enum EffusionSide: String, Codable, Sendable, CaseIterable {
    case none, left, right, bilateral
    /// Patient left (image right) is affected.
    var left: Bool { self == .left || self == .bilateral }
    var right: Bool { self == .right || self == .bilateral }
}

/// The endogenous attributes of one case: everything the labels say.
public struct Attributes: Codable, Equatable, Sendable {
    public var age: Double
    public var sex: Sex
    public var severity: Double
    /// Cardiothoracic ratio: heart width / inner thoracic width.
    public var ctr: Double
    public var effusion: EffusionSide
    public var effusionVolume: Double
    public var pacemaker: Bool
    public var endotrachealTube: Bool
    public var centralVenousCatheter: Bool
    public var nasogastricTube: Bool
    /// Whether this case's devices were tied to its effusion (the spurious mechanism was active).
    public var spuriousTie: Bool

    public func cardiomegaly(_ p: SCMParameters) -> Bool { ctr > p.cardiomegalyThreshold }
    public var pleuralEffusion: Bool { effusion != .none }
    public var supportDevices: Bool { pacemaker || endotrachealTube || centralVenousCatheter || nasogastricTube }
    public func noFinding(_ p: SCMParameters) -> Bool { !cardiomegaly(p) && !pleuralEffusion }
}

/// do(attribute = value). Parsed from `name=value`; names and values are listed in `Intervention.help`.
public enum Intervention: Equatable, Sendable, CustomStringConvertible {
    case age(Double)
    case sex(Sex)
    case severity(Double)
    case ctr(Double)
    /// 0: CTR becomes min(CTR, threshold − 0.04); 1: max(CTR, threshold + 0.06). Same-label values stay.
    case cardiomegaly(Bool)
    /// 1 adds an effusion (side and volume from the patient's own noise) if there is none; 0 removes it.
    case pleuralEffusion(Bool)
    case effusionSide(EffusionSide)
    case effusionVolume(Double)
    case pacemaker(Bool)
    case endotrachealTube(Bool)
    case centralVenousCatheter(Bool)
    case nasogastricTube(Bool)
    /// 0 removes every device; 1 adds a central line if there is no device.
    case supportDevices(Bool)

    public static let help = """
        age=YEARS  sex=F|M  severity=0..1  ctr=RATIO  cardiomegaly=0|1  pleural_effusion=0|1
        effusion=none|left|right|bilateral  effusion_volume=0..1  support_devices=0|1  pacemaker=0|1
        endotracheal_tube=0|1  central_venous_catheter=0|1  nasogastric_tube=0|1
        """

    public init(parsing text: String) throws {
        let parts = text.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw PhantomError("intervention '\(text)': expected name=value, one of:\n\(Intervention.help)")
        }
        let name = parts[0].lowercased().replacingOccurrences(of: "-", with: "_").replacingOccurrences(of: " ", with: "_")
        let value = parts[1]
        func flag() throws -> Bool {
            switch value.lowercased() {
            case "1", "true", "yes": return true
            case "0", "false", "no": return false
            default: throw PhantomError("intervention '\(text)': \(parts[0]) takes 0 or 1")
            }
        }
        func number(_ range: ClosedRange<Double>) throws -> Double {
            guard let v = Double(value), range.contains(v) else {
                throw PhantomError("intervention '\(text)': \(parts[0]) takes a number in \(range)")
            }
            return v
        }
        switch name {
        case "age": self = .age(try number(0...120))
        case "sex":
            switch value.uppercased() {
            case "F", "FEMALE": self = .sex(.female)
            case "M", "MALE": self = .sex(.male)
            default: throw PhantomError("intervention '\(text)': sex takes F or M")
            }
        case "severity": self = .severity(try number(0...1))
        case "ctr": self = .ctr(try number(0.2...0.85))
        case "cardiomegaly": self = .cardiomegaly(try flag())
        case "pleural_effusion":
            self = .pleuralEffusion(try flag())
        case "effusion" where ["0", "1", "true", "false", "yes", "no"].contains(value.lowercased()):
            self = .pleuralEffusion(try flag())
        case "effusion", "effusion_side":
            guard let side = EffusionSide(rawValue: value.lowercased()) else {
                throw PhantomError("intervention '\(text)': effusion takes none, left, right or bilateral")
            }
            self = .effusionSide(side)
        case "effusion_volume": self = .effusionVolume(try number(0...1))
        case "pacemaker": self = .pacemaker(try flag())
        case "endotracheal_tube", "ett": self = .endotrachealTube(try flag())
        case "central_venous_catheter", "cvc": self = .centralVenousCatheter(try flag())
        case "nasogastric_tube", "ngt": self = .nasogastricTube(try flag())
        case "support_devices": self = .supportDevices(try flag())
        default:
            throw PhantomError("intervention '\(text)': unknown attribute '\(parts[0])'; known:\n\(Intervention.help)")
        }
    }

    /// A list of simultaneous interventions, separated by commas: `cardiomegaly=0,pacemaker=1`.
    public static func parseList(_ text: String) throws -> [Intervention] {
        let items = text.split(separator: ",").map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        guard !items.isEmpty else { throw PhantomError("empty intervention: expected name=value") }
        return try items.map(Intervention.init(parsing:))
    }

    public var description: String {
        func b(_ v: Bool) -> String { v ? "1" : "0" }
        switch self {
        case .age(let v): return "age=\(fmt(v))"
        case .sex(let s): return "sex=\(s.rawValue)"
        case .severity(let v): return "severity=\(fmt(v))"
        case .ctr(let v): return "ctr=\(fmt(v))"
        case .cardiomegaly(let v): return "cardiomegaly=\(b(v))"
        case .pleuralEffusion(let v): return "pleural_effusion=\(b(v))"
        case .effusionSide(let s): return "effusion=\(s.rawValue)"
        case .effusionVolume(let v): return "effusion_volume=\(fmt(v))"
        case .pacemaker(let v): return "pacemaker=\(b(v))"
        case .endotrachealTube(let v): return "endotracheal_tube=\(b(v))"
        case .centralVenousCatheter(let v): return "central_venous_catheter=\(b(v))"
        case .nasogastricTube(let v): return "nasogastric_tube=\(b(v))"
        case .supportDevices(let v): return "support_devices=\(b(v))"
        }
    }
}

private func fmt(_ v: Double) -> String {
    v == v.rounded() && abs(v) < 1e9 ? String(Int(v)) : String(v)
}

public struct PhantomError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}

/// The mechanisms, evaluated in topological order.
public struct SCM: Sendable {
    public var parameters: SCMParameters
    public init(parameters: SCMParameters = SCMParameters()) { self.parameters = parameters }

    /// The factual attributes of a patient with this noise.
    public func sample(_ u: SCMNoise) -> Attributes { evaluate(u, doing: []) }

    /// Counterfactual attributes: the same noise, the interventions applied, and then either every
    /// descendant recomputed (the default) or everything else held at its factual value (`directOnly`).
    public func counterfactual(_ u: SCMNoise, factual: Attributes, doing interventions: [Intervention],
                               directOnly: Bool = false) -> Attributes {
        if directOnly {
            var a = factual
            for i in interventions { apply(i, to: &a, u) }
            return a
        }
        return evaluate(u, doing: interventions)
    }

    func evaluate(_ u: SCMNoise, doing interventions: [Intervention]) -> Attributes {
        let p = parameters
        func clamp(_ x: Double, _ lo: Double, _ hi: Double) -> Double { min(max(x, lo), hi) }
        var a = Attributes(age: 0, sex: .male, severity: 0, ctr: 0, effusion: .none, effusionVolume: 0,
                           pacemaker: false, endotrachealTube: false, centralVenousCatheter: false,
                           nasogastricTube: false, spuriousTie: false)
        // Roots.
        a.age = clamp((p.ageMean + p.ageSD * u.ageZ).rounded(), p.ageMin, p.ageMax)
        a.sex = u.sexU < p.probFemale ? .female : .male
        a.severity = DMath.pow(u.severityU, p.severityShape)
        applyAll(interventions, to: &a, u, stage: .roots)
        // age → CTR.
        a.ctr = clamp(p.ctrBase + p.ctrPerDecade * (a.age - p.ageMean) / 10 + p.ctrSD * u.ctrZ, p.ctrMin, p.ctrMax)
        applyAll(interventions, to: &a, u, stage: .heart)
        let cardio = a.cardiomegaly(p)
        // cardiomegaly → pacemaker.
        a.pacemaker = u.pacemakerU < (cardio ? p.pacemakerGivenCardiomegaly : p.pacemakerGivenNoCardiomegaly)
        // cardiomegaly, severity → effusion.
        let pEff = p.effusionBase + (cardio ? p.effusionFromCardiomegaly : 0) + p.effusionFromSeverity * a.severity
        a.effusion = u.effusionU < pEff ? side(u) : .none
        a.effusionVolume = a.effusion == .none ? 0 : naturalVolume(u, a.severity)
        applyAll(interventions, to: &a, u, stage: .effusion)
        // severity → tubes and lines.
        a.endotrachealTube = u.endotrachealTubeU < p.endotrachealTubeBase + p.endotrachealTubeFromSeverity * a.severity
        a.centralVenousCatheter = u.centralVenousCatheterU < p.centralVenousCatheterBase + p.centralVenousCatheterFromSeverity * a.severity
        a.nasogastricTube = u.nasogastricTubeU < p.nasogastricTubeBase + p.nasogastricTubeFromSeverity * a.severity
        // effusion → devices (spurious tie).
        a.spuriousTie = u.spuriousU < p.spurious
        if a.spuriousTie {
            if a.pleuralEffusion {
                a.centralVenousCatheter = true
            } else {
                a.pacemaker = false; a.endotrachealTube = false; a.centralVenousCatheter = false; a.nasogastricTube = false
            }
        }
        applyAll(interventions, to: &a, u, stage: .devices)
        return a
    }

    enum Stage { case roots, heart, effusion, devices }

    func stage(of i: Intervention) -> Stage {
        switch i {
        case .age, .sex, .severity: return .roots
        case .ctr, .cardiomegaly: return .heart
        case .pleuralEffusion, .effusionSide, .effusionVolume: return .effusion
        case .pacemaker, .endotrachealTube, .centralVenousCatheter, .nasogastricTube, .supportDevices: return .devices
        }
    }

    func applyAll(_ interventions: [Intervention], to a: inout Attributes, _ u: SCMNoise, stage s: Stage) {
        for i in interventions where stage(of: i) == s { apply(i, to: &a, u) }
    }

    func side(_ u: SCMNoise) -> EffusionSide {
        let p = parameters
        return u.effusionSideU < p.effusionLeft ? .left : (u.effusionSideU < p.effusionLeft + p.effusionRight ? .right : .bilateral)
    }

    func naturalVolume(_ u: SCMNoise, _ severity: Double) -> Double {
        let p = parameters
        return min(max(p.effusionVolumeMin + p.effusionVolumeFromSeverity * severity + p.effusionVolumeSpread * u.effusionVolumeU, 0.05), 1)
    }

    /// Sets the intervened node. Interventions that name a label rather than a value (cardiomegaly=0,
    /// pleural_effusion=1, support_devices=1) change the value as little as possible, and not at all when
    /// the label already holds, so that do(X = current value) is the identity.
    func apply(_ i: Intervention, to a: inout Attributes, _ u: SCMNoise) {
        let p = parameters
        switch i {
        case .age(let v): a.age = v
        case .sex(let s): a.sex = s
        case .severity(let v): a.severity = v
        case .ctr(let v): a.ctr = v
        case .cardiomegaly(let on):
            if on && !a.cardiomegaly(p) { a.ctr = max(a.ctr, p.cardiomegalyThreshold + 0.06) }
            if !on && a.cardiomegaly(p) { a.ctr = min(a.ctr, p.cardiomegalyThreshold - 0.04) }
        case .pleuralEffusion(let on):
            if on && a.effusion == .none { a.effusion = side(u); a.effusionVolume = naturalVolume(u, a.severity) }
            if !on { a.effusion = .none; a.effusionVolume = 0 }
        case .effusionSide(let s):
            if s == .none { a.effusionVolume = 0 } else if a.effusion == .none { a.effusionVolume = naturalVolume(u, a.severity) }
            a.effusion = s
        case .effusionVolume(let v):
            a.effusionVolume = a.effusion == .none ? 0 : v
        case .pacemaker(let v): a.pacemaker = v
        case .endotrachealTube(let v): a.endotrachealTube = v
        case .centralVenousCatheter(let v): a.centralVenousCatheter = v
        case .nasogastricTube(let v): a.nasogastricTube = v
        case .supportDevices(let on):
            if !on { a.pacemaker = false; a.endotrachealTube = false; a.centralVenousCatheter = false; a.nasogastricTube = false }
            if on && !a.supportDevices { a.centralVenousCatheter = true }
        }
    }
}
