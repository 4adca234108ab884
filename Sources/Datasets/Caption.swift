import Core
import Foundation

/// Turns a record's labels into the caption a model is trained on, and the same grammar into the captions that
/// edits use, so that an edit never speaks a language the model did not learn.
///
/// The template has placeholders `{a}` (a/an, agreeing with the word after it), `{age}`, `{sex}`, `{findings}`
/// (also spelled `{labels}`, for images that are not chest X-rays) and `{absent}`, and optional groups in square
/// brackets, dropped when a placeholder inside them is empty:
/// `Chest X-ray of {a} [{age}-year-old ]{sex} with {findings}[, without {absent}]` gives
/// "Chest X-ray of a 70-year-old female with cardiomegaly and support devices".
///
/// With `detail` on, `{findings}` also says what the record tells beyond present (``FindingDetail``): "Chest X-ray of
/// a 70-year-old female with moderate cardiomegaly, a small left pleural effusion and support devices (a pacemaker
/// and a central venous catheter)".
public struct CaptionTemplate: Sendable, Equatable, Codable {
    public var template = "Chest X-ray of {a} [{age}-year-old ]{sex} with {findings}[, without {absent}]"
    /// What `{findings}` says when no finding is present.
    public var noFindings = "no findings"
    /// State the findings a record marks absent (`, without support devices`); off by default, as PRISM.
    public var stateAbsent = false
    /// What `{sex}` says when the sex is unknown.
    public var unknownSex = "patient"
    /// The findings captions mention, in this order; nil: every CheXpert and NIH finding, in CheXpert's order.
    public var findings: [String]?
    /// Caption words for findings (canonical name → words); the default is the lower-cased name.
    public var names: [String: String] = [:]
    /// What to make of uncertain labels.
    public var uncertain: String = UncertainPolicy.ignore.rawValue
    /// Say the detail a record gives of its findings: the cardiomegaly grade ("moderate cardiomegaly"), the effusion's
    /// size and side ("a small left pleural effusion") and each device, inside the umbrella words ("support devices
    /// (a pacemaker)"), so that the plain words of every other caption and edit still match. A record without the
    /// detail gets the plain word. Off by default: the bundled v1 model was trained without it, on the plain captions.
    public var detail = false

    public init() {}

    /// The same template saying only the plain words.
    public var withoutDetail: CaptionTemplate {
        var plain = self
        plain.detail = false
        return plain
    }

    enum CodingKeys: String, CodingKey {
        case template, noFindings = "no_findings", stateAbsent = "state_absent", unknownSex = "unknown_sex"
        case findings, names, uncertain, detail
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = CaptionTemplate.init()
        template = try c.decodeIfPresent(String.self, forKey: .template) ?? d.template
        noFindings = try c.decodeIfPresent(String.self, forKey: .noFindings) ?? d.noFindings
        stateAbsent = try c.decodeIfPresent(Bool.self, forKey: .stateAbsent) ?? d.stateAbsent
        unknownSex = try c.decodeIfPresent(String.self, forKey: .unknownSex) ?? d.unknownSex
        findings = try c.decodeIfPresent([String].self, forKey: .findings)?.map(Findings.canonical)
        // Two spellings of one finding ("Effusion", "Pleural_Effusion") would give it two words: refused, naming both.
        var names: [String: String] = [:], spelling: [String: String] = [:]
        for (key, value) in (try c.decodeIfPresent([String: String].self, forKey: .names) ?? [:]).sorted(by: { $0.key < $1.key }) {
            let finding = Findings.canonical(key)
            if let other = spelling[finding] {
                throw DecodingError.dataCorruptedError(
                    forKey: .names, in: c, debugDescription: "\"\(other)\" and \"\(key)\" both name \(finding)")
            }
            spelling[finding] = key
            names[finding] = value
        }
        self.names = names
        uncertain = try c.decodeIfPresent(String.self, forKey: .uncertain) ?? d.uncertain
        detail = try c.decodeIfPresent(Bool.self, forKey: .detail) ?? d.detail
    }

