import Core
import Datasets
import Foundation

/// What a multi-label classifier learns from each image: per label a target (1 present, 0 absent) and a mask that
/// is 0 where the label file does not say (a blank, or CheXpert's −1 under ``UncertainPolicy/ignore``), so that
/// the loss and the metrics leave those entries out instead of reading them as negatives.
///
/// Besides the findings, the label ``sex`` (`Sex`) is the patient's sex as the label file's loader read it (the Sex
/// column of CheXpert and of the phantom's manifest, NIH's Patient Gender, MIMIC-IV's gender, a DICOM header's
/// PatientSex, a generic file's `--sex-column`): positive (1) for a female patient, negative (0) for a male one,
/// unknown where the row does not say. A label file with a finding column of that name keeps its own values.
public struct LabelTargets: Sendable, Equatable {
    /// The label of the patient's sex: 1 female, 0 male.
    public static let sex = "Sex"

    public let labels: [String]
    public let policy: UncertainPolicy
    /// [image][label], 0 where masked.
    public let targets: [[Float]]
    /// [image][label]: 1 where the label is known.
    public let mask: [[Float]]

    public init(records: [Record], labels: [String], policy: UncertainPolicy) {
        self.labels = labels
        self.policy = policy
        var targets: [[Float]] = [], mask: [[Float]] = []
        for record in records {
            let findings = record.findings(policy)
            let states = labels.map { Self.state($0, of: record, findings: findings) }
            targets.append(states.map { $0 == true ? 1 : 0 })
            mask.append(states.map { $0 == nil ? 0 : 1 })
        }
        self.targets = targets
        self.mask = mask
    }

    public var count: Int { targets.count }

    /// Label `label` of `record` (whose findings under the policy are `findings`): the finding where the row states
    /// it, else for ``sex`` whether the patient is female; nil where unknown.
    static func state(_ label: String, of record: Record, findings: [String: Bool]) -> Bool? {
        if let stated = findings[label] { return stated }
        if label == sex { return record.sex.map { $0 == .female } }
        return nil
    }

    /// The canonical name of a requested label: `sex` in any case is ``sex``, a finding its canonical name.
    public static func canonical(_ name: String) -> String {
        name.trimmingCharacters(in: .whitespaces).lowercased() == sex.lowercased() ? sex : Findings.canonical(name)
    }

    /// The known (target, index) pairs of label `k`.
    public func known(_ k: Int) -> (indices: [Int], positives: [Bool]) {
        let indices = targets.indices.filter { mask[$0][k] > 0 }
        return (indices, indices.map { targets[$0][k] > 0 })
    }

    /// The canonical names of `requested` (`Effusion` → `Pleural Effusion`), each checked against the findings the
    /// records mention; an unknown one is refused naming `file` and its header, so the user sees what is there.
    public static func resolve(_ requested: [String], records: [Record], file: String, header: [String]) throws -> [String] {
        var present = Set(records.flatMap(\.labels.keys))
        let names = requested.map(canonical)
        if records.contains(where: { $0.sex != nil }) { present.insert(sex) }
        if let missing = names.first(where: { !present.contains($0) }) {
            if missing == sex {
                throw DataFileError(file: file, "--labels \"\(sex)\": no row gives the patient's sex (no Sex, Patient Gender or "
                                    + "gender column, no --sex-column, or it is blank everywhere); the header has: "
                                    + header.joined(separator: ", "))
            }
            let findings = present.subtracting([Findings.noFinding, sex]).sorted()
            throw DataFileError(file: file, "--labels \"\(missing)\": no row states this finding (no such column, or it is blank "
                                + "everywhere); the header has: \(header.joined(separator: ", "))"
                                + (findings.isEmpty ? "" : "; findings stated: \(findings.joined(separator: ", "))"))
        }
        if let repeated = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
            throw DataFileError(file: file, "--labels names \"\(repeated)\" twice")
        }
        return names
    }
}

