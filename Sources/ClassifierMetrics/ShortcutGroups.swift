/// The images of one (label, attribute) group and how often the thresholded prediction is right on them.
public struct GroupAccuracy: Codable, Sendable {
    public var label: Bool
    public var attribute: Bool
    public var count: Int
    /// NaN for an empty group.
    public var accuracy: Double
}

/// A shortcut as the field measures it (Sagawa et al. 2020's groups; the aligned/conflicting split of shortcut
/// studies such as Pleural Effusion vs Support Devices): the label y, a binary attribute a the classifier might
/// lean on, and what the scores do where a agrees with y (shortcut-aligned: a shortcut helps) and where it
/// does not (shortcut-conflicting: a shortcut hurts).
public struct ShortcutReport: Codable, Sendable {
    public var threshold: Double
    /// The four groups in the order (y, a) = (0, 0), (0, 1), (1, 0), (1, 1).
    public var groups: [GroupAccuracy]
    /// The lowest accuracy of a non-empty group (NaN when there are no images).
    public var worstGroupAccuracy: Double
    /// AUROC on the images with a == y.
    public var aligned: AUROCEstimate
    /// AUROC on the images with a != y.
    public var conflicting: AUROCEstimate
    /// Aligned minus conflicting AUROC, with its interval from the same resamples (positive: a shortcut).
    public var gap: AUROCEstimate
}

/// The groups, worst-group accuracy at `threshold`, and the aligned and conflicting AUROCs and their gap with
/// bootstrap intervals (resampling all images; a resample is skipped for a subset that then holds one class).
public func shortcutReport(labels: [Bool], attributes: [Bool], scores: [Double], threshold: Double,
                           bootstrap: Bootstrap? = Bootstrap()) -> ShortcutReport {
    precondition(labels.count == attributes.count && labels.count == scores.count,
                 "shortcutReport: \(labels.count) labels, \(attributes.count) attributes, \(scores.count) scores")
    let groups = [(false, false), (false, true), (true, false), (true, true)].map { y, a in
        let members = labels.indices.filter { labels[$0] == y && attributes[$0] == a }
        let right = members.filter { (scores[$0] >= threshold) == y }.count
        return GroupAccuracy(label: y, attribute: a, count: members.count,
                             accuracy: members.isEmpty ? .nan : Double(right) / Double(members.count))
    }
    let aligned = labels.indices.filter { labels[$0] == attributes[$0] }
    let conflicting = labels.indices.filter { labels[$0] != attributes[$0] }
    let estimates = estimateAUROCs(labels: labels, scores: scores, subsets: [aligned, conflicting],
                                   bootstrap: bootstrap, difference: true)
    return ShortcutReport(threshold: threshold, groups: groups,
                          worstGroupAccuracy: groups.filter { $0.count > 0 }.map(\.accuracy).min() ?? .nan,
                          aligned: estimates[0], conflicting: estimates[1], gap: estimates[2])
}
