import Core
import Counterfactual
import Datasets
import Foundation
import Imaging
import Phantom

/// A counterfactual asked of the model in words and of the phantom as an intervention, so that the model's
/// answer can be compared with the truth.
public struct PhantomEdit: Sendable {
    public let name: String
    public let label: LabelEdit
    public let interventions: [Intervention]
    /// Whether the edit changes anything for a case (removing what is absent is no counterfactual).
    public let applies: @Sendable (Attributes, SCMParameters) -> Bool
    /// The other patients the target caption describes just as well, on a grid: what the caption leaves open and
    /// the input does not show (how small the heart becomes; the side and volume of a new effusion, which the
    /// phantom draws from noise an image without effusion does not reveal). Empty when the truth is the only one.
    public var alternatives: @Sendable (SCMParameters) -> [[Intervention]] = { _ in [] }

    public static let removeSupportDevices = PhantomEdit(
        name: "remove support devices", label: .remove("support devices"), interventions: [.supportDevices(false)],
        applies: { a, _ in a.supportDevices })
    public static let removeCardiomegaly = PhantomEdit(
        name: "remove cardiomegaly", label: .remove("cardiomegaly"), interventions: [.cardiomegaly(false)],
        applies: { a, p in a.cardiomegaly(p) },
        alternatives: { p in
            stride(from: p.ctrMin, to: p.cardiomegalyThreshold - 1e-9, by: 0.02).map { [.ctr(($0 * 100).rounded() / 100)] }
        })
    public static let addPleuralEffusion = PhantomEdit(
        name: "add pleural effusion", label: .add("pleural effusion"), interventions: [.pleuralEffusion(true)],
        applies: { a, _ in !a.pleuralEffusion },
        alternatives: { p in
            let largest = p.effusionVolumeMin + p.effusionVolumeFromSeverity + p.effusionVolumeSpread
            return [EffusionSide.left, .right, .bilateral].flatMap { side in
                stride(from: p.effusionVolumeMin, through: largest + 1e-9, by: 0.15).map {
                    [.effusionSide(side), .effusionVolume(($0 * 100).rounded() / 100)]
                }
            }
        })

    public static let standard = [removeSupportDevices, removeCardiomegaly, addPleuralEffusion]

    /// Edits that name detail (docs/editing.md, "Detail"), for help texts; any add or remove of a finding the phantom
    /// labels parses (`parsing`).
    public static let detailExamples = ["add a small right pleural effusion", "add moderate cardiomegaly", "remove the pacemaker",
                                        "add a central venous catheter"]
}

extension PhantomEdit {
    /// An edit in words: one of `standard` by its name (the same edit, so its numbers do not move), or "add"/"remove"
    /// of a finding the phantom labels, with the detail ``FindingPhrase`` reads. Its truth is the patient with that
    /// finding changed: named detail set to the middle of its band (``PhantomDetail``), unnamed detail the patient's
    /// own draw, and every patient the caption also describes (the rest of the band; every side, when none is named)
    /// among the alternatives.
    public static func parsing(_ text: String, template: CaptionTemplate = CaptionTemplate(),
                               parameters: SCMParameters = SCMParameters()) throws -> PhantomEdit {
        let name = text.split(whereSeparator: \.isWhitespace).joined(separator: " ").lowercased()
        if let known = standard.first(where: { $0.name == name }) { return known }
        let words = name.split(separator: " ", maxSplits: 1).map(String.init)
        guard words.count == 2, words[0] == "add" || words[0] == "remove" else {
            throw DataFileError(file: "--edit", "\"\(text)\" is not an edit: use \"add FINDING\" or \"remove FINDING\", e.g. "
                                + (standard.map(\.name) + detailExamples).map { "\"\($0)\"" }.joined(separator: ", "))
        }
        let adding = words[0] == "add"
        let label: LabelEdit = adding ? .add(words[1]) : .remove(words[1])
        // Applying it to an empty record checks the finding and its detail, with the messages `prism edit` gives.
        _ = try label.apply(to: Record(path: "", patientID: ""), template: template)
        let phrase = try label.finding(template: template)!
        guard let present = presence(of: phrase.finding), let plain = labelIntervention(phrase.finding, on: adding) else {
            throw DataFileError(file: "--edit", "\"\(text)\": the phantom does not draw \(template.word(for: phrase.finding)); "
                                + "it draws cardiomegaly, pleural effusion, support devices and "
                                + Findings.deviceSubtypes.map { $0.lowercased() }.joined(separator: ", "))
        }
        return PhantomEdit(name: name, label: label,
                           interventions: adding ? PhantomDetail.interventions(adding: phrase, parameters) : [plain],
                           applies: { a, p in present(a, p) != adding },
                           alternatives: { p in adding ? alternatives(adding: phrase, p) : [] })
    }

