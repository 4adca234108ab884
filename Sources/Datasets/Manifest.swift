import Core
import Foundation

/// The label files Prism reads.
public enum ManifestFormat: String, Sendable, CaseIterable {
    /// Decide from the header.
    case auto
    /// CheXpert's `train.csv`/`valid.csv` (Path, Sex, Age, findings as 1 / 0 / -1 / blank), and any CSV in that
    /// shape, Prism's phantom manifests included.
    case chexpert
    /// NIH ChestX-ray14's `Data_Entry_2017*.csv` (`|`-separated Finding Labels).
    case nih
    /// MIMIC-CXR-JPG: the metadata CSV joined with the CheXpert-labeler CSV on subject and study.
    case mimic
}

/// Reads dataset label files into ``Record``s.
public enum Manifest {
    /// Options shared by every format.
    public struct Options: Sendable {
        /// Keep frontal views only (PA/AP).
        public var frontalOnly = false
        /// MIMIC-CXR-JPG: the CheXpert-labeler CSV (`mimic-cxr-2.0.0-chexpert.csv`), required for `.mimic`.
        public var mimicLabels: URL?
        /// MIMIC-IV `patients.csv` (subject_id, gender, anchor_age), optional: gives sex and age.
        public var mimicPatients: URL?
        /// A label file in no format Prism knows, read by the columns this names (the format is then not detected).
        public var columns: ColumnMapping?
        public init() {}
    }

    public static func load(_ url: URL, format: ManifestFormat = .auto, options: Options = Options()) throws -> [Record] {
        try records(CSVTable.read(url), format: format, options: options)
    }

    /// The records of a table already read (a manifest made in memory reads exactly as one from a file).
    public static func records(_ table: CSVTable, format: ManifestFormat = .auto, options: Options = Options()) throws -> [Record] {
        var records = try options.columns.map { try generic(table, columns: $0) } ?? known(table, format: format, options: options)
        if options.frontalOnly { records = records.filter(\.isFrontal) }
        return records
    }

    static func known(_ table: CSVTable, format: ManifestFormat, options: Options) throws -> [Record] {
        let url = URL(fileURLWithPath: table.file)
        switch format == .auto ? try detect(table) : format {
        case .chexpert, .auto: return try chexpert(table)
        case .nih: return try nih(table)
        case .mimic:
            guard let labels = options.mimicLabels else {
                throw DataFileError(file: url.path, "MIMIC-CXR-JPG metadata needs its CheXpert-labeler CSV as well "
                                    + "(mimic-cxr-2.0.0-chexpert.csv)")
            }
            let patients = try options.mimicPatients.map { try CSVTable.read($0) }
            return try mimic(metadata: table, labels: try CSVTable.read(labels), patients: patients)
        }
    }

    /// The format a header belongs to.
    public static func detect(_ table: CSVTable) throws -> ManifestFormat {
        if table.hasColumn("Finding Labels") { return .nih }
        if table.hasColumn("dicom_id") { return .mimic }
        if table.hasColumn("Path") { return .chexpert }
        throw DataFileError(file: table.file, line: 1,
                            "not a label file Prism knows: expected a \"Path\" column (CheXpert, phantom), "
                            + "\"Finding Labels\" (NIH ChestX-ray14) or \"dicom_id\" (MIMIC-CXR-JPG); the header has: "
                            + table.header.joined(separator: ", "))
    }

    /// CheXpert-style: every column named like a finding is a label column.
    static func chexpert(_ table: CSVTable) throws -> [Record] {
        let path = try table.requireColumn("Path", for: "the image path")
        let sex = table.firstColumn(["Sex", "Patient Gender", "gender"])
        let age = table.firstColumn(["Age", "Patient Age", "anchor_age"])
        let view = table.firstColumn(["AP/PA", "View Position", "ViewPosition", "Frontal/Lateral"])
        let frontalLateral = table.column("Frontal/Lateral")
        let patient = table.firstColumn(["Patient ID", "patient_id", "subject_id", "PatientID"])
        let labelColumns = table.header.enumerated().filter { _, name in
            (Findings.chexpert + Findings.nih + Findings.deviceSubtypes).contains(Findings.canonical(name))
        }
        guard !labelColumns.isEmpty else {
            throw DataFileError(file: table.file, line: 1, "no finding columns (such as \"Cardiomegaly\" or "
                                + "\"Support Devices\"); the header has: " + table.header.joined(separator: ", "))
        }
        // The phantom's manifests say more than present or absent (effusion side and volume, CTR): kept as detail.
        let detailColumns = table.header.enumerated().filter { FindingDetail.isColumn($0.element) }
        return try zip(table.rows, table.lines).map { row, line in
            let p = row[path]
            guard !p.isEmpty else { throw DataFileError(file: table.file, line: line, "empty Path") }
            var labels: [String: LabelState] = [:]
            for (i, name) in labelColumns {
                if let state = try LabelState(chexpert: row[i], file: table.file, line: line, column: name) {
                    labels[Findings.canonical(name)] = state
                }
            }
            // A lateral film says so in Frontal/Lateral, while AP/PA is blank.
            var v = view.map { row[$0] }.flatMap { $0.isEmpty ? nil : $0 }
            if let fl = frontalLateral, row[fl] == "Lateral" { v = "Lateral" }
            var detail = FindingDetail()
            for (i, name) in detailColumns { try detail.set(name, row[i], file: table.file, line: line) }
            return Record(path: p, patientID: patient.map { row[$0] } ?? chexpertPatient(p),
                          sex: sex.flatMap { Sex(parsing: row[$0]) },
                          age: try age.flatMap { try parseAge(row[$0], file: table.file, line: line, column: table.header[$0]) },
                          view: v, labels: labels, line: line, detail: detail)
        }
    }

