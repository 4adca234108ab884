import Core
import Foundation

/// A finding's state in a label file. A finding a row does not mention has no entry at all.
public enum LabelState: Sendable, Equatable, Codable {
    case positive, negative, uncertain

    /// CheXpert's encoding: 1 positive, 0 negative, -1 uncertain, blank not mentioned (nil).
    public init?(chexpert text: String, file: String, line: Int, column: String) throws {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.isEmpty { return nil }
        switch Double(t) {
        case .some(1): self = .positive
        case .some(0): self = .negative
        case .some(-1): self = .uncertain
        default:
            throw DataFileError(file: file, line: line,
                                "column \"\(column)\": \"\(text)\" is not a label (expected 1, 0, -1 or blank)")
        }
    }
}

/// What to make of an uncertain label (CheXpert's -1), as in the CheXpert paper's U-Ignore / U-Ones / U-Zeros.
public enum UncertainPolicy: String, Sendable, CaseIterable {
    /// Treated as not mentioned: neither stated present nor absent.
    case ignore
    case positive
    case negative
}

/// One image of a dataset with its patient, demographics and findings.
public struct Record: Sendable, Equatable {
    /// The image path as the manifest gives it (relative to the image root unless absolute).
    public var path: String
    public var patientID: String
    public var sex: Sex?
    public var age: Int?
    /// View position (PA, AP, LL, ...) or "Frontal"/"Lateral", when the manifest says.
    public var view: String?
    /// Finding name (canonical, see ``Findings``) → state. Absent keys were not mentioned.
    public var labels: [String: LabelState]
    /// The line of the manifest this record came from (for error messages), 0 if made in code.
    public var line: Int
    /// What the label file says of its findings beyond present or absent (an effusion's side and size, how enlarged the
    /// heart is), where it says it; a caption template with `detail` on says it.
    public var detail: FindingDetail

    public init(path: String, patientID: String, sex: Sex? = nil, age: Int? = nil, view: String? = nil,
                labels: [String: LabelState] = [:], line: Int = 0, detail: FindingDetail = FindingDetail()) {
        self.path = path
        self.patientID = patientID
        self.sex = sex
        self.age = age
        self.view = view
        self.labels = labels
        self.line = line
        self.detail = detail
    }

    /// Each mentioned finding as present (true) or absent (false) under `policy`; "No Finding" excluded.
    public func findings(_ policy: UncertainPolicy = .ignore) -> [String: Bool] {
        var out: [String: Bool] = [:]
        for (name, state) in labels where name != Findings.noFinding {
            switch (state, policy) {
            case (.positive, _), (.uncertain, .positive): out[name] = true
            case (.negative, _), (.uncertain, .negative): out[name] = false
            case (.uncertain, .ignore): break
            }
        }
        return out
    }

    /// Whether the image is a frontal view (PA or AP, or CheXpert's "Frontal"); true when the view is unknown.
    public var isFrontal: Bool {
        guard let view = view?.uppercased() else { return true }
        return ["PA", "AP", "FRONTAL", "AP AXIAL", "PA LLD", "AP LLD", "AP RLD", "PA RLD"].contains(view)
    }
}

/// Finding names: CheXpert's 14 observations are canonical; other datasets' names are mapped onto them where
/// they mean the same thing (NIH's "Effusion" is "Pleural Effusion").
public enum Findings {
    public static let noFinding = "No Finding"

    /// CheXpert's observations in its column order (also MIMIC-CXR-JPG's CheXpert-labeler columns).
    public static let chexpert = [
        "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
        "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
        "Fracture", "Support Devices",
    ]

    /// NIH ChestX-ray14's labels, canonical names.
    public static let nih = [
        "Atelectasis", "Cardiomegaly", "Pleural Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
        "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural Thickening", "Hernia",
    ]

    /// Support-device subtypes that Prism's phantom labels separately.
    public static let deviceSubtypes = ["Pacemaker", "Endotracheal Tube", "Central Venous Catheter", "Nasogastric Tube"]

    /// The canonical name for a dataset's spelling (`Effusion`, `Pleural_Thickening`, `support devices`).
    public static func canonical(_ name: String) -> String {
        let spaced = name.replacingOccurrences(of: "_", with: " ").trimmingCharacters(in: .whitespaces)
        if spaced.lowercased() == "effusion" { return "Pleural Effusion" }
        let known = chexpert + nih + deviceSubtypes
        return known.first { $0.lowercased() == spaced.lowercased() } ?? spaced
    }

    /// The order findings are listed in a caption: CheXpert's, then NIH's others, then any other name.
    public static func captionOrder(_ a: String, _ b: String) -> Bool {
        let order = chexpert + nih.filter { !chexpert.contains($0) } + deviceSubtypes
        switch (order.firstIndex(of: a), order.firstIndex(of: b)) {
        case let (i?, j?): return i < j
        case (.some, nil): return true
        case (nil, .some): return false
        case (nil, nil): return a < b
        }
    }
}
