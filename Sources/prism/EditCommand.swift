import ArgumentParser
import Core
import Counterfactual
import Datasets
import Diffusion
import Evaluation
import Foundation
import Imaging
import Torch

extension InversionMethod: ExpressibleByArgument {}
extension ControllerKind: ExpressibleByArgument {}

struct EditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edit",
        abstract: "Edit a chest X-ray by editing its caption: the same patient, with only that attribute changed.",
        discussion: """
            The image is inverted once (null-text inversion by default, as PRISM;
            --inversion direct skips the optimisation and is 3–6× faster, with
            weaker edits on a small model), then every target is generated in one
            batch under prompt-to-prompt attention control. With --mask auto
            (the default) each edit is confined to where the words that changed
            attend, and put back into the input: outside the mask the output is
            the input, pixel for pixel. --mask PATH adds a region of your own (a
            PNG, bright = may change). --mask none leaves the model free, which is
            how hidden relationships show: remove the cardiomegaly and watch
            whether the pacemaker goes too.

            Say what the image shows with --labels (the caption is built with the
            template the model was trained with) or --source; say what it should
            show with --remove, --add or --set (one counterfactual each) or with
            --target (repeatable).

            Examples:
              prism edit --image cxr.png \\
                  --labels "Cardiomegaly=1,Support Devices=1,Sex=F,Age=70" \\
                  --remove "support devices" --remove cardiomegaly \\
                  --add "pleural effusion" --output out/
              prism edit --image cxr.png --mask none --output free/ \\
                  --source "Chest X-ray of a 70-year-old female with cardiomegaly" \\
                  --target "Chest X-ray of a 70-year-old female with no findings"
              prism edit --image cxr.png --labels "Cardiomegaly=1,Sex=M,Age=60" \\
                  --set age=85 --inversion direct --output older/

            A DICOM input is read through its Modality LUT and --window; its
            counterfactuals are written as derived DICOMs of the same study (new
            SOP Instance and Series UIDs, a Source Image Sequence naming the input;
            --output-format png for PNGs).

            Writes, per target, SLUG.png or SLUG.dcm (at the input's size and mode),
            SLUG-mask.png and SLUG-difference.png (red: brighter, blue: darker),
            plus reconstruction.png and result.json (settings, prompts, timings,
            reconstruction PSNR, mask areas). Inversions are cached (--cache): more
            edits of the same image with the same settings skip the inversion.
            """
    )

    @Option(help: "The X-ray to edit: PNG, JPEG or DICOM, any size, gray, RGB or RGBA.")
    var image: String

    @OptionGroup var model: ModelOption

    @Option(help: "What the image shows, as labels: \"Cardiomegaly=1,Support Devices=1,Sex=F,Age=70\".")
    var labels: String?

    @Option(help: "What the image shows, as a caption (instead of --labels).")
    var source: String?

    @Option(help: "A target caption (repeatable).")
    var target: [String] = []

    @Option(help: "Remove a finding, e.g. \"support devices\" or \"the pacemaker\" (repeatable; each is one counterfactual). Needs --labels.")
    var remove: [String] = []

    @Option(help: "Add a finding, e.g. \"pleural effusion\", or with detail (a model trained on the detail captions) \"a small right pleural effusion\", \"moderate cardiomegaly\" (repeatable). Needs --labels.")
    var add: [String] = []

    @Option(help: "Set a label, e.g. age=80 or sex=M (repeatable). Needs --labels.")
    var set: [String] = []

    @Flag(help: "Apply all --remove/--add/--set together as one counterfactual instead of one each.")
    var combine = false

    @OptionGroup var captions: CaptionOptions

    @OptionGroup var editing: EditingOptions

    @Option(help: "auto, replace (word swaps, same word count) or refine (any prompts).")
    var controller: ControllerKind = .auto

    @Option(help: ArgumentHelp("Scale a target word's attention, WORD=SCALE (repeatable).",
                               discussion: "A reweighted word is an edited word: with --mask auto its attention joins the mask, so --target equal to the source with --reweight cardiomegaly=0.5 turns the finding down."))
    var reweight: [String] = []

    @OptionGroup var precision: DTypeOption

    @Option(help: "Folder of cached inversions (default ~/.cache/prism/inversions); \"none\" disables the cache.")
    var cache: String?

    @Option(help: "Folder for the results.")
    var output: String

    @Option(help: "The counterfactuals' format: png, or dicom (derived DICOMs; the default when --image is a DICOM file).")
    var outputFormat: EditOutputFormat?

    @OptionGroup var window: WindowOption

    @Flag(help: "Print result.json on standard output.")
    var json = false

    func validate() throws {
        if (labels == nil) == (source == nil) { throw ValidationError("give what the image shows: --labels or --source") }
        let labelEdits = remove.count + add.count + set.count
        if labelEdits > 0 && labels == nil { throw ValidationError("--remove/--add/--set rewrite --labels; give --labels") }
        if labelEdits + target.count == 0 { throw ValidationError("give at least one --target, --remove, --add or --set") }
        _ = try reweights()
        if let cache, cache.isEmpty { throw ValidationError("--cache: give a folder, or none") }
    }

    /// The smallest input side: the model sees the image resized to its resolution, and a smaller image has too
    /// few pixels for an edit to mean anything.
    static let minimumImageSide = 64

    /// --reweight as (word, scale) pairs; a scale is a finite number, 0 or more.
    func reweights() throws -> [(String, Double)] {
        try reweight.map { r in
            let parts = r.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, let scale = Double(parts[1]) else {
                throw ValidationError("--reweight \(r): use WORD=SCALE, e.g. effusion=2")
            }
            guard scale.isFinite, scale >= 0 else {
                throw ValidationError("--reweight \(r): the scale must be a finite number >= 0")
            }
            return (String(parts[0]), scale)
        }
    }

    func run() throws {
        let template = try captions.load(for: model)
        let (sourceCaption, targets) = try prompts(template)
        if reweight.isEmpty, let same = targets.first(where: { $0.1 == sourceCaption }) {
            throw CLIError("\(same.0): the target caption is the source's (\"\(sourceCaption)\"), so nothing would change"
                           + (labels != nil ? "; do the labels already say so?" : "")
                           + " (a target equal to the source is for --reweight)")
        }
        // Every input is read and every folder checked before anything is written or any model loads.
        let input = try readInputImage(image, "--image", minimumSide: Self.minimumImageSide, window: try window.value())
        let sourceDICOM = try EditOutputFormat.sourceDICOM(image)
        let gray = Plane(gray: input)
        let userMask = try readUserMask()?.resized(width: gray.width, height: gray.height)
        let cacheFolder = try inversionCache()
        let folder = try prepareOutputFolder(output)
        let modelURL = try model.url()
        var settings = try editing.settings(for: modelURL, log: log)
        settings.controller = controller
        settings.reweight = try reweights()

        let loadStart = Date()
        let editingModel = try StableDiffusionEditingModel.load(from: modelURL, dtype: try precision.value())
        log("model \(modelURL.path) loaded in \(String(format: "%.1f", Date().timeIntervalSince(loadStart))) s")
        let editor = CounterfactualEditor(model: editingModel, cache: cacheFolder)

        log("source: \(sourceCaption)")
        for (slug, t) in targets { log("target \(slug): \(t)") }
        let outcome = try editor.edit(image: gray, source: sourceCaption, targets: targets.map(\.1), settings: settings,
                                      userMask: userMask, progress: ProgressBar.editingPhases())
        if outcome.inversionFromCache { log("inversion: from the cache") }
        try write(outcome, to: folder, slugs: targets.map(\.0), input: input, settings: settings, modelURL: modelURL,
                  format: outputFormat ?? (sourceDICOM != nil ? .dicom : .png), source: sourceDICOM)
    }

    /// The user's mask of `--mask PATH` (nil for auto and none), refused when the path is neither a mode nor a file,
    /// does not decode, or has no bright pixel (then nothing could change).
    func readUserMask() throws -> Plane? {
        guard case .file(let mask) = editing.masking.choice else { return nil }
        guard FileManager.default.fileExists(atPath: mask) else {
            throw CLIError("--mask \(mask): neither a mode (auto, none) nor an existing file (a PNG whose bright pixels "
                           + "may change)")
        }
        let plane = Plane(gray: try readInputImage(mask, "--mask"))
        guard plane.values.contains(where: { $0 >= 0.5 }) else {
            throw CLIError("--mask \(mask): no pixel is bright (at least half white), so nothing could change; "
                           + "bright pixels mark where the edit may change the image")
        }
        return plane
    }

    func inversionCache() throws -> InversionCache? { try openInversionCache(cache, log: log) }

    /// The source caption and (slug, target caption) pairs.
    func prompts(_ template: CaptionTemplate) throws -> (String, [(String, String)]) {
        var targets: [(String, String)] = []
        var used = Set<String>()
        func unique(_ slug: String) -> String {
            var s = slug.isEmpty ? "target" : String(slug.prefix(60)), n = 2
            while used.contains(s) { s = "\(slug.prefix(60))-\(n)"; n += 1 }
            used.insert(s)
            return s
        }
        let source: String
        if let labels {
            let record = try LabelEdit.record(fromLabels: labels, template: template)
            source = template.caption(for: record)
            let edits = try remove.map { LabelEdit.remove($0) } + add.map { LabelEdit.add($0) } + set.map(LabelEdit.parseSet)
            if combine && !edits.isEmpty {
                let r = try edits.reduce(record) { try $1.apply(to: $0, template: template) }
                targets.append((unique(edits.map(\.slug).joined(separator: "+")), template.caption(for: r)))
            } else {
                for e in edits { targets.append((unique(e.slug), template.caption(for: try e.apply(to: record, template: template)))) }
            }
        } else {
            source = self.source!
        }
        for t in target { targets.append((unique(LabelEdit.slugify(t)), t)) }
        return (source, targets)
    }

    func write(_ outcome: EditOutcome, to folder: URL, slugs: [String], input: Image, settings: EditSettings, modelURL: URL,
               format: EditOutputFormat, source: DICOMFile?) throws {
        try Self.asInput(outcome.reconstruction, like: input).writePNG(to: folder.appendingPathComponent("reconstruction.png"))
        var targets: [EditReport.Target] = []
        for (slug, edit) in zip(slugs, outcome.edits) {
            let file = try format.write(Self.asInput(edit.image, like: input), slug: slug, in: folder, source: source,
                                        derivation: "prism edit: \"\(outcome.source)\" to \"\(edit.target)\"; model \(modelURL.lastPathComponent)")
            try Visualize.difference(before: outcome.input, after: edit.image)
                .writePNG(to: folder.appendingPathComponent("\(slug)-difference.png"))
            var entry = EditReport.Target(slug: slug, target: edit.target, image: file,
                                          difference: "\(slug)-difference.png", seconds: edit.seconds,
                                          meanAbsoluteChange: EditMetrics.meanAbsolute(edit.image, outcome.input))
            if let m = edit.mask {
                try Visualize.mask(m, over: outcome.input).writePNG(to: folder.appendingPathComponent("\(slug)-mask.png"))
                entry.mask = "\(slug)-mask.png"
                entry.maskArea = m.area
            }
            targets.append(entry)
        }
        let psnr = EditMetrics.psnr(outcome.reconstruction, outcome.input)
        let report = EditReport(
            image: image, model: modelURL.path, source: outcome.source, targets: targets,
            settings: EditReport.Settings(settings, mask: editing.masking.mask, dtype: precision.dtype),
            timings: EditReport.Timings(inversionSeconds: outcome.inversionSeconds, inversionFromCache: outcome.inversionFromCache,
                                        editSecondsPerTarget: outcome.edits.first?.seconds ?? 0),
            reconstruction: EditReport.Reconstruction(image: "reconstruction.png", psnrDB: psnr.isFinite ? psnr : 999),
            nullTextLosses: outcome.nullTextLosses)
        let data = try JSONFile.encode(report)
        try AtomicFile.write(data, to: folder.appendingPathComponent("result.json"), durability: .unsynced)
        if json { print(String(decoding: data, as: UTF8.self)) }
        log("wrote \(outcome.edits.count) counterfactual(s) to \(folder.path) (reconstruction PSNR \(String(format: "%.1f", psnr)) dB)")
    }

    /// A gray result in the input's mode: its bit depth, gray or RGB, and its alpha.
    static func asInput(_ plane: Plane, like input: Image) -> Image {
        let gray = Image(floats: plane.values, width: plane.width, height: plane.height, bitDepth: input.bitDepth)
        switch input.channels {
        case 1: return gray
        case 3: return gray.rgb()
        default:
            var out = input.channels == 2 ? Image(width: gray.width, height: gray.height, channels: 2, bitDepth: input.bitDepth)
                : Image(width: gray.width, height: gray.height, channels: 4, bitDepth: input.bitDepth)
            for i in 0..<gray.pixelCount {
                for c in 0..<(input.channels - 1) { out.samples[i * input.channels + c] = gray.samples[i] }
                out.samples[i * input.channels + input.channels - 1] = input.samples[i * input.channels + input.channels - 1]
            }
            return out
        }
    }

    var log: Log { Log(tool: "prism edit") }
}

/// The inversion cache of `--cache`: none with "none"; a folder given must be one this process can write (refused
/// now, naming it); the default folder, when it cannot be written, is skipped with a warning.
func openInversionCache(_ cache: String?, log: Log) throws -> InversionCache? {
    if cache == "none" { return nil }
    if let cache {
        do { return InversionCache(folder: try prepareOutputFolder(cache, option: "--cache")) } catch let error as CLIError {
            throw CLIError("\(error.description); give a folder you can write, or --cache none")
        }
    }
    do {
        return InversionCache(folder: try prepareOutputFolder(InversionCache.defaultFolder.path, option: "the inversion cache"))
    } catch {
        log("warning: \(error); editing without caching the inversion")
        return nil
    }
}
