import Core
import Foundation

/// How the label columns of a CSV spell a finding's states. Blank is always "not mentioned".
///
/// A value matches a state when it equals one of the state's spellings, ignoring case and surrounding spaces, or when
/// both are numbers of the same value (so CheXpert's `1.0` reads as `1`).
public struct LabelValues: Sendable, Equatable {
    public var positive: [String]
    public var negative: [String]
    public var uncertain: [String]

    public init(positive: [String], negative: [String], uncertain: [String] = []) {
        self.positive = positive
        self.negative = negative
        self.uncertain = uncertain
    }

    /// CheXpert's encoding: 1 positive, 0 negative, -1 uncertain.
    public static let chexpert = LabelValues(positive: ["1"], negative: ["0"], uncertain: ["-1"])

    /// A problem in a `positive=...,negative=...[,uncertain=...]` text.
    public struct ParseError: Error, CustomStringConvertible, Sendable, Equatable {
        public let description: String
    }

    /// Reads `positive=yes,negative=no,uncertain=maybe`; a state takes several spellings separated by `|`
    /// (`positive=yes|y,negative=no|n`). positive and negative are required, uncertain is optional.
    public init(parsing text: String) throws {
        var states: [String: [String]] = [:]
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, ["positive", "negative", "uncertain"].contains(parts[0].lowercased()) else {
                throw ParseError(description: "\"\(item)\" is not positive=VALUE, negative=VALUE or uncertain=VALUE "
                                 + "(e.g. positive=yes,negative=no,uncertain=maybe)")
            }
            let state = parts[0].lowercased()
            guard states[state] == nil else { throw ParseError(description: "\(state) is given twice") }
            let spellings = parts[1].split(separator: "|", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard !spellings.contains(where: \.isEmpty) else {
                throw ParseError(description: "\(state)=\(parts[1]): a value is empty (a blank field always means "
                                 + "\"not mentioned\")")
            }
            states[state] = spellings
        }
        guard let positive = states["positive"], let negative = states["negative"] else {
            throw ParseError(description: "\"\(text)\" must give positive= and negative= (uncertain= is optional)")
        }
        self.init(positive: positive, negative: negative, uncertain: states["uncertain"] ?? [])
        let all = positive + negative + uncertain
        if let clash = all.first(where: { v in all.filter { Self.same($0, v) }.count > 1 }) {
            throw ParseError(description: "\"\(clash)\" is given to more than one state (or twice)")
        }
    }

    static func same(_ a: String, _ b: String) -> Bool {
        if a.lowercased() == b.lowercased() { return true }
        if let x = Double(a), let y = Double(b) { return x == y }
        return false
    }

    /// The state `text` spells; nil when blank. Any other value is refused naming the file, line, column and value.
    public func state(_ text: String, file: String, line: Int, column: String) throws -> LabelState? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.isEmpty { return nil }
        if positive.contains(where: { Self.same($0, t) }) { return .positive }
        if negative.contains(where: { Self.same($0, t) }) { return .negative }
        if uncertain.contains(where: { Self.same($0, t) }) { return .uncertain }
        throw DataFileError(file: file, line: line, "column \"\(column)\": \"\(text)\" is not a label value (expected "
                            + expected + " or blank)")
    }

    /// "yes (positive), no (negative), maybe (uncertain)".
    var expected: String {
        [(positive, "positive"), (negative, "negative"), (uncertain, "uncertain")].filter { !$0.0.isEmpty }
            .map { "\($0.0.joined(separator: "|")) (\($0.1))" }.joined(separator: ", ")
    }
}

/// Which columns of a CSV hold what, for a label file in no format Prism knows: the image path, the findings,
/// and optionally the patient, sex, age and view. It gives the same ``Record``s as the known manifests.
public struct ColumnMapping: Sendable, Equatable {
    /// The image path (relative to the image root unless absolute).
    public var path: String
    /// The finding columns; each becomes a finding named by its column (``Findings/canonical(_:)``).
    public var labels: [String]
    public var values: LabelValues
    /// Images of one patient fall in one part of a split; without a patient column each image is its own patient.
    public var patient: String?
    /// F, M, female, male (any case); blank or unknown: not known.
    public var sex: String?
    /// Years.
    public var age: String?
    /// PA, AP, lateral, ... (``Record/isFrontal`` reads it).
    public var view: String?

