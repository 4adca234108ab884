import Core
import Datasets
import Evaluation
import Phantom

/// An edit as the audit asks it, in words: "remove cardiomegaly", "add pleural effusion", "set age=80", and with
/// the detail vocabulary "add a small right pleural effusion", "remove the pacemaker".
public struct AuditEdit: Sendable, Equatable {
    public let text: String
    public let label: LabelEdit
    /// The manifest label (or "Age"/"Sex") the edit's caption changes.
    public let target: String
    /// The finding and detail an add or remove names; nil for a set.
    public private(set) var phrase: FindingPhrase?

    /// Parses "remove X", "add X" or "set key=value" (X named by its label or caption word, any case, with an
    /// article and detail as ``FindingPhrase`` reads them).
    public init(parsing text: String, template: CaptionTemplate = CaptionTemplate()) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let words = trimmed.split(separator: " ", maxSplits: 1).map(String.init)
        guard words.count == 2 else { throw Self.error(text) }
        switch words[0].lowercased() {
        case "remove": label = .remove(words[1])
        case "add": label = .add(words[1])
        case "set": label = try LabelEdit.parseSet(words[1])
        default: throw Self.error(text)
        }
        // Applying the edit to an empty record checks it (a known finding, detail it takes); for a set, what it
        // changes names the label. An added device also sets the umbrella label: the phrase's finding is the target.
        let before = Record(path: "", patientID: "")
        let after = try label.apply(to: before, template: template)
        if let phrase = try label.finding(template: template) {
            target = phrase.finding
            self.phrase = phrase
        } else if after.age != before.age { target = "Age" } else if after.sex != before.sex { target = "Sex" } else {
            guard let changed = after.labels.keys.first else { throw Self.error(text) }
            target = changed
        }
        self.text = trimmed
    }

    static func error(_ text: String) -> DataFileError {
        DataFileError(file: "--edit", "\"\(text)\" is not an edit: use \"remove FINDING\", \"add FINDING\" or "
                      + "\"set KEY=VALUE\" (e.g. \"remove cardiomegaly\", \"add pleural effusion\", \"set age=80\")")
    }

    /// The phantom's do() for this edit: the label set to 0 or 1, or the attribute to the value. Added detail sets
    /// the side, the volume or the CTR to the middle of the named band on `parameters`' scale (``PhantomDetail``).
    public func interventions(parameters: SCMParameters = SCMParameters()) throws -> [Intervention] {
        switch label {
        case .add where phrase?.hasDetail == true: return PhantomDetail.interventions(adding: phrase!, parameters)
        case .remove: return [try Intervention(parsing: "\(target)=0")]
        case .add: return [try Intervention(parsing: "\(target)=1")]
        case .set(let key, let value): return [try Intervention(parsing: "\(key)=\(value)")]
        }
    }

    /// Whether the edit changes anything for an image with these labels (removing what is absent is no edit).
    public func applies(to labels: [String: Double]) -> Bool {
        guard let v = labels[target] else { return true }
        switch label {
        case .remove: return v >= 0.5
        case .add: return v < 0.5
        case .set(_, let value):
            if target == "Age", let years = Double(value) { return years != v }
            if target == "Sex", let s = Sex(parsing: value) { return (s == .female ? 1.0 : 0.0) != v }
            return true
        }
    }
}
