import Core
import Datasets
import Foundation

/// The label file a counterfactual dataset is made from, kept as its table so that the dataset's manifest is
/// written in the input's own format: the same columns, each counterfactual's row the source's row with its path
/// and the edited label changed. CheXpert-style files (CheXpert, the phantom's manifests, any CSV with a `Path`
/// column and finding columns) and NIH ChestX-ray14's are written back; MIMIC-CXR-JPG's labels live in a second
/// file and are refused.
public struct SourceManifest: Sendable {
    public let table: CSVTable
    public let format: ManifestFormat
    /// One record per row of the table, in order.
    public let records: [Record]
    /// The findings the manifest labels (canonical names), in column order.
    public let labels: [String]

    public init(url: URL, format requested: ManifestFormat = .auto) throws {
        let table = try CSVTable.read(url)
        let format = requested == .auto ? try Manifest.detect(table) : requested
        guard format != .mimic else {
            throw DataFileError(file: url.path, "MIMIC-CXR-JPG keeps its labels in a second file, so a counterfactual "
                                + "manifest cannot be written in its format; write a CheXpert-style CSV (Path, Sex, Age, one "
                                + "column per finding) first")
        }
        self.table = table
        self.format = format
        self.records = try Manifest.records(table, format: format)
        precondition(records.count == table.rows.count, "a CheXpert or NIH manifest has one record per row")
        switch format {
        case .nih: labels = Findings.nih
        default:
            labels = table.header.map(Findings.canonical).filter {
                $0 != Findings.noFinding && (Findings.chexpert + Findings.nih + Findings.deviceSubtypes).contains($0)
            }
        }
    }

    /// The column that holds the image path.
    var pathColumn: Int { table.column(format == .nih ? "Image Index" : "Path")! }

    /// Where the counterfactual of `path` by the edit `slug` goes, relative to the dataset's folder: under a folder
    /// named after the edit, at the source's own path with a `.png` extension
    /// (`remove-support-devices/train/patient00001/study1/view1_frontal.png`), so that a patient read from the path
    /// (CheXpert's `patientNNNNN`, or a file name) is the source's patient, and the split keeps them together.
    public static func counterfactualPath(source path: String, slug: String) -> String {
        let parts = path.split(separator: "/").map { $0 == ".." ? "__" : $0 == "." ? "_" : String($0) }
        var name = parts.last ?? "image"
        if let dot = name.lastIndex(of: "."), dot != name.startIndex { name = String(name[..<dot]) }
        return ([slug] + parts.dropLast() + [name + ".png"]).joined(separator: "/")
    }

    /// Row `i` with its path replaced by `path` and `edit` applied to its labels, in the manifest's format.
    public func counterfactualRow(_ i: Int, edit: DatasetEdit, path: String) -> [String] {
        var row = table.rows[i]
        row[pathColumn] = path
        switch format {
        case .nih: row[table.column("Finding Labels")!] = nihFindings(row[table.column("Finding Labels")!], edit: edit)
        default: chexpertLabels(&row, edit: edit)
        }
        return row
    }

    /// Sets the edited finding's column, and keeps the columns that follow from it consistent: "No Finding" (0 once a
    /// finding other than a support device is present, 1 once none is), and, when support devices are removed, each
    /// device's own column (the phantom's Pacemaker, Endotracheal Tube, ...).
    func chexpertLabels(_ row: inout [String], edit: DatasetEdit) {
        let columns = Dictionary(table.header.enumerated().map { (Findings.canonical($0.element), $0.offset) }) { a, _ in a }
        func set(_ finding: String, _ present: Bool) {
            guard let c = columns[finding] else { return }
            let decimal = table.rows.contains { $0[c].contains(".") }
            row[c] = present ? (decimal ? "1.0" : "1") : (decimal ? "0.0" : "0")
        }
        set(edit.finding, edit.makesPresent)
        let devices = ["Support Devices"] + Findings.deviceSubtypes
        if !edit.makesPresent && edit.finding == "Support Devices" {
            for d in Findings.deviceSubtypes where columns[d].map({ Double(row[$0]) == 1 }) == true { set(d, false) }
        }
        guard let noFinding = columns[Findings.noFinding], !devices.contains(edit.finding) else { return }
        let pathology = columns.filter { !devices.contains($0.key) && $0.key != Findings.noFinding && labels.contains($0.key) }
        let anyPresent = pathology.values.contains { Double(row[$0]) == 1 }
        if row[noFinding].isEmpty && !anyPresent { return }
        set(Findings.noFinding, !anyPresent)
    }

    /// NIH's `|`-separated Finding Labels with the finding added or removed ("No Finding" when none is left).
    func nihFindings(_ text: String, edit: DatasetEdit) -> String {
        var names = text.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0 != Findings.noFinding && Findings.canonical($0) != edit.finding }
        if edit.makesPresent {
            // NIH spells pleural effusion "Effusion" and multi-word findings with underscores.
            let spelling = edit.finding == "Pleural Effusion" ? "Effusion" : edit.finding.replacingOccurrences(of: " ", with: "_")
            names.append(spelling)
        }
        return names.isEmpty ? Findings.noFinding : names.joined(separator: "|")
    }
}
