import Core
import Foundation
import Imaging

/// Everything needed to re-render one phantom and its counterfactuals: the SCM parameters, the patient's
/// exogenous noise and anatomy, and its factual attributes. Stored as `cases/ID.json` in a dataset.
public struct PhantomCase: Codable, Equatable, Sendable {
    public var id: String
    public var size: Int
    public var bitDepth: Int
    public var parameters: SCMParameters
    public var noise: SCMNoise
    public var anatomy: Anatomy
    /// The factual attributes (a function of `noise` and `parameters`, stored for readers of the JSON).
    public var attributes: Attributes

    /// Case `index` of the set generated from `seed`: independent of every other case, so any case can be
    /// regenerated alone, and of the image size.
    public init(seed: UInt64, index: Int, parameters: SCMParameters = SCMParameters(), size: Int = 256,
                bitDepth: Int = 8) {
        let root = SplitMix64(seed: seed).fork(UInt64(index) &+ 1)
        var noiseRNG = root.fork(1), anatomyRNG = root.fork(2)
        id = String(format: "%06d", index)
        self.size = size
        self.bitDepth = bitDepth
        self.parameters = parameters
        noise = SCMNoise(rng: &noiseRNG)
        anatomy = Anatomy(rng: &anatomyRNG)
        attributes = SCM(parameters: parameters).sample(noise)
    }

    public var scm: SCM { SCM(parameters: parameters) }

    /// The factual image.
    public func render(masks: Bool = false, size: Int? = nil) -> Rendering {
        render(attributes, masks: masks, size: size)
    }

    /// The image of this patient with the given attributes (everything exogenous held fixed).
    public func render(_ attributes: Attributes, masks: Bool = false, size: Int? = nil) -> Rendering {
        PhantomRenderer.render(anatomy, attributes, parameters: parameters, size: size ?? self.size,
                               bitDepth: bitDepth, masks: masks)
    }

    /// Counterfactual attributes under do(interventions): abduction (this case's noise), action, prediction.
    public func counterfactualAttributes(_ interventions: [Intervention], directOnly: Bool = false) -> Attributes {
        scm.counterfactual(noise, factual: attributes, doing: interventions, directOnly: directOnly)
    }

    public static func load(_ url: URL) throws -> PhantomCase {
        do {
            return try JSONFile.decode(PhantomCase.self, from: url)
        } catch let error as JSONFileError where error.problem == "missing" && error.key.isEmpty {
            throw PhantomError("\(url.path): cannot read the case file (missing)")
        } catch let error as JSONFileError {
            throw PhantomError("\(error.file): not a phantom case file: "
                               + (error.key.isEmpty ? error.problem : "'\(error.key)' \(error.problem)"))
        }
    }

    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }
}

/// The manifest columns for one image (CheXpert-style labels plus the phantom's own).
public struct PhantomLabels: Sendable {
    public static let header = [
        "Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", "No Finding", "Cardiomegaly", "Pleural Effusion",
        "Support Devices", "Pacemaker", "Endotracheal Tube", "Central Venous Catheter", "Nasogastric Tube",
        "Effusion Side", "Effusion Volume", "CTR", "Severity",
    ]

    public static func row(path: String, _ a: Attributes, _ p: SCMParameters, anatomy: Anatomy) -> [String] {
        func b(_ v: Bool) -> String { v ? "1" : "0" }
        let ap = anatomy.markerText == "AP" || anatomy.markerText == "PORTABLE" || a.endotrachealTube
        return [
            path, a.sex == .female ? "Female" : "Male", String(Int(a.age)), "Frontal", ap ? "AP" : "PA",
            b(a.noFinding(p)), b(a.cardiomegaly(p)), b(a.pleuralEffusion), b(a.supportDevices), b(a.pacemaker),
            b(a.endotrachealTube), b(a.centralVenousCatheter), b(a.nasogastricTube), a.effusion.rawValue,
            String(format: "%.3f", a.effusionVolume), String(format: "%.4f", a.ctr), String(format: "%.3f", a.severity),
        ]
    }
}
