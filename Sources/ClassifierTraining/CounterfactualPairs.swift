import ClassifierMetrics
import Core
import Datasets
import Foundation

/// Images paired with their counterfactuals, read from a CSV: one row per pair, with an `original` and a
/// `counterfactual` column (other names can be given), paths relative to the image root unless absolute, and
/// optionally an `intervention` column that groups the pairs (do(support_devices=0), ...).
///
/// The phantom's `counterfactuals.csv` (`prism phantom generate --counterfactuals`) is read as it is: its `Path` is
/// the counterfactual, `images/<Case>.png` the original, and its `Intervention` the group.
public struct CounterfactualPairs: Sendable, Equatable {
    public var originals: [String]
    public var counterfactuals: [String]
    /// Per pair, nil when the file has no intervention column.
    public var interventions: [String]?

    public init(originals: [String], counterfactuals: [String], interventions: [String]? = nil) {
        self.originals = originals
        self.counterfactuals = counterfactuals
        self.interventions = interventions
    }

    public var count: Int { originals.count }

    public static func read(_ url: URL, originalColumn: String = "original", counterfactualColumn: String = "counterfactual") throws -> CounterfactualPairs {
        let table = try CSVTable.read(url)
        let group = table.header.firstIndex { $0.lowercased() == "intervention" }
        var pairs: CounterfactualPairs
        if let o = table.column(originalColumn), let c = table.column(counterfactualColumn) {
            pairs = CounterfactualPairs(originals: table.rows.map { $0[o] }, counterfactuals: table.rows.map { $0[c] })
        } else if let case_ = table.column("Case"), let path = table.column("Path") {
            pairs = CounterfactualPairs(originals: table.rows.map { "images/\($0[case_]).png" }, counterfactuals: table.rows.map { $0[path] })
        } else {
            throw DataFileError(file: table.file, line: 1, "expected the columns \"\(originalColumn)\" and \"\(counterfactualColumn)\" "
                                + "(one image and its counterfactual a row); the header has: \(table.header.joined(separator: ", "))")
        }
        if let empty = zip(pairs.originals + pairs.counterfactuals, table.lines + table.lines).first(where: { $0.0.isEmpty }) {
            throw DataFileError(file: table.file, line: empty.1, "an empty image path")
        }
        guard pairs.count > 0 else { throw DataFileError(file: table.file, "no pairs (the file has a header only)") }
        pairs.interventions = group.map { g in table.rows.map { $0[g] } }
        return pairs
    }

    /// The distinct paths, originals and counterfactuals together, in first-seen order (each is predicted once).
    public var distinctPaths: [String] {
        var seen = Set<String>()
        return (originals + counterfactuals).filter { seen.insert($0).inserted }
    }
}

/// The sensitivity of each label's probability to one set of pairs.
public struct SensitivityGroup: Codable, Sendable {
    /// "all", or the intervention.
    public var name: String
    public var count: Int
    public var labels: [LabelSensitivity]
}

public struct LabelSensitivity: Codable, Sendable {
    public var label: String
    public var sensitivity: CounterfactualSensitivity
}

/// metrics.json of `prism classifier sensitivity`.
public struct SensitivityResult: Codable, Sendable {
    public var pairs: Int
    public var bootstrapResamples: Int
    /// All pairs first, then one group per intervention when the pairs name several.
    public var groups: [SensitivityGroup]

    /// Per label and group: mean |Δp|, mean Δp and the flip rate at the label's threshold, with bootstrap intervals.
    /// `probability(path)` gives the probabilities of an image, one per label.
    public init(pairs: CounterfactualPairs, labels: [String], thresholds: [Double], bootstrap: Bootstrap = Bootstrap(),
                probability: (String) -> [Double]) {
        func group(_ name: String, _ members: [Int]) -> SensitivityGroup {
            let originals = members.map { probability(pairs.originals[$0]) }
            let counterfactuals = members.map { probability(pairs.counterfactuals[$0]) }
            return SensitivityGroup(name: name, count: members.count, labels: labels.indices.map { k in
                LabelSensitivity(label: labels[k], sensitivity: counterfactualSensitivity(
                    original: originals.map { $0[k] }, counterfactual: counterfactuals.map { $0[k] },
                    threshold: thresholds[k], bootstrap: bootstrap))
            })
        }
        var groups = [group("all", Array(0..<pairs.count))]
        if let interventions = pairs.interventions {
            var seen: [String] = []
            for i in interventions where !seen.contains(i) { seen.append(i) }
            if seen.count > 1 {
                groups += seen.map { name in group(name, interventions.indices.filter { interventions[$0] == name }) }
            }
        }
        self.pairs = pairs.count
        self.bootstrapResamples = bootstrap.resamples
        self.groups = groups
    }

    /// A plain-text table: one row per (group, label).
    public func table() -> String {
        func f(_ e: Estimate, _ format: String = "%.4f") -> String {
            let v = String(format: format, e.value)
            guard let i = e.interval, i.used > 0 else { return v }
            return v + " [" + String(format: format, i.lower) + ", " + String(format: format, i.upper) + "]"
        }
        let nameWidth = max(12, groups.map(\.name.count).max() ?? 0)
        let labelWidth = max(8, groups.flatMap { $0.labels.map(\.label.count) }.max() ?? 0)
        var lines = ["group".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
                     + "label".padding(toLength: labelWidth, withPad: " ", startingAt: 0)
                     + "      n  mean |Δp| [95% CI]          mean Δp [95% CI]            flip rate [95% CI]"]
        for g in groups {
            for l in g.labels {
                let s = l.sensitivity
                lines.append(g.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
                             + l.label.padding(toLength: labelWidth, withPad: " ", startingAt: 0)
                             + String(format: " %6d  ", s.count) + f(s.meanAbsoluteShift).padding(toLength: 28, withPad: " ", startingAt: 0)
                             + f(s.meanSignedShift, "%+.4f").padding(toLength: 28, withPad: " ", startingAt: 0) + f(s.flipRate))
            }
        }
        return lines.joined(separator: "\n")
    }

    public func write(to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try AtomicFile.write(MetricsJSON.encode(self), to: folder.appendingPathComponent("metrics.json"), durability: .unsynced)
    }
}