    public init(path: String = "Path", labels: [String], values: LabelValues = .chexpert, patient: String? = nil,
                sex: String? = nil, age: String? = nil, view: String? = nil) {
        self.path = path
        self.labels = labels
        self.values = values
        self.patient = patient
        self.sex = sex
        self.age = age
        self.view = view
    }

    /// The findings the label columns become, in their order.
    public var findings: [String] { labels.map(Findings.canonical) }
}

extension Manifest {
    /// Records of a CSV whose columns `columns` names. Every named column must exist (the error lists them all and
    /// the header); every label value must be one of `columns.values` or blank.
    public static func generic(_ table: CSVTable, columns: ColumnMapping) throws -> [Record] {
        guard !columns.labels.isEmpty else {
            throw DataFileError(file: table.file, "no label columns named; the header has: " + table.header.joined(separator: ", "))
        }
        if let twice = columns.findings.first(where: { f in columns.findings.filter { $0 == f }.count > 1 }) {
            throw DataFileError(file: table.file, "two label columns name the finding \"\(twice)\"")
        }
        let wanted: [(String, String)] = [(columns.path, "the path column")] + columns.labels.map { ($0, "a label column") }
            + [(columns.patient, "the patient column"), (columns.sex, "the sex column"), (columns.age, "the age column"),
               (columns.view, "the view column")].compactMap { name, role in name.map { ($0, role) } }
        let missing = wanted.filter { !table.hasColumn($0.0) }
        guard missing.isEmpty else {
            throw DataFileError(file: table.file, line: 1, "no column " + missing.map { "\"\($0.0)\" (\($0.1))" }
                                .joined(separator: ", ") + "; the header has: " + table.header.joined(separator: ", "))
        }
        let path = table.column(columns.path)!
        let labels = columns.labels.map { (table.column($0)!, $0, Findings.canonical($0)) }
        let patient = columns.patient.flatMap(table.column)
        let sex = columns.sex.flatMap(table.column)
        let age = columns.age.flatMap(table.column)
        let view = columns.view.flatMap(table.column)
        return try zip(table.rows, table.lines).map { row, line in
            let p = row[path].trimmingCharacters(in: .whitespaces)
            guard !p.isEmpty else { throw DataFileError(file: table.file, line: line, "column \"\(columns.path)\": empty path") }
            var states: [String: LabelState] = [:]
            for (i, column, finding) in labels {
                states[finding] = try columns.values.state(row[i], file: table.file, line: line, column: column)
            }
            var id = p
            if let patient {
                id = row[patient].trimmingCharacters(in: .whitespaces)
                guard !id.isEmpty else {
                    throw DataFileError(file: table.file, line: line, "column \"\(columns.patient!)\": empty patient")
                }
            }
            let v = view.map { row[$0].trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
            return Record(path: p, patientID: id,
                          sex: try sex.flatMap { try parseSex(row[$0], file: table.file, line: line, column: columns.sex!) },
                          age: try age.flatMap { try parseAge(row[$0], file: table.file, line: line, column: table.header[$0]) },
                          view: v, labels: states, line: line)
        }
    }

    /// F/M/female/male in any case; blank, "unknown" and "U" are not known; anything else is refused.
    static func parseSex(_ text: String, file: String, line: Int, column: String) throws -> Sex? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.isEmpty || ["unknown", "u"].contains(t.lowercased()) { return nil }
        guard let sex = Sex(parsing: t) else {
            throw DataFileError(file: file, line: line, "column \"\(column)\": \"\(text)\" is not a sex (expected F, M, "
                                + "female, male, unknown or blank)")
        }
        return sex
    }
}
