import ClassifierMetrics
import Core
import Datasets

/// One edit's effect on one measured label: the mean signed change (counterfactual − factual) over the edited images,
/// its bootstrap interval, a paired test of "no change", and whether the audit flags it.
public struct EffectCell: Codable, Sendable, Equatable {
    public var edit: String
    public var label: String
    /// Pairs the mean is over (images the edit applied to).
    public var count: Int
    public var meanChange: Double
    public var ciLow: Double
    public var ciHigh: Double
    /// Two-sided sign-flip permutation test of a zero mean change.
    public var pValue: Double
    /// Holm's step-down adjustment over every tested cell of the matrix.
    public var pAdjusted: Double
    /// What the edit's caption says of this label: `edited` (the edit's own finding), `implied` (follows from it by
    /// definition: No Finding, or the device umbrella and its subtypes) or `kept` (the caption keeps it).
    public var role: Role
    /// A kept label that moves: adjusted p below the level and |mean change| at least the minimum effect.
    public var flagged: Bool

    public enum Role: String, Codable, Sendable { case edited, implied, kept }

    enum CodingKeys: String, CodingKey {
        case edit, label, count, role, flagged
        case meanChange = "mean_change", ciLow = "ci_low", ciHigh = "ci_high", pValue = "p_value", pAdjusted = "p_adjusted"
    }
}

/// The paired scores of one edit: for each image it applied to, the measured labels before and after.
public struct EditEffects: Sendable {
    public var edit: String
    /// The labels the edit's caption changes.
    public var edited: Set<String>
    /// [pair][label] in the order of the matrix's labels; nil where the measure has no value.
    public var before: [[Double]]
    public var after: [[Double]]
    /// Which image each pair is (for showing the pairs that moved most).
    public var ids: [String]

    public init(edit: String, edited: Set<String>, before: [[Double]], after: [[Double]], ids: [String]) {
        precondition(before.count == after.count && before.count == ids.count, "EditEffects: unpaired scores")
        self.edit = edit
        self.edited = edited
        self.before = before
        self.after = after
        self.ids = ids
    }

    /// The signed changes of label `k`, pair by pair.
    public func changes(_ k: Int) -> [Double] { zip(before, after).map { $1[k] - $0[k] } }
}

/// How cells are tested and flagged.
public struct AuditStatistics: Sendable, Equatable {
    /// Family-wise error level of the flags (Holm over the whole matrix).
    public var level = 0.05
    /// The smallest |mean change| worth a flag: a probability moving by less is not a relationship a reader would act
    /// on, however many images make it significant. Age, in years, has its own.
    public var minimumEffect = 0.05
    public var minimumAgeEffect = 2.0
    public var bootstrap = Bootstrap(resamples: 1000, seed: 0)
    /// Sign flips drawn per test (an exact enumeration below 13 pairs).
    public var permutations = 9999
    public var seed: UInt64 = 0

    public init() {}

    public func minimumEffect(for label: String) -> Double { label == "Age" ? minimumAgeEffect : minimumEffect }
}

/// Rows the edits, columns the measured labels: the audit's answer.
public struct EffectMatrix: Codable, Sendable {
    public var edits: [String]
    public var labels: [String]
    public var cells: [EffectCell]

    public func cell(_ edit: String, _ label: String) -> EffectCell? {
        cells.first { $0.edit == edit && $0.label == label }
    }

    public var flagged: [EffectCell] { cells.filter(\.flagged) }

    /// Tests every (edit, label) cell, adjusts the p-values over the matrix (Holm) and flags kept labels that move.
    public init(_ effects: [EditEffects], labels: [String], statistics: AuditStatistics = AuditStatistics()) {
        edits = effects.map(\.edit)
        self.labels = labels
        var cells: [EffectCell] = []
        for (row, e) in effects.enumerated() {
            for (k, label) in labels.enumerated() {
                let d = e.changes(k)
                let mean = d.isEmpty ? 0 : d.reduce(0, +) / Double(d.count)
                let ci = statistics.bootstrap.interval(count: d.count) { w in
                    let n = w.reduce(0, +)
                    return n == 0 ? nil : zip(w, d).reduce(0) { $0 + Double($1.0) * $1.1 } / Double(n)
                }
                let p = signFlipTest(d, permutations: statistics.permutations,
                                     seed: statistics.seed &+ UInt64(row * labels.count + k))
                cells.append(EffectCell(edit: e.edit, label: label, count: d.count, meanChange: mean,
                                        ciLow: d.isEmpty ? 0 : ci.lower, ciHigh: d.isEmpty ? 0 : ci.upper, pValue: p,
                                        pAdjusted: p, role: Self.role(of: label, edited: e.edited), flagged: false))
            }
        }
        let adjusted = holm(cells.map(\.pValue))
        for i in cells.indices {
            cells[i].pAdjusted = adjusted[i]
            cells[i].flagged = cells[i].role == .kept && adjusted[i] < statistics.level
                && abs(cells[i].meanChange) >= statistics.minimumEffect(for: cells[i].label)
        }
        self.cells = cells
    }

    /// The role of `label` for an edit of `edited`: the edited finding; what follows from it by definition (No
    /// Finding from any finding, the device umbrella from a device and the devices from the umbrella); or kept.
    public static func role(of label: String, edited: Set<String>) -> EffectCell.Role {
        if edited.contains(label) { return .edited }
        let devices = Set(Findings.deviceSubtypes), umbrella = "Support Devices"
        if label == Findings.noFinding && !edited.isSubset(of: ["Age", "Sex"]) { return .implied }
        if label == umbrella && !edited.isDisjoint(with: devices) { return .implied }
        if devices.contains(label) && edited.contains(umbrella) { return .implied }
        return .kept
    }
}

/// Two-sided p-value of a zero mean for paired differences, by flipping their signs (valid for any symmetric null):
/// the share of sign patterns whose |mean| reaches the observed one, counting the observed pattern (so never 0).
/// Exact enumeration for fewer than 13 non-zero differences, `permutations` seeded random patterns otherwise.
public func signFlipTest(_ differences: [Double], permutations: Int = 9999, seed: UInt64 = 0) -> Double {
    let d = differences.filter { $0 != 0 }
    guard !d.isEmpty else { return 1 }
    let observed = abs(d.reduce(0, +))
    // Sums within a relative 1e-12 of the observed count as reaching it (float sums in another order).
    let reach = observed * (1 - 1e-12)
    if d.count < 13 {
        var hits = 0
        for pattern in 0..<(1 << d.count) {
            var s = 0.0
            for (i, x) in d.enumerated() { s += pattern & (1 << i) == 0 ? x : -x }
            if abs(s) >= reach { hits += 1 }
        }
        return Double(hits) / Double(1 << d.count)
    }
    var rng = SplitMix64(seed: seed)
    var hits = 0
    for _ in 0..<permutations {
        var s = 0.0
        for x in d { s += rng.uniform() < 0.5 ? x : -x }
        if abs(s) >= reach { hits += 1 }
    }
    return Double(hits + 1) / Double(permutations + 1)
}

/// Holm's step-down adjustment (Holm 1979), as statsmodels' `multipletests(method="holm")`: sorted ascending,
/// p_(i) · (m − i + 1), made monotone, capped at 1; returned in the input's order.
public func holm(_ p: [Double]) -> [Double] {
    let m = p.count
    let order = p.indices.sorted { p[$0] < p[$1] }
    var adjusted = [Double](repeating: 1, count: m)
    var running = 0.0
    for (rank, i) in order.enumerated() {
        running = max(running, min(1, p[i] * Double(m - rank)))
        adjusted[i] = running
    }
    return adjusted
}
