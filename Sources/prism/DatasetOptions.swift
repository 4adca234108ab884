import ArgumentParser
import Core
import Datasets
import Diffusion
import Foundation
import Imaging

extension ManifestFormat: ExpressibleByArgument {}
extension UncertainPolicy: ExpressibleByArgument {}

// The options that say where a labelled dataset is and how to read it, shared by every command that reads one
// (`prism train`, `prism caption`, `prism classifier train|predict|evaluate`): a label file Prism knows (CheXpert,
// NIH, MIMIC-CXR-JPG, the phantom's), any CSV described by column options, or a folder of class folders.

/// A label file or a folder of class folders, and how to read it.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The label file: CheXpert train.csv, NIH Data_Entry_2017.csv, MIMIC-CXR-JPG metadata CSV, a phantom manifest, or any CSV described by --path-column and --label-columns.", valueName: "csv"))
    var data: String?

    @Option(help: ArgumentHelp("Instead of --data and --images: a folder of class folders (ROOT/CLASS/image.png, png/jpg/jpeg/dcm); each class folder is a label, one-hot; images in ROOT/CLASS/PATIENT/ share the patient PATIENT, others are each their own patient.", valueName: "dir"))
    var dataFolder: String?

    @Option(help: "auto | chexpert | nih | mimic (auto decides from the header).")
    var format: ManifestFormat = .auto

    @Option(help: ArgumentHelp("MIMIC-CXR-JPG: the CheXpert-labeler CSV to join with the metadata.", valueName: "csv"))
    var mimicLabels: String?

    @Option(help: ArgumentHelp("MIMIC-CXR-JPG: MIMIC-IV patients.csv, for sex and age.", valueName: "csv"))
    var mimicPatients: String?

    @Flag(help: "Keep frontal views (PA/AP) only.")
    var frontalOnly = false

    @OptionGroup(title: "Any label file (a CSV in no format Prism knows)")
    var columns: ColumnOptions

    func validate() throws {
        guard (data != nil) != (dataFolder != nil) else {
            throw ValidationError("give --data CSV (a label file) or --data-folder DIR (a folder of class folders), not both")
        }
        let known = format != .auto || mimicLabels != nil || mimicPatients != nil
        if dataFolder != nil, columns.isGiven || known {
            throw ValidationError("--data-folder takes its labels from its class folders: the column options, --format and "
                                  + "--mimic-* describe a label file given with --data")
        }
        if columns.isGiven, known {
            throw ValidationError("the column options describe a label file in no known format: leave out --format and --mimic-*")
        }
    }

    /// Whether the dataset names its own labels (label columns or class folders) rather than being a known manifest.
    var isGeneric: Bool { dataFolder != nil || columns.isGiven }

    /// The label file or the folder, as given.
    var source: String { data ?? dataFolder ?? "" }

    func load() throws -> [Record] { try loadData().records }

    /// The records, with what they came from.
    func loadData() throws -> LabelledData {
        let loaded: LabelledData
        if let dataFolder {
            try requireFolder(dataFolder, "--data-folder")
            let folder = try ImageFolder(URL(fileURLWithPath: dataFolder))
            loaded = LabelledData(records: folder.records, source: dataFolder, table: nil, findings: folder.classes,
                                  names: folder.folders)
        } else {
            let data = source
            try requireRegularFile(data, "--data")
            if let mimicLabels { try requireRegularFile(mimicLabels, "--mimic-labels") }
            if let mimicPatients { try requireRegularFile(mimicPatients, "--mimic-patients") }
            var options = Manifest.Options()
            options.frontalOnly = frontalOnly
            options.mimicLabels = mimicLabels.map { URL(fileURLWithPath: $0) }
            options.mimicPatients = mimicPatients.map { URL(fileURLWithPath: $0) }
            options.columns = try columns.mapping()
            let table = try CSVTable.read(URL(fileURLWithPath: data))
            loaded = LabelledData(records: try Manifest.records(table, format: format, options: options), source: data,
                                  table: table, findings: options.columns?.findings, names: table.header)
        }
        let missing = Self.missingDemographics(loaded.records).joined(separator: " or ")
        if !missing.isEmpty, dataFolder == nil {
            let why = columns.isGiven ? "no --sex-column / --age-column names it" : "no such column"
            Log()("warning: \(source): no row gives the patient's \(missing) (\(why), "
                  + "or it is empty in every row): the captions will not state it")
        }
        return loaded
    }

    /// "sex" and "age" when no record has one (the label file has no such column, or leaves it empty).
    static func missingDemographics(_ records: [Record]) -> [String] {
        guard !records.isEmpty else { return [] }
        return [("sex", records.allSatisfy { $0.sex == nil }), ("age", records.allSatisfy { $0.age == nil })]
            .filter(\.1).map(\.0)
    }
}

