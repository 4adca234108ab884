import Core
import Datasets
import Foundation

/// One edit of a counterfactual dataset, said the way `prism edit --remove/--add` says it: "remove support
/// devices", "add pleural effusion". It turns a record's caption into the edited caption (through the caption
/// template, so the edit speaks the model's language) and changes one label of the manifest.
public struct DatasetEdit: Sendable, Equatable {
    /// The edit as given ("remove support devices").
    public let text: String
    /// The finding it changes, by its canonical name ("Support Devices").
    public let finding: String
    /// Whether the finding becomes present (add) or absent (remove).
    public let makesPresent: Bool

    /// Parses "remove FINDING" or "add FINDING". The finding is named by its canonical name or its caption words,
    /// in any case, and must be one of `labels` (the manifest's): anything else is refused naming them.
    public init(_ text: String, labels: [String], template: CaptionTemplate = CaptionTemplate()) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let words = trimmed.split(separator: " ", maxSplits: 1).map(String.init)
        guard words.count == 2, ["remove", "add"].contains(words[0].lowercased()) else {
            throw DataFileError(file: "--edit", "\"\(text)\": expected \"remove FINDING\" or \"add FINDING\" "
                                + "(e.g. \"remove support devices\"); the manifest's labels: " + labels.joined(separator: ", "))
        }
        let name = words[1].trimmingCharacters(in: .whitespaces)
        guard let finding = Self.label(named: name, in: labels, template: template) else {
            throw DataFileError(file: "--edit", "\"\(text)\": \"\(name)\" is not a label of the manifest; its labels: "
                                + labels.joined(separator: ", "))
        }
        self.text = trimmed
        self.finding = finding
        self.makesPresent = words[0].lowercased() == "add"
    }

    /// The label of `labels` that `name` names (canonical name or caption words, any case), nil when none does.
    static func label(named name: String, in labels: [String], template: CaptionTemplate) -> String? {
        let wanted = name.trimmingCharacters(in: .whitespaces).lowercased()
        let canonical = Findings.canonical(name)
        return labels.first { $0 == canonical || $0.lowercased() == wanted || template.word(for: $0).lowercased() == wanted }
    }

    /// A file-name-safe name: `remove-support-devices`.
    public var slug: String { LabelEdit.slugify(text) }

    /// The edit as Datasets' label edit.
    public var labelEdit: LabelEdit { makesPresent ? .add(finding) : .remove(finding) }

    /// The edited record when the edit applies to `record` (the finding is present for a removal, not present for an
    /// addition, and the caption changes), nil otherwise.
    public func apply(to record: Record, template: CaptionTemplate) -> Record? {
        let present = record.findings(template.uncertainPolicy)[finding] == true
        guard present != makesPresent else { return nil }
        var edited = record
        edited.labels[finding] = makesPresent ? .positive : .negative
        return template.caption(for: edited) == template.caption(for: record) ? nil : edited
    }
}

/// `--where "Support Devices=1,Sex=Female"`: rows kept when every condition holds. A label of the manifest is
/// compared by its state (1, 0, -1, or blank for not mentioned, as CheXpert writes them, 1.0 and 1 alike); any
/// other column by its text (case-insensitive).
public struct RowFilter: Sendable, Equatable {
    public enum Condition: Sendable, Equatable {
        case label(String, LabelState?)
        case column(Int, String, String)
    }

    public let conditions: [Condition]
    /// The filter as given ("" when none).
    public let text: String

    public static let all = RowFilter(conditions: [], text: "")

    init(conditions: [Condition], text: String) {
        self.conditions = conditions
        self.text = text
    }

    /// Parses `Col=V[,Col2=V2]` against the manifest's labels and the table's columns; an unknown name is refused
    /// naming both.
    public init(_ text: String, manifest: SourceManifest, template: CaptionTemplate = CaptionTemplate()) throws {
        var conditions: [Condition] = []
        for item in text.split(separator: ",") where !item.trimmingCharacters(in: .whitespaces).isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty else {
                throw DataFileError(file: "--where", "\"\(item)\" is not COLUMN=VALUE (e.g. \"Support Devices=1\")")
            }
            if let label = DatasetEdit.label(named: parts[0], in: manifest.labels, template: template) {
                guard let mention = Self.mention(parts[1]) else {
                    throw DataFileError(file: "--where", "\(item): \"\(parts[1])\" is not a label value (1, 0, -1, or blank for not mentioned)")
                }
                conditions.append(.label(label, mention.state))
            } else if let column = manifest.table.header.firstIndex(where: { $0.lowercased() == parts[0].lowercased() }) {
                conditions.append(.column(column, manifest.table.header[column], parts[1]))
            } else {
                throw DataFileError(file: "--where", "\"\(parts[0])\" is neither a label nor a column of \(manifest.table.file); "
                                    + "its labels: \(manifest.labels.joined(separator: ", ")); its columns: "
                                    + manifest.table.header.joined(separator: ", "))
            }
        }
        guard !conditions.isEmpty else { throw DataFileError(file: "--where", "no condition in \"\(text)\"") }
        self.init(conditions: conditions, text: text)
    }

    /// A label value as a condition: a state, or none for blank (not mentioned).
    struct Mention { let state: LabelState? }

    /// nil when `text` is not a label value.
    static func mention(_ text: String) -> Mention? {
        if text.isEmpty { return Mention(state: nil) }
        switch Double(text) {
        case .some(1): return Mention(state: .positive)
        case .some(0): return Mention(state: .negative)
        case .some(-1): return Mention(state: .uncertain)
        default: return nil
        }
    }

    /// Whether row `i` of `manifest` passes.
    public func accepts(_ i: Int, of manifest: SourceManifest) -> Bool {
        conditions.allSatisfy { condition in
            switch condition {
            case let .label(label, state): return manifest.records[i].labels[label] == state
            case let .column(column, _, value):
                return manifest.table.rows[i][column].trimmingCharacters(in: .whitespaces).lowercased() == value.lowercased()
            }
        }
    }
}

/// `--shard K/N`: the images whose index (among the selected rows, in manifest order) is K modulo N, so that all
/// the edits of an image, which share one inversion, fall on one shard. K counts from 0 (as `$SLURM_ARRAY_TASK_ID`).
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public static let whole = Shard(index: 0, count: 1)

    public init(index: Int, count: Int) {
        precondition(count >= 1 && (0..<count).contains(index))
        self.index = index
        self.count = count
    }

    /// Parses "K/N" with 0 <= K < N.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]), n >= 1, k >= 0, k < n else {
            throw DataFileError(file: "--shard", "\"\(text)\" is not K/N with 0 <= K < N (K counts from 0, as $SLURM_ARRAY_TASK_ID)")
        }
        self.init(index: k, count: n)
    }

    public func contains(imageIndex i: Int) -> Bool { i % count == index }

    public var description: String { "\(index)/\(count)" }
}