    /// Whether a finding the phantom labels is present in a case; nil for one it does not label.
    static func presence(of finding: String) -> (@Sendable (Attributes, SCMParameters) -> Bool)? {
        switch finding {
        case "Cardiomegaly": return { a, p in a.cardiomegaly(p) }
        case "Pleural Effusion": return { a, _ in a.pleuralEffusion }
        case "Support Devices": return { a, _ in a.supportDevices }
        case "Pacemaker": return { a, _ in a.pacemaker }
        case "Endotracheal Tube": return { a, _ in a.endotrachealTube }
        case "Central Venous Catheter": return { a, _ in a.centralVenousCatheter }
        case "Nasogastric Tube": return { a, _ in a.nasogastricTube }
        default: return nil
        }
    }

    /// do(label = on) for a finding the phantom labels (the intervention parser reads label names); nil for one it
    /// does not.
    static func labelIntervention(_ finding: String, on: Bool) -> Intervention? {
        try? Intervention(parsing: "\(finding)=\(on ? 1 : 0)")
    }

    /// The patients an added finding's caption describes, on a grid: an effusion's sides (the named one, or all three)
    /// by volumes in the named band (or the whole range, as `addPleuralEffusion`'s); CTRs in the named grade (or
    /// anywhere above the threshold). A device has none: its caption names all there is.
    static func alternatives(adding phrase: FindingPhrase, _ p: SCMParameters) -> [[Intervention]] {
        func grid(_ r: ClosedRange<Double>, by step: Double) -> [Double] {
            stride(from: r.lowerBound, through: r.upperBound + 1e-9, by: step).map { ($0 * 100).rounded() / 100 }
        }
        switch phrase.finding {
        case "Pleural Effusion":
            let sides = phrase.side.map { [EffusionSide($0)] } ?? [.left, .right, .bilateral]
            let largest = p.effusionVolumeMin + p.effusionVolumeFromSeverity + p.effusionVolumeSpread
            // A grid point on a band's lower edge belongs to the band below: left out.
            let volumes = phrase.size.map { size in grid(PhantomDetail.volumes(size, p), by: 0.05).filter { EffusionSize(volume: $0) == size } }
                ?? grid(p.effusionVolumeMin...max(largest, p.effusionVolumeMin), by: 0.15)
            return sides.flatMap { side in volumes.map { [.effusionSide(side), .effusionVolume($0)] } }
        case "Cardiomegaly":
            let ratios = phrase.grade.map { PhantomDetail.ratios($0, p) }
                ?? (p.cardiomegalyThreshold + 0.01)...max(p.ctrMax, p.cardiomegalyThreshold + 0.01)
            return grid(ratios, by: 0.01).filter { $0 > p.cardiomegalyThreshold && (phrase.grade == nil || CardiomegalyGrade(ctr: $0) == phrase.grade) }
                .map { [.ctr($0)] }
        default:
            return []
        }
    }
}

