import Core
import Datasets
import Foundation

/// The numeric targets a classifier regresses, per image (one linear output each, trained with a masked mean
/// squared error on the standardised value and reported as a mean absolute error in the target's units).
///
/// `Age` (any case) is the patient's age in years as the label file's loader read it: the Age column of CheXpert
/// and of the phantom's manifest, NIH's Patient Age, MIMIC-IV's anchor_age, a DICOM header's PatientAge, a generic
/// file's `--age-column` (and, where none gave an age, a column named Age). Any other name is a numeric column of
/// the label file (the phantom's CTR, Severity). A blank value is unknown: masked out of the loss and left out of
/// every metric; anything else that is not a number is refused naming the file, the line and the column.
public struct RegressionTargets: Sendable, Equatable {
    public static let age = "Age"

    public let names: [String]
    /// [image][target], nil where unknown.
    public let values: [[Double?]]

    public init(names: [String], values: [[Double?]]) {
        precondition(values.allSatisfy { $0.count == names.count }, "RegressionTargets: a row without one value per target")
        self.names = names
        self.values = values
    }

    /// No targets for `count` images.
    public static func none(count: Int) -> RegressionTargets {
        RegressionTargets(names: [], values: Array(repeating: [], count: count))
    }

    public var count: Int { values.count }

    /// The images whose target `j` is known, and their values.
    public func known(_ j: Int) -> (indices: [Int], values: [Double]) {
        let indices = values.indices.filter { values[$0][j] != nil }
        return (indices, indices.map { values[$0][j]! })
    }

    /// The mean and (population) standard deviation of target `j`'s known values, and how many there are.
    public func statistics(_ j: Int) -> (mean: Double, std: Double, count: Int) {
        let v = known(j).values
        guard !v.isEmpty else { return (.nan, .nan, 0) }
        let mean = v.reduce(0, +) / Double(v.count)
        let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count)
        return (mean, variance.squareRoot(), v.count)
    }

    public func subset(_ indices: [Int]) -> RegressionTargets {
        RegressionTargets(names: names, values: indices.map { values[$0] })
    }

    /// The canonical spelling of a requested target (`age` → `Age`; other names as given, trimmed).
    public static func canonical(_ name: String) -> String {
        let t = name.trimmingCharacters(in: .whitespaces)
        return t.lowercased() == age.lowercased() ? age : t
    }

    /// The targets `requested` of each record. `table` is the label file the records were read from (nil for a
    /// folder of class folders, which has only what the records carry); `file` and `header` name the data in errors.
    /// An unknown column, a non-numeric value and a name asked twice are refused naming the file and the column.
    public static func read(_ requested: [String], records: [Record], table: CSVTable?, file: String,
                            header: [String]) throws -> RegressionTargets {
        let names = requested.map(canonical)
        if let repeated = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
            throw DataFileError(file: file, "regression target \"\(repeated)\" is named twice")
        }
        var columns: [[Double?]] = []
        for name in names {
            if name == age, records.contains(where: { $0.age != nil }) {
                columns.append(records.map { $0.age.map(Double.init) })
                continue
            }
            guard let table, let c = table.column(name) ?? table.header.firstIndex(where: { $0.lowercased() == name.lowercased() }) else {
                let what = name == age ? "no row gives the patient's age (no Age, Patient Age or anchor_age column, no "
                    + "--age-column, or it is blank in every row)" : "no column \"\(name)\""
                throw DataFileError(file: file, line: table == nil ? 0 : 1, "regression target \"\(name)\": \(what); "
                                    + (table == nil ? "the data has no columns (a folder of class folders): give a label file"
                                       : "the header has: \(header.joined(separator: ", "))"))
            }
            let raw = try columnValues(c, table: table, records: records)
            columns.append(try zip(raw, records).map { text, record -> Double? in
                if text.isEmpty { return nil }
                guard let v = Double(text), v.isFinite else {
                    throw DataFileError(file: table.file, line: record.line, "column \"\(table.header[c])\": \"\(text)\" is not a "
                                        + "number (a regression target takes numbers; leave it blank where unknown)")
                }
                return v
            })
        }
        return RegressionTargets(names: names, values: records.indices.map { i in columns.map { $0[i] } })
    }
}

/// The trimmed text of column `c` of each record, found by the record's manifest line in `table` (the table the
/// records were read from).
func columnValues(_ c: Int, table: CSVTable, records: [Record]) throws -> [String] {
    var rowOfLine: [Int: Int] = [:]
    for (k, line) in table.lines.enumerated() { rowOfLine[line] = k }
    return try records.map { record -> String in
        guard let row = rowOfLine[record.line] else {
            throw DataFileError(file: table.file, "image \(record.path) (line \(record.line)) is not a row of this table")
        }
        return table.rows[row][c].trimmingCharacters(in: .whitespaces)
    }
}