    /// `detail` is written only when on, so a plain template encodes exactly as before it existed (counterfactual
    /// datasets record their template in run.json and compare it when resumed).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(template, forKey: .template)
        try c.encode(noFindings, forKey: .noFindings)
        try c.encode(stateAbsent, forKey: .stateAbsent)
        try c.encode(unknownSex, forKey: .unknownSex)
        try c.encodeIfPresent(findings, forKey: .findings)
        try c.encode(names, forKey: .names)
        try c.encode(uncertain, forKey: .uncertain)
        if detail { try c.encode(detail, forKey: .detail) }
    }

    /// Reads a template file (JSON with any of the fields above; absent fields keep their defaults).
    public static func load(_ url: URL) throws -> CaptionTemplate {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw DataFileError(file: url.path, "no such file (expected a caption template: JSON, as configs/captions-detail.json)")
        }
        let t: CaptionTemplate
        do { t = try JSONFile.decode(CaptionTemplate.self, from: url) } catch let error as JSONFileError {
            let problem = error.key.isEmpty ? error.problem : "\(error.key): \(error.problem)"
            throw DataFileError(file: url.path, "not a caption template (JSON with \"template\", \"no_findings\", "
                                + "\"state_absent\", \"findings\", \"names\", \"uncertain\", \"detail\"): \(problem)")
        }
        try t.validate(file: url.path)
        return t
    }

    public func validate(file: String = "<template>") throws {
        guard UncertainPolicy(rawValue: uncertain) != nil else {
            throw DataFileError(file: file, "\"uncertain\": \"\(uncertain)\" is not ignore, positive or negative")
        }
        _ = try Self.parse(template, file: file)
    }

    public var uncertainPolicy: UncertainPolicy { UncertainPolicy(rawValue: uncertain) ?? .ignore }

    /// The findings this template can mention, in caption order.
    public var vocabulary: [String] {
        findings ?? (Findings.chexpert + Findings.nih.filter { !Findings.chexpert.contains($0) })
            .filter { $0 != Findings.noFinding }
    }

    /// The caption word(s) for a finding.
    public func word(for finding: String) -> String { names[finding] ?? finding.lowercased() }

    /// The caption of a record.
    public func caption(for record: Record) -> String { caption(for: record, plain: []) }

    /// The caption of a record with the findings in `plain` said in their plain words whatever detail the record
    /// gives (training draws captions that mix plain and detailed phrases, as partial labels write them).
    public func caption(for record: Record, plain: Set<String>) -> String {
        let states = record.findings(uncertainPolicy)
        let present = vocabulary.filter { states[$0] == true }
        let absent = stateAbsent ? vocabulary.filter { states[$0] == false } : []
        let findingsText = present.isEmpty ? noFindings
            : Self.list(present.map { plain.contains($0) ? word(for: $0) : phrase(for: $0, of: record, states) }, conjunction: "and")
        let values: [String: String] = [
            "age": record.age.map(String.init) ?? "",
            "sex": record.sex?.word ?? unknownSex,
            "findings": findingsText,
            "labels": findingsText,
            "absent": Self.list(absent.map(word), conjunction: "or"),
        ]
        // The template was validated when it was made or loaded; a literal default cannot fail to parse.
        let parts = (try? Self.parse(template, file: "<template>")) ?? []
        return Self.render(parts, values)
    }

    /// The present findings whose words say more than their plain word for this record, in caption order: the
    /// phrases `caption(for:plain:)` can say either way.
    public func detailedFindings(of record: Record) -> [String] {
        guard detail else { return [] }
        let states = record.findings(uncertainPolicy)
        return vocabulary.filter { states[$0] == true && phrase(for: $0, of: record, states) != word(for: $0) }
    }

    /// The findings a detail template can say more of than their plain word (``phrase(for:of:_:)``).
    public static let findingsWithDetail = ["Cardiomegaly", "Pleural Effusion", "Support Devices"]

    /// A present finding's words: with `detail` on, what the record tells of it; otherwise (or when it tells nothing)
    /// the plain word. The plain word stays inside the phrase, so an edit naming it still finds it.
    func phrase(for finding: String, of record: Record, _ states: [String: Bool]) -> String {
        let plain = word(for: finding)
        guard detail else { return plain }
        func withArticle(_ words: String) -> String { "\(Self.article(before: words)) \(words)" }
        switch finding {
        case "Cardiomegaly":
            return record.detail.cardiomegalyGrade.map { "\($0.rawValue) \(plain)" } ?? plain
        case "Pleural Effusion":
            // Size before side, as a report says it; singular even when bilateral, so the words stay the plain ones.
            let adjectives = [record.detail.effusionSize?.rawValue, record.detail.effusionSide?.rawValue].compactMap { $0 }
            return adjectives.isEmpty ? plain : withArticle((adjectives + [plain]).joined(separator: " "))
        case "Support Devices":
            let devices = Findings.deviceSubtypes.filter { states[$0] == true }.map { withArticle(word(for: $0)) }
            return devices.isEmpty ? plain : "\(plain) (\(Self.list(devices, conjunction: "and")))"
        default:
            return plain
        }
    }

    static func list(_ words: [String], conjunction: String) -> String {
        switch words.count {
        case 0: return ""
        case 1: return words[0]
        default: return words.dropLast().joined(separator: ", ") + " \(conjunction) " + words.last!
        }
    }

    // MARK: Template syntax

    indirect enum Part: Equatable { case text(String), field(String), group([Part]) }
    static let fieldNames: Set<String> = ["a", "age", "sex", "findings", "labels", "absent"]

    static func parse(_ template: String, file: String) throws -> [Part] {
        var stack: [[Part]] = [[]]
        var text = ""
        var chars = template.makeIterator()
        func flush() { if !text.isEmpty { stack[stack.count - 1].append(.text(text)); text = "" } }
        while let c = chars.next() {
            switch c {
            case "{":
                flush()
                var name = ""
                while let d = chars.next(), d != "}" { name.append(d) }
                guard fieldNames.contains(name) else {
                    throw DataFileError(file: file, "template: unknown placeholder {\(name)}; known: "
                                        + fieldNames.sorted().map { "{\($0)}" }.joined(separator: ", "))
                }
                stack[stack.count - 1].append(.field(name))
            case "[":
                flush()
                stack.append([])
            case "]":
                flush()
                guard stack.count > 1 else { throw DataFileError(file: file, "template: \"]\" without \"[\"") }
                let group = stack.removeLast()
                stack[stack.count - 1].append(.group(group))
            default:
                text.append(c)
            }
        }
        flush()
        guard stack.count == 1 else { throw DataFileError(file: file, "template: \"[\" without \"]\"") }
        return stack[0]
    }

    static func render(_ parts: [Part], _ values: [String: String]) -> String {
        // {a} is left as a marker first, then settled by the word that follows it.
        let marker = "\u{1}"
        // nil when a field inside a group is empty: the group is dropped. Outside groups an empty field is "".
        func go(_ parts: [Part], inGroup: Bool) -> String? {
            var out = ""
            for p in parts {
                switch p {
                case .text(let t): out += t
                case .field("a"): out += marker
                case .field(let name):
                    let v = values[name] ?? ""
                    if v.isEmpty && inGroup { return nil }
                    out += v
                case .group(let g): out += go(g, inGroup: true) ?? ""
                }
            }
            return out
        }
        var s = go(parts, inGroup: false) ?? ""
        while let r = s.range(of: marker) {
            let next = s[r.upperBound...].drop { $0 == " " }.prefix { !$0.isWhitespace && $0 != "-" }
            s.replaceSubrange(r, with: article(before: String(next)))
        }
        return s
    }

    /// "a" or "an", by the sound of the next word ("an 80-year-old", "an 18-year-old", "a 70-year-old").
    static func article(before word: String) -> String {
        guard let first = word.first else { return "a" }
        if first.isNumber {
            let digits = String(word.prefix { $0.isNumber })
            let startsEleven = digits.hasPrefix("11") || digits.hasPrefix("18")
            return digits.hasPrefix("8") || (startsEleven && digits.count % 3 == 2) ? "an" : "a"
        }
        return "aeiou".contains(first.lowercased()) ? "an" : "a"
    }
}