/// A dataset's records and what they came from.
struct LabelledData {
    var records: [Record]
    /// The label file or the folder of class folders.
    var source: String
    /// The label file's table (nil for a folder of class folders): the columns an attribute is read from.
    var table: CSVTable?
    /// The findings the dataset names itself, in its order (label columns, class folders); nil for a known manifest.
    var findings: [String]?
    /// The label file's header, or the class folders: what an error about a missing label lists.
    var names: [String]

    /// The table an attribute column is read from, refused for a folder of class folders.
    func requireTable(for option: String) throws -> CSVTable {
        guard let table else {
            throw CLIError("\(option): \(source) is a folder of class folders, which has no columns; give a label file with --data")
        }
        return table
    }
}

/// The columns of a label file in no format Prism knows.
struct ColumnOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The column of image paths (relative to --images) (default: Path).", valueName: "column"))
    var pathColumn: String?

    @Option(help: ArgumentHelp("The label columns, comma-separated: \"lesion,marker\". Each becomes a finding named by its column.", valueName: "columns"))
    var labelColumns: String?

    @Option(help: ArgumentHelp("How the label columns spell each state, e.g. positive=yes,negative=no,uncertain=maybe (several spellings: positive=yes|y). Blank is always \"not mentioned\" (default: positive=1,negative=0,uncertain=-1, as CheXpert).", valueName: "states"))
    var labelValues: String?

    @Option(help: ArgumentHelp("The patient column: a patient's images stay in one part of the split (default: each image is its own patient).", valueName: "column"))
    var patientColumn: String?

    @Option(help: ArgumentHelp("The sex column: F, M, female or male in any case (unknown or blank: not known).", valueName: "column"))
    var sexColumn: String?

    @Option(help: ArgumentHelp("The age column, in years.", valueName: "column"))
    var ageColumn: String?

    @Option(help: ArgumentHelp("The view column (PA, AP, lateral, ...; --frontal-only reads it).", valueName: "column"))
    var viewColumn: String?

    var isGiven: Bool {
        [pathColumn, labelColumns, labelValues, patientColumn, sexColumn, ageColumn, viewColumn].contains { $0 != nil }
    }

    var labelNames: [String] {
        (labelColumns ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func validate() throws {
        guard isGiven else { return }
        guard !labelNames.isEmpty else {
            throw ValidationError("a label file described by columns needs --label-columns \"A,B\" (the columns of its labels)")
        }
        _ = try values()
    }

    func values() throws -> LabelValues {
        guard let labelValues else { return .chexpert }
        do { return try LabelValues(parsing: labelValues) } catch {
            throw ValidationError("--label-values \(labelValues): \(error)")
        }
    }

    /// The mapping the options give; nil when none is given (a known label file).
    func mapping() throws -> ColumnMapping? {
        guard isGiven else { return nil }
        return ColumnMapping(path: pathColumn ?? "Path", labels: labelNames, values: try values(), patient: patientColumn,
                             sex: sexColumn, age: ageColumn, view: viewColumn)
    }
}

/// A labelled dataset and the folder its image paths are relative to (the folder itself with --data-folder).
struct LabelledImagesOptions: ParsableArguments {
    @OptionGroup var data: DataOptions

    @Option(help: ArgumentHelp("The folder the label file's image paths are relative to (not with --data-folder).", valueName: "dir"))
    var images: String?

    @OptionGroup var window: WindowOption

    func validate() throws {
        if data.dataFolder != nil, images != nil {
            throw ValidationError("--images goes with --data: the images of --data-folder are under it")
        }
        if data.data != nil, images == nil {
            throw ValidationError("--data needs --images DIR (the folder the label file's image paths are relative to)")
        }
    }

    /// The records, with what each DICOM file's header says where the label file is silent: the patient (for the
    /// patient-level split), sex, age and view (so `--frontal-only` also drops a DICOM's lateral views).
    func loadData() throws -> LabelledData {
        var loaded = try data.loadData()
        let root = try imageRoot()
        // A generic label file without --patient-column makes each image its own patient: a DICOM's PatientID is better.
        let patientGiven = !data.isGeneric || data.columns.patientColumn != nil
        loaded.records = try loaded.records.map { record in
            let path = record.path
            guard let header = try dicomMetadata(path.hasPrefix("/") ? URL(fileURLWithPath: path)
                                                 : root.appendingPathComponent(path)) else { return record }
            var blank = record
            if !patientGiven, header.patient?.isEmpty == false { blank.patientID = "" }
            return blank.fillingMissing { _ in header }
        }
        if data.frontalOnly { loaded.records = loaded.records.filter(\.isFrontal) }
        return loaded
    }

    /// The image root (--images, or --data-folder), refused when it is not a folder.
    func imageRoot() throws -> URL {
        if let folder = data.dataFolder {
            try requireFolder(folder, "--data-folder")
            return URL(fileURLWithPath: folder)
        }
        let images = images ?? ""
        try requireFolder(images, "--images")
        return URL(fileURLWithPath: images)
    }
}

/// Options that say how labels become captions; shared by training and editing so both speak one grammar.
struct CaptionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A caption template (JSON: template, no_findings, state_absent, findings, names, uncertain, detail); configs/captions-detail.json says effusion side and size, cardiomegaly grade and each device.", valueName: "json"))
    var template: String?

    @Option(help: ArgumentHelp("The caption's words, overriding the template's: placeholders {a} {age} {sex} {findings} (or {labels}) {absent}, [optional parts] dropped when a placeholder in them is empty, e.g. \"A dermoscopy image of {labels}\".", valueName: "text"))
    var captionTemplate: String?

    @Option(help: "What uncertain labels (-1) become: ignore | positive | negative. Overrides the template's.")
    var uncertain: UncertainPolicy?

    @Flag(help: "Also state absent findings (\", without support devices\").")
    var stateAbsent = false

    func validate() throws {
        guard let captionTemplate else { return }
        var t = CaptionTemplate()
        t.template = captionTemplate
        do { try t.validate(file: "--caption-template") } catch { throw ValidationError("\(error)") }
    }

    /// The template; `findings`, the labels of a dataset that names its own (label columns, class folders), are what
    /// its captions mention unless the template file lists findings.
    /// `model`'s own template (prism.json "captions", the one it was trained with) is the default when neither
    /// --template nor --caption-template is given.
    func load(findings: [String]? = nil, model: URL? = nil) throws -> CaptionTemplate {
        var file = template.map { URL(fileURLWithPath: $0) }
        if file == nil, captionTemplate == nil, let model { file = try Self.modelTemplate(model) }
        var t = try file.map { try CaptionTemplate.load($0) } ?? CaptionTemplate()
        if let captionTemplate { t.template = captionTemplate }
        if t.findings == nil, let findings { t.findings = findings }
        if let uncertain { t.uncertain = uncertain.rawValue }
        if stateAbsent { t.stateAbsent = true }
        return t
    }

    /// `load(model:)` for the model a command was given; a model folder that cannot be found is left to the
    /// command's own loading, which names it.
    func load(for model: ModelOption) throws -> CaptionTemplate {
        try load(model: try? model.url())
    }

    /// The template `model` was trained with: the one its prism.json names, else the default.
    static func template(of model: URL) throws -> CaptionTemplate {
        try modelTemplate(model).map { try CaptionTemplate.load($0) } ?? CaptionTemplate()
    }

    /// The template file a model folder names in its prism.json, if any.
    static func modelTemplate(_ model: URL) throws -> URL? {
        try ModelDefaults.load(from: model).captionsURL(in: model)
    }
}

/// What a DICOM file's header says of its patient and view; nil for a file that is not DICOM (or is missing: the
/// image check before training names those).
func dicomMetadata(_ url: URL) throws -> ImageMetadata? {
    guard let handle = FileHandle(forReadingAtPath: url.path) else { return nil }
    let head = (try? handle.read(upToCount: 132)) ?? Data()
    try? handle.close()
    guard DICOMFile.isDICOM(head) else { return nil }
    return headerMetadata(try DICOMFile(contentsOf: url).attributes)
}

/// A DICOM header's patient, sex, age and view as a record's metadata.
func headerMetadata(_ a: DICOMAttributes) -> ImageMetadata {
    (a.patientID, a.patientSex.flatMap(Sex.init(parsing:)), a.patientAge, a.viewPosition)
}
