import ArgumentParser
import Core
import Datasets
import Foundation
import Imaging

extension ManifestFormat: ExpressibleByArgument {}
extension UncertainPolicy: ExpressibleByArgument {}

/// Options that say how to read a dataset's label file; shared by the commands that read one.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The label file: CheXpert train.csv, NIH Data_Entry_2017.csv, MIMIC-CXR-JPG metadata CSV, or a phantom manifest.", valueName: "csv"))
    var data: String

    @Option(help: "auto | chexpert | nih | mimic (auto decides from the header).")
    var format: ManifestFormat = .auto

    @Option(help: ArgumentHelp("MIMIC-CXR-JPG: the CheXpert-labeler CSV to join with the metadata.", valueName: "csv"))
    var mimicLabels: String?

    @Option(help: ArgumentHelp("MIMIC-CXR-JPG: MIMIC-IV patients.csv, for sex and age.", valueName: "csv"))
    var mimicPatients: String?

    @Flag(help: "Keep frontal views (PA/AP) only.")
    var frontalOnly = false

    func load() throws -> [Record] {
        try requireRegularFile(data, "--data")
        if let mimicLabels { try requireRegularFile(mimicLabels, "--mimic-labels") }
        if let mimicPatients { try requireRegularFile(mimicPatients, "--mimic-patients") }
        var options = Manifest.Options()
        options.frontalOnly = frontalOnly
        options.mimicLabels = mimicLabels.map { URL(fileURLWithPath: $0) }
        options.mimicPatients = mimicPatients.map { URL(fileURLWithPath: $0) }
        let records = try Manifest.load(URL(fileURLWithPath: data), format: format, options: options)
        let missing = Self.missingDemographics(records).joined(separator: " or ")
        if !missing.isEmpty {
            Log()("warning: \(data): no row gives the patient's \(missing) (no such column, "
                  + "or it is empty in every row): the captions will not state it")
        }
        return records
    }

    /// "sex" and "age" when no record has one (the label file has no such column, or leaves it empty).
    static func missingDemographics(_ records: [Record]) -> [String] {
        guard !records.isEmpty else { return [] }
        return [("sex", records.allSatisfy { $0.sex == nil }), ("age", records.allSatisfy { $0.age == nil })]
            .filter(\.1).map(\.0)
    }
}

/// Options that say how labels become captions; shared by training and editing so both speak one grammar.
struct CaptionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A caption template (JSON: template, no_findings, state_absent, findings, names, uncertain).", valueName: "json"))
    var template: String?

    @Option(help: "What uncertain labels (-1) become: ignore | positive | negative. Overrides the template's.")
    var uncertain: UncertainPolicy?

    @Flag(help: "Also state absent findings (\", without support devices\").")
    var stateAbsent = false

    func load() throws -> CaptionTemplate {
        var t = try template.map { try CaptionTemplate.load(URL(fileURLWithPath: $0)) } ?? CaptionTemplate()
        if let uncertain { t.uncertain = uncertain.rawValue }
        if stateAbsent { t.stateAbsent = true }
        return t
    }
}

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
              prism caption --data scan.dcm --row 1

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
        let records = try InspectDICOM.applies(to: URL(fileURLWithPath: data.data)) ? [try dicomRecord()] : try data.load()
        let template = try captions.load()
        if all {
            for r in records { print("\(r.path)\t\(template.caption(for: r))") }
            return
        }
        let n = row!
        guard n <= records.count else {
            throw CLIError("\(data.data): --row \(n), but the file has \(records.count) rows")
        }
        let r = records[n - 1]
        let labels = r.labels.sorted { Findings.captionOrder($0.key, $1.key) }.map { name, state in
            "\(name)=\(state == .positive ? "1" : state == .negative ? "0" : "-1")"
        }
        print("row \(n) (line \(r.line)): \(r.path)")
        print("patient \(r.patientID), sex \(r.sex?.word ?? "unknown"), age \(r.age.map(String.init) ?? "unknown"), view \(r.view ?? "unknown")")
        print("labels: \(labels.isEmpty ? "none" : labels.joined(separator: ", "))")
        print("caption: \(template.caption(for: r))")
    }

    /// --data as a DICOM file: one record, its demographics from the header.
    func dicomRecord() throws -> Record {
        do {
            return try Record(path: data.data, patientID: "").fillingMissing { path in
                let a = try DICOMFile(contentsOf: URL(fileURLWithPath: path)).attributes
                return (a.patientID, a.patientSex.flatMap(Sex.init(parsing:)), a.patientAge, a.viewPosition)
            }
        } catch let error as ImagingError {
            throw CLIError("--data \(error)")
        }
    }
}