/// A change to a record's labels, said the way a person says it: remove "support devices", add
/// "pleural effusion", set age=80; with detail (``FindingPhrase``): add "a small right pleural effusion", add
/// "moderate cardiomegaly", remove "the pacemaker".
public enum LabelEdit: Sendable, Equatable {
    case remove(String)
    case add(String)
    case set(String, String)

    /// A file-name-safe name for the edit: `remove-support-devices`, `set-age-80`.
    public var slug: String {
        let words: String
        switch self {
        case .remove(let f): words = "remove \(f)"
        case .add(let f): words = "add \(f)"
        case .set(let k, let v): words = "set \(k) \(v)"
        }
        return Self.slugify(words)
    }

    public static func slugify(_ text: String) -> String {
        let mapped = text.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        return String(mapped).split(separator: "-").joined(separator: "-")
    }

    /// Parses `key=value` for `set`.
    public static func parseSet(_ text: String) throws -> LabelEdit {
        let parts = text.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw DataFileError(file: "--set", "\"\(text)\" is not KEY=VALUE (e.g. age=80, sex=F, cardiomegaly=1)")
        }
        return .set(parts[0], parts[1])
    }

    /// The record with this edit applied. Findings are named by canonical or caption words, any case, with the
    /// detail ``FindingPhrase`` reads when added.
    public func apply(to record: Record, template: CaptionTemplate = CaptionTemplate()) throws -> Record {
        var r = record
        switch self {
        case .remove(let f):
            let phrase = try FindingPhrase(parsing: f, template: template)
            // Which side of a bilateral effusion would go, or what a "mild" removal leaves, has no single answer.
            guard !phrase.hasDetail else {
                throw DataFileError(file: "edit", "remove \(f): a removal names the finding without size, side or grade "
                                    + "(\"remove \(template.word(for: phrase.finding))\")")
            }
            phrase.remove(from: &r, policy: template.uncertainPolicy)
        case .add(let f):
            try FindingPhrase(parsing: f, template: template).add(to: &r, policy: template.uncertainPolicy)
        case .set(let key, let value):
            try Self.set(key, value, on: &r, template)
        }
        return r
    }

    /// The finding an add or remove names (its canonical name), nil for `set`.
    public func finding(template: CaptionTemplate = CaptionTemplate()) throws -> FindingPhrase? {
        switch self {
        case .remove(let f), .add(let f): return try FindingPhrase(parsing: f, template: template)
        case .set: return nil
        }
    }

    /// Reads labels the way `--labels "Cardiomegaly=1,Support Devices=1,Sex=F,Age=70"` gives them.
    public static func record(fromLabels text: String, template: CaptionTemplate = CaptionTemplate()) throws -> Record {
        var r = Record(path: "", patientID: "")
        for item in text.split(separator: ",") where !item.trimmingCharacters(in: .whitespaces).isEmpty {
            guard case .set(let k, let v) = try parseSet(String(item)) else { continue }
            try set(k, v, on: &r, template)
        }
        return r
    }

    static func set(_ key: String, _ value: String, on r: inout Record, _ template: CaptionTemplate) throws {
        switch key.lowercased() {
        case "age":
            guard let a = Int(value), a >= 0, a < 150 else {
                throw DataFileError(file: "labels", "age \"\(value)\" is not a number of years")
            }
            r.age = a
        case "sex":
            guard let s = Sex(parsing: value) else {
                throw DataFileError(file: "labels", "sex \"\(value)\" is not F or M")
            }
            r.sex = s
        case _ where FindingDetail.isColumn(key):
            // The manifest's own detail columns: "Effusion Side=left,Effusion Volume=0.3,CTR=0.55".
            try r.detail.set(key, value, file: "labels")
        default:
            let f = try finding(key, template)
            switch value.lowercased() {
            case "1", "true", "yes", "present": r.labels[f] = .positive
            case "0", "false", "no", "absent": r.labels[f] = .negative
            case "-1", "uncertain": r.labels[f] = .uncertain
            default:
                throw DataFileError(file: "labels", "\(key)=\(value): the value is not 1, 0 or -1")
            }
        }
    }

    static func finding(_ name: String, _ template: CaptionTemplate) throws -> String {
        if let f = known(name, template) { return f }
        throw DataFileError(file: "labels", "unknown finding \"\(name)\"; known: "
                            + (template.vocabulary + Findings.deviceSubtypes).map { template.word(for: $0) }.joined(separator: ", "))
    }

    /// The canonical finding `name` names (canonical name or caption word, any case), nil when none.
    static func known(_ name: String, _ template: CaptionTemplate) -> String? {
        let wanted = name.trimmingCharacters(in: .whitespaces).lowercased()
        let known = template.vocabulary + Findings.deviceSubtypes
        if let f = known.first(where: { $0.lowercased() == wanted || template.word(for: $0).lowercased() == wanted }) {
            return f
        }
        let canonical = Findings.canonical(name)
        return known.contains(canonical) ? canonical : nil
    }
}