    /// CheXpert paths carry the patient: `.../train/patient00001/study1/view1_frontal.jpg`. Elsewhere the
    /// image's own name stands for the patient.
    static func chexpertPatient(_ path: String) -> String {
        let parts = path.split(separator: "/")
        if let p = parts.first(where: { $0.hasPrefix("patient") }) { return String(p) }
        // The last component without its extension, taken here: Foundation's NSString.lastPathComponent and
        // deletingPathExtension trap on some paths ("///a//" on Linux).
        guard let name = parts.last else { return path }
        if let dot = name.lastIndex(of: "."), dot != name.startIndex { return String(name[..<dot]) }
        return String(name)
    }

    static func parseAge(_ text: String, file: String, line: Int, column: String) throws -> Int? {
        var t = text.trimmingCharacters(in: .whitespaces)
        if t.isEmpty { return nil }
        // NIH's older releases write ages as "061Y".
        if t.hasSuffix("Y") || t.hasSuffix("y") { t.removeLast() }
        guard let v = Double(t), v >= 0, v < 150 else {
            throw DataFileError(file: file, line: line, "column \"\(column)\": age \"\(text)\" is not a number of years")
        }
        return Int(v.rounded())
    }

    static func nih(_ table: CSVTable) throws -> [Record] {
        let image = try table.requireColumn("Image Index", for: "the image name")
        let findings = try table.requireColumn("Finding Labels")
        let patient = table.column("Patient ID")
        let age = table.column("Patient Age")
        let sex = table.column("Patient Gender")
        let view = table.column("View Position")
        return try zip(table.rows, table.lines).map { row, line in
            var labels: [String: LabelState] = [:]
            let names = row[findings].split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            if names.isEmpty { throw DataFileError(file: table.file, line: line, "empty Finding Labels") }
            // NIH states every finding: the ones listed are present and the rest absent.
            if names == [Findings.noFinding] {
                labels[Findings.noFinding] = .positive
            } else {
                for n in names {
                    let c = Findings.canonical(n)
                    guard Findings.nih.contains(c) else {
                        throw DataFileError(file: table.file, line: line, "unknown finding \"\(n)\" in Finding Labels")
                    }
                    labels[c] = .positive
                }
            }
            for n in Findings.nih where labels[n] == nil { labels[n] = .negative }
            return Record(path: row[image], patientID: patient.map { row[$0] } ?? row[image],
                          sex: sex.flatMap { Sex(parsing: row[$0]) },
                          age: try age.flatMap { try parseAge(row[$0], file: table.file, line: line, column: table.header[$0]) },
                          view: view.map { row[$0] }, labels: labels, line: line)
        }
    }

    static func mimic(metadata: CSVTable, labels: CSVTable, patients: CSVTable?) throws -> [Record] {
        let dicom = try metadata.requireColumn("dicom_id")
        let subject = try metadata.requireColumn("subject_id")
        let study = try metadata.requireColumn("study_id")
        let view = metadata.column("ViewPosition")
        let lSubject = try labels.requireColumn("subject_id")
        let lStudy = try labels.requireColumn("study_id")
        let labelColumns = labels.header.enumerated().filter { Findings.chexpert.contains($0.element) }
        guard !labelColumns.isEmpty else {
            throw DataFileError(file: labels.file, line: 1, "no CheXpert finding columns; the header has: "
                                + labels.header.joined(separator: ", "))
        }
        var byStudy: [String: [String: LabelState]] = [:]
        for (row, line) in zip(labels.rows, labels.lines) {
            var l: [String: LabelState] = [:]
            for (i, name) in labelColumns {
                if let s = try LabelState(chexpert: row[i], file: labels.file, line: line, column: name) { l[name] = s }
            }
            byStudy["\(row[lSubject])/\(row[lStudy])"] = l
        }
        var demographics: [String: (Sex?, Int?)] = [:]
        if let patients {
            let s = try patients.requireColumn("subject_id")
            let g = patients.column("gender")
            let a = patients.column("anchor_age")
            for (row, line) in zip(patients.rows, patients.lines) {
                demographics[row[s]] = (g.flatMap { Sex(parsing: row[$0]) },
                                        try a.flatMap { try parseAge(row[$0], file: patients.file, line: line, column: patients.header[$0]) })
            }
        }
        return zip(metadata.rows, metadata.lines).compactMap { row, line in
            let key = "\(row[subject])/\(row[study])"
            // Studies the labeler skipped have no labels: they cannot be captioned, so they are left out.
            guard let l = byStudy[key] else { return nil }
            let sid = row[subject]
            let path = "files/p\(sid.prefix(2))/p\(sid)/s\(row[study])/\(row[dicom]).jpg"
            let d = demographics[sid]
            return Record(path: path, patientID: sid, sex: d?.0 ?? nil, age: d?.1 ?? nil,
                          view: view.map { row[$0] }, labels: l, line: line)
        }
    }
}
