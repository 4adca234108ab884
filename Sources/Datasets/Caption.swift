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

    public init() {}

    enum CodingKeys: String, CodingKey {
        case template, noFindings = "no_findings", stateAbsent = "state_absent", unknownSex = "unknown_sex"
        case findings, names, uncertain
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
    }

    /// Reads a template file (JSON with any of the fields above; absent fields keep their defaults).
    public static func load(_ url: URL) throws -> CaptionTemplate {
        let t: CaptionTemplate
        do { t = try JSONFile.decode(CaptionTemplate.self, from: url) } catch let error as JSONFileError {
            let problem = error.key.isEmpty ? error.problem : "\(error.key): \(error.problem)"
            throw DataFileError(file: url.path, "not a caption template (JSON with \"template\", \"no_findings\", "
                                + "\"state_absent\", \"findings\", \"names\", \"uncertain\"): \(problem)")
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
    public func caption(for record: Record) -> String {
        let states = record.findings(uncertainPolicy)
        let present = vocabulary.filter { states[$0] == true }
        let absent = stateAbsent ? vocabulary.filter { states[$0] == false } : []
        let findingsText = present.isEmpty ? noFindings : Self.list(present.map(word), conjunction: "and")
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
/// "pleural effusion", set age=80.
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

    /// The record with this edit applied. Findings are named by canonical or caption words, any case.
    public func apply(to record: Record, template: CaptionTemplate = CaptionTemplate()) throws -> Record {
        var r = record
        switch self {
        case .remove(let f): r.labels[try Self.finding(f, template)] = .negative
        case .add(let f): r.labels[try Self.finding(f, template)] = .positive
        case .set(let key, let value):
            try Self.set(key, value, on: &r, template)
        }
        return r
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
        let wanted = name.trimmingCharacters(in: .whitespaces).lowercased()
        let known = template.vocabulary + Findings.deviceSubtypes
        if let f = known.first(where: { $0.lowercased() == wanted || template.word(for: $0).lowercased() == wanted }) {
            return f
        }
        let canonical = Findings.canonical(name)
        if known.contains(canonical) { return canonical }
        throw DataFileError(file: "labels", "unknown finding \"\(name)\"; known: "
                            + known.map { template.word(for: $0) }.joined(separator: ", "))
    }
}