/// One edit of one case, scored against the phantom's ground truth.
public struct ScoredEdit: Sendable {
    public let edit: String
    public let mask: MaskMode
    public let source: String
    public let target: String
    public let score: EditMetrics.GroundTruthScore
    /// The gap closed towards the causal model's total effect, where it differs from the truth: near 1 with no
    /// mask means the model changes what the data tie to the edited finding, as the phantom's causal model does.
    public let causalGapClosed: Double?
    /// Mean |edit − input| inside the pacemaker's footprint, when the case has one: how much of the pacemaker
    /// the edit took away (large under `--mask none` means the model ties the pacemaker to the edited finding).
    public let pacemakerChange: Double?
    /// For an edit whose caption allows other patients than the truth (`PhantomEdit.alternatives`), the one nearest to
    /// the edit and the edit's score against it: whether the model drew another patient the caption describes, or
    /// something no such patient looks like.
    public let nearest: NearestCounterfactual?
    public let seconds: Double
    public let files: [String: String]
}

/// The counterfactual, among those a target caption allows, that lies nearest to an edit (mean absolute difference
/// over the image), and the edit scored against it.
public struct NearestCounterfactual: Sendable {
    /// Its interventions on the input's patient, as `prism phantom counterfactual --do` takes them: "ctr=0.4".
    public let interventions: String
    public let score: EditMetrics.GroundTruthScore
}

public struct ScoredCase: Sendable {
    public let id: String
    public let caption: String
    public let inputFile: String
    public let reconstructionFile: String
    public let reconstructionPSNR: Double
    public let inversionSeconds: Double
    public let edits: [ScoredEdit]
}

/// Edits phantom cases with a model and scores each edit against the truth (abduction–action–prediction on
/// the phantom's causal model), writing every picture as it goes.
public struct PhantomEvaluation {
    public let editor: CounterfactualEditor
    public let template: CaptionTemplate
    public let settings: EditSettings
    /// Also edit "remove cardiomegaly" with no mask, to see what else the model takes away with it.
    public let freeCardiomegalyEdit: Bool
    /// Findings the captions say without their detail, as labels that lack it do ("cardiomegaly" for "moderate
    /// cardiomegaly"); an edit still names the detail of the finding it edits, so its target mixes the two.
    public let plainFindings: Set<String>

    public init(editor: CounterfactualEditor, template: CaptionTemplate = CaptionTemplate(), settings: EditSettings,
                freeCardiomegalyEdit: Bool = true, plainFindings: Set<String> = []) {
        self.editor = editor
        self.template = template
        self.settings = settings
        self.freeCardiomegalyEdit = freeCardiomegalyEdit
        self.plainFindings = plainFindings
    }

    /// The caption of a case's record, or of its edited record, with `plainFindings` said plainly except the one
    /// the edit names.
    func caption(for record: Record, editing edit: PhantomEdit? = nil) -> String {
        let edited = edit.flatMap { try? $0.label.finding(template: template)?.finding }
        return template.caption(for: record, plain: plainFindings.subtracting(edited.map { [$0] } ?? []))
    }

    /// Cases of the phantom set `seed` (indices from 0), the first `count` for which every edit applies except
    /// possibly one, at the model's resolution. Seeds outside the training range make them unseen patients.
    public static func cases(seed: UInt64, count: Int, size: Int, edits: [PhantomEdit] = PhantomEdit.standard) -> [PhantomCase] {
        var out: [PhantomCase] = []
        var index = 0
        while out.count < count && index < 10_000 {
            let c = PhantomCase(seed: seed, index: index, size: size)
            let applicable = edits.filter { $0.applies(c.attributes, c.parameters) }.count
            // Cases with a pacemaker and cardiomegaly first: they show the hidden relationship.
            let wanted = out.count < (count + 1) / 2 ? c.attributes.pacemaker && c.attributes.cardiomegaly(c.parameters)
                : c.attributes.supportDevices && applicable >= edits.count - 1
            // At least one edit must apply (one chosen edit alone may apply to none of the first kind).
            if wanted && applicable >= max(edits.count - 1, 1) { out.append(c) }
            index += 1
        }
        return out
    }

