import ArgumentParser
import Counterfactual

/// The options of an edit that `prism edit` and `prism evaluate edits` share: the inversion, the sampling, the
/// prompt-to-prompt schedule and the mask's thresholds.
struct EditingOptions: ParsableArguments {
    @Option(help: """
        null-text (Mokady et al., as PRISM: the edits that meet the quality targets with the bundled model; \
        docs/editing.md), direct (Ju et al.: no optimisation, ~3 UNet evaluations a step, 3–6× faster, \
        weaker edits with a small model) or ddim.
        """)
    var inversion: InversionMethod = .nullText

    @Option(help: "Denoising steps.")
    var steps = 50

    @Option(help: "Classifier-free guidance scale.")
    var guidance = 7.5

    @Option(help: "Fraction of steps whose cross-attention is taken from the source.")
    var crossReplace = 0.8

    @Option(help: "Fraction of steps whose self-attention is taken from the source.")
    var selfReplace = 0.5

    @Option(help: "Threshold of the normalised attention mask.")
    var maskThreshold = 0.3

    @Option(help: "Fraction of steps before the latents are blended with the mask.")
    var blendStart = 0.2

    @Option(help: "Pixels over which the edit fades out around its mask.")
    var feather = 6

    @Option(help: "With --mask auto, keep only pixels where the edit moved the image by more than this fraction of its largest move (0: the attention mask alone).")
    var changeThreshold = 0.25

    func validate() throws {
        try requireCount(steps, "--steps", atLeast: 1)
        try requireFinite(guidance, "--guidance", range: .atLeast(0))
        try requireFinite(crossReplace, "--cross-replace", range: .closed(0, 1))
        try requireFinite(selfReplace, "--self-replace", range: .closed(0, 1))
        try requireFinite(maskThreshold, "--mask-threshold", range: .open(0, 1))
        try requireFinite(blendStart, "--blend-start", range: .closed(0, 1))
        try requireCount(feather, "--feather", atLeast: 0)
        try requireFinite(changeThreshold, "--change-threshold", range: .upToExcluding(0, 1))
    }

    /// Settings with these options; the rest at their defaults.
    var settings: EditSettings {
        var s = EditSettings()
        s.method = inversion
        s.steps = steps
        s.guidance = guidance
        s.crossReplace = crossReplace
        s.selfReplace = selfReplace
        s.maskThreshold = maskThreshold
        s.blendStart = blendStart
        s.feather = feather
        s.changeThreshold = changeThreshold
        return s
    }
}
