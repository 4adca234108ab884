import ArgumentParser
import Core
import Datasets
import Foundation
import Imaging

/// What `prism convert` writes.
enum ConvertFormat: String, ExpressibleByArgument, CaseIterable {
    case png, png16, dicom

    var fileExtension: String { self == .dicom ? "dcm" : "png" }
}

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Write DICOM (or PNG/JPEG) images as the pixels Prism's loaders see: PNG, 16-bit PNG or derived DICOM.",
        discussion: """
            Every file is read by the one decoder training, editing and evaluation
            use (a DICOM through its Modality LUT and --window), so the output is
            what a model would see. A folder is searched recursively for DICOM,
            PNG and JPEG files (told by their content); its structure is kept under
            --output, and manifest.csv lists path, source, patient, sex, age and
            view (from the DICOM header). Outputs that exist are skipped (they are
            written atomically, so an existing one is complete): rerun after an
            interruption to finish. A file that cannot be read is reported and the
            rest are converted; the exit status is then non-zero.

            Examples:
              prism convert scans/ --output pngs/
              prism convert scan.dcm --output out/ --format png16 --window none
              prism convert scans/ --output small/ --resolution 256 \\
                  --window percentile:0.5,99.5
              prism convert --data labels.csv --images scans/ --output pngs/

            With --data, the images are the label file's rows (paths under
            --images), and the manifest takes patient, sex, age and view from the
            label file, filling what it leaves blank from the DICOM header.
            """
    )

    @Argument(help: "A DICOM, PNG or JPEG file, or a folder of them (or give --data and --images).")
    var input: String?

    @Option(help: ArgumentHelp("A label file (CheXpert, NIH, MIMIC-CXR-JPG or phantom manifest) whose images to convert.", valueName: "csv"))
    var data: String?

    @Option(help: ArgumentHelp("The folder --data's paths are relative to.", valueName: "folder"))
    var images: String?

    @Option(help: "Folder for the converted images and manifest.csv.")
    var output: String

    @Option(help: "png (8-bit gray), png16 (16-bit gray: the window onto 0...65535) or dicom (a derived 8-bit image).")
    var format: ConvertFormat = .png

    @OptionGroup var window: WindowOption

    @Option(help: "Crop to the centred square and resize to N x N, as the training loaders do.")
    var resolution: Int?

    func validate() throws {
        if (input == nil) == (data == nil) { throw ValidationError("give a file or folder to convert, or --data with --images") }
        if (data == nil) != (images == nil) { throw ValidationError("--data and --images go together") }
        if let resolution { try requireCount(resolution, "--resolution", atLeast: 8) }
        if format == .png16 && resolution != nil {
            throw ValidationError("--resolution is for 8-bit outputs (the loaders' resize works on what they read); use --format png or dicom")
        }
    }

    /// One file found: where it is, its path relative to the input (the output keeps it), its label file's record.
    struct Item { var url: URL; var relative: String; var record: Record? = nil }

    /// The files to convert: the input's, or the label file's rows under --images.
    func items() throws -> [Item] {
        guard let data, let images else { return try Self.images(at: URL(fileURLWithPath: input!)) }
        try requireRegularFile(data, "--data")
        let root = URL(fileURLWithPath: images)
        return try Manifest.load(URL(fileURLWithPath: data)).map { r in
            let url = r.path.hasPrefix("/") ? URL(fileURLWithPath: r.path) : root.appendingPathComponent(r.path)
            let relative = r.path.hasPrefix("/") ? url.lastPathComponent : r.path
            return Item(url: url, relative: relative, record: r)
        }
    }

    /// The manifest's patient, sex, age and view: the label file's, its blanks filled from the DICOM header.
    static func demographics(_ item: Item, _ dicom: DICOMFile?) -> [String] {
        let header = (dicom?.attributes).map(headerMetadata)
        let r = (item.record ?? Record(path: item.relative, patientID: "")).fillingMissing { _ in header }
        return [r.patientID, r.sex?.rawValue ?? "", r.age.map(String.init) ?? "", r.view ?? ""]
    }

    func run() throws {
        let windowValue = try window.value()
        let items = try items()
        let folder = try prepareOutputFolder(output)
        let log = Log(tool: "prism convert")
        log("\(items.count) image(s) from \(input ?? data!) → \(folder.path) (\(format.rawValue), window \(windowValue))")
        let bar = ProgressBar(total: items.count, label: "convert", unit: "img")
        var rows: [[String]] = [], failures: [String] = [], skipped = 0
        for (k, item) in items.enumerated() {
            let relativeOut = (item.relative as NSString).deletingPathExtension + "." + format.fileExtension
            let out = folder.appendingPathComponent(relativeOut)
            do {
                let dicom = try Self.dicomFile(item.url)
                if FileManager.default.fileExists(atPath: out.path) {
                    skipped += 1
                } else {
                    try createFolder(out.deletingLastPathComponent())
                    try write(item.url, dicom: dicom, window: windowValue, to: out)
                }
                rows.append([relativeOut, item.url.path] + Self.demographics(item, dicom))
            } catch {
                failures.append("\(error)")
                log("error: \(Prism.message(for: error))")
            }
            bar.update(k + 1)
        }
        bar.finish()
        let manifest = ([["path", "source", "patient", "sex", "age", "view"]] + rows).map { csvLine($0) + "\n" }.joined()
        try writeAtomically(Data(manifest.utf8), to: folder.appendingPathComponent("manifest.csv"))
        log("wrote \(rows.count - skipped), kept \(skipped) already converted, \(failures.count) failed; manifest.csv lists \(rows.count)")
        if !failures.isEmpty {
            throw CLIError("\(failures.count) of \(items.count) file(s) could not be converted; the first: \(failures[0])")
        }
    }

    func write(_ url: URL, dicom: DICOMFile?, window: DICOMWindow, to out: URL) throws {
        var image: Image
        if let dicom {
            image = try dicom.image(window: window, bitDepth: format == .png16 ? 16 : 8)
        } else {
            image = try Image(contentsOf: url).grayscale()
            if format == .png16 { image = image.converted(toBitDepth: 16) }
        }
        if let resolution { image = image.centerSquare().resized(width: resolution, height: resolution) }
        switch format {
        case .png, .png16: try image.writePNG(to: out)
        case .dicom:
            let what = resolution.map { "prism convert: window \(window), centred square resized to \($0)x\($0)" }
                ?? "prism convert: window \(window)"
            try DICOMWriter.write(image, to: out, source: dicom, derivation: what)
        }
    }

    /// The DICOM file at `url` parsed, or nil when it is not one (a PNG or a JPEG).
    static func dicomFile(_ url: URL) throws -> DICOMFile? {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw ImagingError.io(file: url.path, detail: "cannot be read (no such file, or not readable)")
        }
        let head = (try? handle.read(upToCount: 132)) ?? Data()
        try? handle.close()
        return DICOMFile.isDICOM(head) ? try DICOMFile(contentsOf: url) : nil
    }

    /// The file itself, or the DICOM, PNG and JPEG files under a folder (by content; hidden files skipped), sorted.
    static func images(at url: URL) throws -> [Item] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ValidationError("\(url.path): no such file or folder")
        }
        guard isDirectory.boolValue else { return [Item(url: url, relative: url.lastPathComponent)] }
        let root = url.standardizedFileURL.path
        let files = (FileManager.default.enumerator(at: url, includingPropertiesForKeys: [.isRegularFileKey],
                                                    options: [.skipsHiddenFiles])?.allObjects as? [URL] ?? [])
            .filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true && isImage($0) }
            .map { f -> Item in
                let path = f.standardizedFileURL.path
                return Item(url: f, relative: path.hasPrefix(root + "/") ? String(path.dropFirst(root.count + 1)) : f.lastPathComponent)
            }
            .sorted { $0.relative < $1.relative }
        guard !files.isEmpty else { throw ValidationError("\(url.path): no DICOM, PNG or JPEG files in this folder") }
        return files
    }

    /// Whether the file starts like a DICOM (after its preamble), a PNG or a JPEG.
    static func isImage(_ url: URL) -> Bool {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 132)) ?? Data()
        return DICOMFile.isDICOM(head) || head.starts(with: [0xFF, 0xD8, 0xFF]) || head.starts(with: [0x89, 0x50, 0x4E, 0x47])
    }
}