    /// The record a manifest row of this case reads as: the same labels, and so the same caption, as in training.
    public static func record(_ c: PhantomCase, _ attributes: Attributes) throws -> Record {
        let row = PhantomLabels.row(path: "\(c.id).png", attributes, c.parameters, anatomy: c.anatomy)
        let text = csvLine(PhantomLabels.header) + "\n" + csvLine(row) + "\n"
        return try Manifest.records(CSVTable.parse(text, file: "phantom case \(c.id)"))[0]
    }

    /// Runs every applicable edit on each case; pictures go under `folder/ID/`, file names relative to `folder`.
    public func run(_ cases: [PhantomCase], edits: [PhantomEdit] = PhantomEdit.standard, folder: URL,
                    progress: CounterfactualEditor.Progress = { _, _, _ in }, log: (String) -> Void = { _ in }) throws
        -> [ScoredCase]
    {
        var results: [ScoredCase] = []
        for c in cases {
            let dir = folder.appendingPathComponent(c.id)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let factual = c.render(masks: true)
            let input = Plane(gray: factual.image)
            let record = try Self.record(c, c.attributes)
            let source = caption(for: record)
            let applicable = edits.filter { $0.applies(c.attributes, c.parameters) }
            log("case \(c.id): \(source)")
            func save(_ image: Image, _ name: String) throws -> String {
                try image.writePNG(to: dir.appendingPathComponent(name))
                return "\(c.id)/\(name)"
            }
            let inputFile = try save(factual.image, "input.png")
            let pacemaker = factual.masks[.pacemaker]

            let truths = try applicable.map { try truth(of: $0, for: c, factual: factual.image, save: save) }
            let targets = try applicable.map { caption(for: try $0.label.apply(to: record, template: template), editing: $0) }
            let outcome = try editor.edit(image: input, source: source, targets: targets, settings: settings, progress: progress)
            let reconstructionFile = try save(outcome.reconstruction.image(), "reconstruction.png")
            var scored: [ScoredEdit] = []
            for (i, e) in applicable.enumerated() {
                scored.append(try score(e, outcome.edits[i], mask: settings.mask, input: input, truth: truths[i], pacemaker: pacemaker,
                                        source: source, save: save))
            }
            if freeCardiomegalyEdit, let i = applicable.firstIndex(where: { $0.name == PhantomEdit.removeCardiomegaly.name }) {
                var free = settings
                free.mask = .none
                let freeOutcome = try editor.edit(image: input, source: source, targets: [targets[i]], settings: free,
                                                  progress: progress)
                scored.append(try score(applicable[i], freeOutcome.edits[0], mask: .none, input: input, truth: truths[i],
                                        pacemaker: pacemaker, source: source, save: save))
            }
            results.append(ScoredCase(id: c.id, caption: source, inputFile: inputFile, reconstructionFile: reconstructionFile,
                                      reconstructionPSNR: EditMetrics.psnr(outcome.reconstruction, input),
                                      inversionSeconds: outcome.inversionSeconds, edits: scored))
        }
        return results
    }

