import Datasets
import Phantom

/// The detail words of the caption vocabulary on the phantom's scales: which effusion volumes "small" means, which
/// CTRs "moderate cardiomegaly" means, and so the phantom's true counterfactual of an edit that names them.
///
/// A band's open end is closed by what the phantom can draw: "small" starts at the smallest volume the causal model
/// gives (effusionVolumeMin), "large" ends at the largest, "severe" ends at ctrMax, "mild" starts at the
/// cardiomegaly threshold.
public enum PhantomDetail {
    /// The volumes `size` covers on this phantom.
    public static func volumes(_ size: EffusionSize, _ p: SCMParameters) -> ClosedRange<Double> {
        let smallest = max(p.effusionVolumeMin, 0.05)
        let largest = min(p.effusionVolumeMin + p.effusionVolumeFromSeverity + p.effusionVolumeSpread, 1)
        return range(size.bounds.above ?? smallest, size.bounds.atMost ?? largest)
    }

    /// The cardiothoracic ratios `grade` covers on this phantom.
    public static func ratios(_ grade: CardiomegalyGrade, _ p: SCMParameters) -> ClosedRange<Double> {
        range(max(grade.bounds.above, p.cardiomegalyThreshold), grade.bounds.atMost ?? p.ctrMax)
    }

    /// A band as a range; a graph whose own limits fall inside the band narrows it, down to one value.
    static func range(_ low: Double, _ high: Double) -> ClosedRange<Double> { min(low, high)...high }

    /// The middle of a band, rounded to 0.001 (what `prism phantom counterfactual --do` is then told).
    public static func middle(_ r: ClosedRange<Double>) -> Double { ((r.lowerBound + r.upperBound) / 2 * 1000).rounded() / 1000 }

    /// do() for adding a finding with the detail a phrase names: the label on, then the named side, and the middle of
    /// the named band. "add a small right pleural effusion" is do(pleural_effusion=1, effusion=right,
    /// effusion_volume=0.325) with the default graph; "add moderate cardiomegaly" do(ctr=0.55). Unnamed detail is the
    /// patient's own draw (pleural_effusion=1 keeps the noise's side and volume).
    public static func interventions(adding phrase: FindingPhrase, _ p: SCMParameters) -> [Intervention] {
        switch phrase.finding {
        case "Pleural Effusion":
            var out: [Intervention] = [.pleuralEffusion(true)]
            if let side = phrase.side { out.append(.effusionSide(EffusionSide(side))) }
            if let size = phrase.size { out.append(.effusionVolume(middle(volumes(size, p)))) }
            return out
        case "Cardiomegaly":
            return [phrase.grade.map { .ctr(middle(ratios($0, p))) } ?? .cardiomegaly(true)]
        default:
            return PhantomEdit.labelIntervention(phrase.finding, on: true).map { [$0] } ?? []
        }
    }
}

extension EffusionSide {
    /// The phantom's side of a caption's side (both the patient's).
    public init(_ side: Laterality) {
        switch side {
        case .left: self = .left
        case .right: self = .right
        case .bilateral: self = .bilateral
        }
    }
}