/// A finding as an edit names it, with the detail it may give: "a small right pleural effusion" (size, then or
/// before the side), "moderate cardiomegaly", "the pacemaker", "support devices". A leading a/an/the is read as
/// an article. What the phrase leaves unsaid of a finding it adds is left to the model's prior (and the phantom's
/// truth takes the patient's own draw; the metrics score the nearest patient the caption allows).
public struct FindingPhrase: Sendable, Equatable {
    /// The canonical name: "Pleural Effusion", "Pacemaker".
    public var finding: String
    public var side: Laterality?
    public var size: EffusionSize?
    public var grade: CardiomegalyGrade?

    public init(finding: String, side: Laterality? = nil, size: EffusionSize? = nil, grade: CardiomegalyGrade? = nil) {
        self.finding = finding
        self.side = side
        self.size = size
        self.grade = grade
    }

    public var hasDetail: Bool { side != nil || size != nil || grade != nil }

    /// What each finding that takes detail takes, for messages.
    static let detailHelp = "pleural effusion takes a size (small, moderate, large) and a side (left, right, bilateral: "
        + "the patient's), cardiomegaly a grade (mild, moderate, severe), e.g. \"add a small right pleural effusion\", "
        + "\"add moderate cardiomegaly\""

    public init(parsing text: String, template: CaptionTemplate = CaptionTemplate()) throws {
        var words = text.split(whereSeparator: \.isWhitespace).map { $0.lowercased() }
        if words.count > 1, ["a", "an", "the"].contains(words[0]) { words.removeFirst() }
        // The longest tail that names a finding is the finding; the words before it are its detail.
        guard let k = words.indices.first(where: { LabelEdit.known(words[$0...].joined(separator: " "), template) != nil })
        else {
            _ = try LabelEdit.finding(words.joined(separator: " "), template)  // throws, listing the known findings
            throw DataFileError(file: "labels", "unknown finding \"\(text)\"")
        }
        self.init(finding: LabelEdit.known(words[k...].joined(separator: " "), template)!)
        for word in words[..<k] {
            switch finding {
            case "Pleural Effusion" where EffusionSize(rawValue: word) != nil && size == nil: size = EffusionSize(rawValue: word)
            case "Pleural Effusion" where Laterality(rawValue: word) != nil && side == nil: side = Laterality(rawValue: word)
            case "Cardiomegaly" where CardiomegalyGrade(rawValue: word) != nil && grade == nil:
                grade = CardiomegalyGrade(rawValue: word)
            default:
                throw DataFileError(file: "labels", "\"\(text)\": \"\(word)\" is not a detail of "
                                    + "\(template.word(for: finding)) (or is given twice); \(Self.detailHelp)")
            }
        }
    }

