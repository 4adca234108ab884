import Counterfactual

extension ProgressBar {
    /// The editor's progress (inversion, null-text, editing) as one bar per phase, a new bar each time a phase starts
    /// again (the next case of an evaluation).
    static func editingPhases() -> CounterfactualEditor.Progress {
        var bar: ProgressBar?
        return { phase, done, total in
            if done == 1 || bar == nil {
                bar = ProgressBar(total: total, label: phase.padding(toLength: 9, withPad: " ", startingAt: 0), unit: "step")
            }
            bar?.update(done)
            if done == total { bar?.finish() }
        }
    }
}
