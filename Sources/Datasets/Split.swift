import Core
import Foundation

public enum SplitName: String, Sendable, CaseIterable, Codable {
    case train, validation, test
}

/// A patient-level split: every image of a patient falls in the same part, so that no patient is seen in
/// training and evaluation alike. Written to a CSV (`patient_id,split`) and read back, so that every run of
/// every command uses the same one.
public struct PatientSplit: Sendable, Equatable {
    public private(set) var assignment: [String: SplitName]

    public init(assignment: [String: SplitName]) { self.assignment = assignment }

    /// Shuffles the distinct patients with a seeded generator and cuts at the given fractions (70/15/15 by
    /// default). The same patients and seed give the same split on any machine.
    public init(patients: some Sequence<String>, seed: UInt64 = 0, train: Double = 0.70, validation: Double = 0.15) {
        var ids = Array(Set(patients)).sorted()
        var rng = SplitMix64(seed: seed)
        for i in stride(from: ids.count - 1, to: 0, by: -1) {
            ids.swapAt(i, Int(rng.next() % UInt64(i + 1)))
        }
        let nTrain = Int((Double(ids.count) * train).rounded())
        let nValidation = Int((Double(ids.count) * validation).rounded())
        var a: [String: SplitName] = [:]
        for (i, id) in ids.enumerated() {
            a[id] = i < nTrain ? .train : i < nTrain + nValidation ? .validation : .test
        }
        assignment = a
    }

    public func split(of patient: String) -> SplitName? { assignment[patient] }

    public func count(_ part: SplitName) -> Int { assignment.values.filter { $0 == part }.count }

    public func write(to url: URL) throws {
        let lines = ["patient_id,split"] + assignment.sorted { $0.key < $1.key }.map { csvLine([$0.key, $0.value.rawValue]) }
        try createFolder(url.deletingLastPathComponent())
        try writeAtomically(Data((lines.joined(separator: "\n") + "\n").utf8), to: url)
    }

    public static func read(_ url: URL) throws -> PatientSplit {
        let table = try CSVTable.read(url)
        let p = try table.requireColumn("patient_id")
        let s = try table.requireColumn("split")
        var a: [String: SplitName] = [:]
        for (row, line) in zip(table.rows, table.lines) {
            guard let name = SplitName(rawValue: row[s]) else {
                throw DataFileError(file: table.file, line: line,
                                    "split \"\(row[s])\" is not one of train, validation, test")
            }
            a[row[p]] = name
        }
        return PatientSplit(assignment: a)
    }

    /// Reads the split at `url` if it exists (every record's patient must be in it), or makes one for the
    /// records' patients and writes it there.
    public static func loadOrCreate(at url: URL, for records: [Record], seed: UInt64 = 0) throws -> PatientSplit {
        if FileManager.default.fileExists(atPath: url.path) {
            let split = try read(url)
            let unknown = Set(records.map(\.patientID)).filter { split.assignment[$0] == nil }
            if !unknown.isEmpty {
                throw DataFileError(file: url.path, "\(unknown.count) patients of the data are not in this split "
                                    + "(e.g. \(unknown.sorted().prefix(3).joined(separator: ", "))); it was made for other "
                                    + "data: delete it to make a new one, or point to the right split file")
            }
            return split
        }
        let split = PatientSplit(patients: records.map(\.patientID), seed: seed)
        try split.write(to: url)
        return split
    }
}