    /// Makes the finding present. Detail named is set; detail unnamed is kept where the finding was already present
    /// and left unsaid where it is new. A named device brings the umbrella "Support Devices" with it.
    public func add(to r: inout Record, policy: UncertainPolicy) {
        let wasPresent = r.findings(policy)[finding] == true
        r.labels[finding] = .positive
        switch finding {
        case "Pleural Effusion":
            r.detail.effusionSide = side ?? (wasPresent ? r.detail.effusionSide : nil)
            r.detail.effusionSize = size ?? (wasPresent ? r.detail.effusionSize : nil)
        case "Cardiomegaly":
            r.detail.cardiomegalyGrade = grade ?? (wasPresent ? r.detail.cardiomegalyGrade : nil)
        case _ where Findings.deviceSubtypes.contains(finding):
            r.labels["Support Devices"] = .positive
        default:
            break
        }
    }

    /// Makes the finding absent, with its detail. Removing "support devices" removes every device the record names;
    /// removing one device keeps the others, and the umbrella goes only when the record itemises its devices (labels
    /// every kind, as the phantom's manifest does) and none is left.
    public func remove(from r: inout Record, policy: UncertainPolicy) {
        r.labels[finding] = .negative
        switch finding {
        case "Pleural Effusion":
            r.detail.effusionSide = nil
            r.detail.effusionSize = nil
        case "Cardiomegaly":
            r.detail.cardiomegalyGrade = nil
        case "Support Devices":
            for d in Findings.deviceSubtypes where r.labels[d] != nil { r.labels[d] = .negative }
        case _ where Findings.deviceSubtypes.contains(finding):
            let states = r.findings(policy)
            let itemised = Findings.deviceSubtypes.allSatisfy { r.labels[$0] != nil }
            if itemised && !Findings.deviceSubtypes.contains(where: { states[$0] == true }) {
                r.labels["Support Devices"] = .negative
            }
        default:
            break
        }
    }
}
