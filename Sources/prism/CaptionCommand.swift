import ArgumentParser
import Core
import Datasets
import Foundation
import Imaging

struct CaptionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "caption",
        abstract: "Show the caption a row of a label file becomes (what training learns and editing rewrites).",
        discussion: """
            The default template is
              Chest X-ray of {a} [{age}-year-old ]{sex} with {findings}[, without {absent}]
            with present findings in CheXpert's order, "no findings" when none, and
            bracketed parts dropped when empty.

            Examples:
              prism caption --data CheXpert-v1.0-small/train.csv --row 2
              prism caption --data Data_Entry_2017.csv --row 1 --state-absent
              prism caption --data phantom/manifest.csv --all | head
              prism caption --data phantom/manifest.csv --row 3 \\
                  --template configs/captions-detail.json
              prism caption --data derm/labels.csv --path-column file \\
                  --label-columns lesion,marker --label-values positive=yes,negative=no \\
                  --caption-template "A dermoscopy image of {labels}" --all
              prism caption --data scan.dcm --row 1

            The detail template says what the phantom's manifest tells beyond
            present: "moderate cardiomegaly, a small left pleural effusion and
            support devices (a pacemaker)"; rows without the detail get the plain
            words.

            A DICOM file given as --data is one row: its patient, sex, age and
            view come from its header, and it states no findings.
            """
    )

    @OptionGroup var data: DataOptions
    @OptionGroup var captions: CaptionOptions

    @Option(help: "The row to caption, 1 for the first row after the header.")
    var row: Int?

    @Flag(help: "Caption every row (path, then caption, tab-separated).")
    var all = false

    func validate() throws {
        guard (row != nil) != all else { throw ValidationError("give --row N or --all") }
        if let row, row < 1 { throw ValidationError("--row \(row): rows count from 1 (the first row after the header)") }
    }

    func run() throws {
        if let file = data.data, InspectDICOM.applies(to: URL(fileURLWithPath: file)) {
            return try printCaptions([try dicomRecord(file)], template: try captions.load(findings: nil))
        }
        let loaded = try data.loadData()
        try printCaptions(loaded.records, template: try captions.load(findings: loaded.findings))
    }

    func printCaptions(_ records: [Record], template: CaptionTemplate) throws {
        if all {
            for r in records { print("\(r.path)\t\(template.caption(for: r))") }
            return
        }
        let n = row!
        guard n <= records.count else {
            throw CLIError("\(data.source): --row \(n), but the file has \(records.count) rows")
        }
        let r = records[n - 1]
        let labels = r.labels.sorted { Findings.captionOrder($0.key, $1.key) }.map { name, state in
            "\(name)=\(state == .positive ? "1" : state == .negative ? "0" : "-1")"
        }
        print("row \(n)\(r.line > 0 ? " (line \(r.line))" : ""): \(r.path)")
        print("patient \(r.patientID), sex \(r.sex?.word ?? "unknown"), age \(r.age.map(String.init) ?? "unknown"), view \(r.view ?? "unknown")")
        print("labels: \(labels.isEmpty ? "none" : labels.joined(separator: ", "))")
        let d = r.detail
        let detail = [d.cardiomegalyGrade.map { "cardiomegaly \($0.rawValue)" },
                      d.effusionSize.map { "effusion \($0.rawValue)" }, d.effusionSide.map { "effusion side \($0.rawValue)" }]
            .compactMap { $0 }
        if !detail.isEmpty { print("detail: \(detail.joined(separator: ", "))") }
        print("caption: \(template.caption(for: r))")
    }

    /// --data as a DICOM file: one record, its demographics from the header.
    func dicomRecord(_ file: String) throws -> Record {
        do {
            return try Record(path: file, patientID: "").fillingMissing { path in
                headerMetadata(try DICOMFile(contentsOf: URL(fileURLWithPath: path)).attributes)
            }
        } catch let error as ImagingError {
            throw CLIError("--data \(error)")
        }
    }
}