    /// An edit's truth: the same patient with only the edited label changed, which is the patient the target caption
    /// describes (it keeps every other finding). The causal model's total effect, where the intervention also moves
    /// descendants (no cardiomegaly: often no pacemaker, sometimes no effusion), is saved beside it: what a model
    /// that learned the data's relationships would draw with no mask.
    func truth(of e: PhantomEdit, for c: PhantomCase, factual: Image, save: (Image, String) throws -> String) throws -> Truth {
        let slug = e.label.slug
        let direct = c.counterfactualAttributes(e.interventions, directOnly: true)
        let total = c.counterfactualAttributes(e.interventions)
        let image = c.render(direct).image
        let change = changeMask(factual, image)
        var causal: Reference?
        if total != direct {
            let totalImage = c.render(total).image
            causal = Reference(image: Plane(gray: totalImage), change: Plane(gray: changeMask(factual, totalImage)),
                               file: try save(totalImage, "\(slug)-causal.png"))
        }
        let alternatives = e.alternatives(c.parameters).map { interventions -> Alternative in
            let picture = c.render(c.counterfactualAttributes(interventions, directOnly: true)).image
            return Alternative(interventions: interventions.map(\.description).joined(separator: ","), image: Plane(gray: picture),
                               change: Plane(gray: changeMask(factual, picture)))
        }
        return Truth(direct: Reference(image: Plane(gray: image), change: Plane(gray: change), file: try save(image, "\(slug)-truth.png")),
                     changeFile: try save(change, "\(slug)-change.png"), causal: causal, alternatives: alternatives)
    }

    /// A phantom counterfactual an edit is scored against: its picture, where it differs from the input, its file.
    struct Reference {
        let image: Plane
        let change: Plane
        let file: String

        func score(input: Plane, edit: Plane) -> EditMetrics.GroundTruthScore {
            EditMetrics.score(input: input, edit: edit, truth: image, changeMask: change)
        }
    }

    /// Another patient the target caption describes (`PhantomEdit.alternatives`), rendered.
    struct Alternative {
        let interventions: String
        let image: Plane
        let change: Plane
    }

    /// An edit's ground truth (the direct counterfactual) with its change mask's file, the causal total effect
    /// when it differs, and the other patients the caption allows.
    struct Truth {
        let direct: Reference
        let changeFile: String
        let causal: Reference?
        let alternatives: [Alternative]

        /// The allowed patient nearest to `edit` (mean absolute difference over the image).
        func nearest(to edit: Plane) -> Alternative? {
            alternatives.min { EditMetrics.meanAbsolute($0.image, edit) < EditMetrics.meanAbsolute($1.image, edit) }
        }
    }

    func score(_ e: PhantomEdit, _ edited: EditedImage, mask: MaskMode, input: Plane, truth: Truth,
               pacemaker: [Bool]?, source: String, save: (Image, String) throws -> String) throws -> ScoredEdit {
        let slug = e.label.slug + (mask == .none ? "-free" : "")
        var files = ["truth": truth.direct.file, "change": truth.changeFile]
        if let causal = truth.causal { files["causal"] = causal.file }
        files["edit"] = try save(edited.image.image(), "\(slug).png")
        files["difference"] = try save(Visualize.difference(before: input, after: edited.image), "\(slug)-difference.png")
        if let m = edited.mask { files["mask"] = try save(Visualize.mask(m, over: input), "\(slug)-mask.png") }
        if let a = edited.attention {
            // The normalised attention before thresholding: where the mask came from.
            files["attention"] = try save(a.resized(width: input.width, height: input.height).image(), "\(slug)-attention.png")
        }
        let pacemakerChange = pacemaker.flatMap { p in p.contains(true) ? EditMetrics.meanAbsolute(edited.image, input, where: p) : nil }
        var nearest: NearestCounterfactual?
        if let n = truth.nearest(to: edited.image) {
            files["nearest"] = try save(n.image.image(), "\(slug)-nearest.png")
            nearest = NearestCounterfactual(interventions: n.interventions,
                                            score: EditMetrics.score(input: input, edit: edited.image, truth: n.image, changeMask: n.change))
        }
        return ScoredEdit(edit: e.name, mask: mask, source: source, target: edited.target,
                          score: truth.direct.score(input: input, edit: edited.image),
                          causalGapClosed: truth.causal?.score(input: input, edit: edited.image).gapClosed,
                          pacemakerChange: pacemakerChange, nearest: nearest, seconds: edited.seconds, files: files)
    }
}