/// A binary attribute of each image read from a column of the label file (Support Devices, Sex, a device
/// subtype): the attribute a shortcut study groups images by.
///
/// Values are read as: 1, 1.0, true, yes → true; 0, 0.0, false, no → false; blank and −1 (uncertain) → unknown.
/// Any other column must hold exactly two distinct values, and the one later in alphabetical order is true
/// (Sex: F false, M true); `meaning` says which is which.
public struct BinaryAttribute: Sendable, Equatable {
    public let column: String
    /// Per record; nil where unknown.
    public let values: [Bool?]
    /// The column's spelling of true and of false.
    public let meaning: (positive: String, negative: String)

    public static func == (a: Self, b: Self) -> Bool {
        a.column == b.column && a.values == b.values && a.meaning == b.meaning
    }

    public init(column: String, values: [Bool?], meaning: (positive: String, negative: String) = ("1", "0")) {
        self.column = column
        self.values = values
        self.meaning = meaning
    }

    /// The attribute of each record, found by the record's manifest line in `table` (the table the records were
    /// read from).
    public static func read(column: String, table: CSVTable, records: [Record]) throws -> BinaryAttribute {
        guard let c = table.column(column) else {
            throw DataFileError(file: table.file, line: 1, "no column \"\(column)\"; the header has: "
                                + table.header.joined(separator: ", "))
        }
        let raw = try columnValues(c, table: table, records: records)
        let yes: Set = ["1", "1.0", "true", "yes"], no: Set = ["0", "0.0", "false", "no"], unknown: Set = ["", "-1", "-1.0"]
        let other = Set(raw.map { $0.lowercased() }).subtracting(yes).subtracting(no).subtracting(unknown)
        if other.isEmpty {
            return BinaryAttribute(column: column, values: raw.map { v in
                yes.contains(v.lowercased()) ? true : no.contains(v.lowercased()) ? false : nil
            })
        }
        let distinct = Set(raw.filter { !unknown.contains($0) }).sorted()
        guard distinct.count == 2 else {
            throw DataFileError(file: table.file, "column \"\(column)\" is not a binary attribute: expected 1/0 or two distinct "
                                + "values, found \(distinct.count) (\(distinct.prefix(5).joined(separator: ", "))\(distinct.count > 5 ? ", ..." : ""))")
        }
        return BinaryAttribute(column: column, values: raw.map { unknown.contains($0) ? nil : $0 == distinct[1] },
                               meaning: (distinct[1], distinct[0]))
    }

    public func subset(_ indices: [Int]) -> BinaryAttribute {
        BinaryAttribute(column: column, values: indices.map { values[$0] }, meaning: meaning)
    }
}

/// Loss weights that balance the (label, attribute) groups, one per (image, label) entry.
///
/// For each label k, the images whose label k and attribute are both known fall in up to four groups g = (y, a).
/// Each entry of such an image gets the weight
///
///     w = n_k / (G_k · n_{k,g})
///
/// with n_k the number of those images, G_k the number of non-empty groups and n_{k,g} the size of its group:
/// inverse group frequency, normalised so that the weights of label k average exactly 1 (each group then weighs
/// n_k / G_k in the loss, as much as every other group: the re-weighting of Sagawa et al. 2020's ERM baseline and
/// of "group-balanced" shortcut studies). Entries whose label or attribute is unknown keep weight 1.
public func groupBalancingWeights(targets: LabelTargets, attribute: BinaryAttribute) -> [[Float]] {
    precondition(targets.count == attribute.values.count, "groupBalancingWeights: \(targets.count) images, "
                 + "\(attribute.values.count) attribute values")
    var weights = [[Float]](repeating: [Float](repeating: 1, count: targets.labels.count), count: targets.count)
    for k in targets.labels.indices {
        var members: [Int: [Int]] = [:]
        for i in 0..<targets.count where targets.mask[i][k] > 0 {
            guard let a = attribute.values[i] else { continue }
            members[(targets.targets[i][k] > 0 ? 2 : 0) + (a ? 1 : 0), default: []].append(i)
        }
        let n = Double(members.values.reduce(0) { $0 + $1.count }), groups = Double(members.count)
        for group in members.values {
            let w = Float(n / (groups * Double(group.count)))
            for i in group { weights[i][k] = w }
        }
    }
    return weights
}
