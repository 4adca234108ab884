import ClassifierTraining
import Classifiers
import Counterfactual
import Datasets
import Foundation
import Imaging

/// The audit of images that have no causal model behind them (a label file's rows): each edit applied by the model
/// to every image it applies to (by the image's labels), every label of the classifier read before and after.
public struct SubjectAudit {
    public var subjects: [EvaluationSubject]
    public var edits: [AuditEdit]
    public var editor: CounterfactualEditor
    public var classifier: Classifier
    public var template = CaptionTemplate()
    public var settings = EditSettings()
    public var statistics = AuditStatistics()

    public init(subjects: [EvaluationSubject], edits: [AuditEdit], editor: CounterfactualEditor, classifier: Classifier) {
        self.subjects = subjects
        self.edits = edits
        self.editor = editor
        self.classifier = classifier
    }

    /// Runs the audit; `progress(done, total)` counts images.
    public func run(progress: (Int, Int) -> Void = { _, _ in }) throws -> PhantomAudit.Result {
        var before = [[[Double]]](repeating: [], count: edits.count), after = before
        var ids = [[String]](repeating: [], count: edits.count)
        var pairs: [AuditPair] = []
        for (n, subject) in subjects.enumerated() {
            let applicable = edits.indices.filter { edits[$0].applies(to: subject.labelValues) }
            guard !applicable.isEmpty else { progress(n + 1, subjects.count); continue }
            let source = template.caption(for: subject.record)
            let targets = try applicable.map { template.caption(for: try edits[$0].label.apply(to: subject.record, template: template)) }
            let outcome = try editor.edit(image: Plane(gray: subject.image), source: source, targets: targets, settings: settings)
            let images = outcome.edits.map { $0.image.image() }
            let p = try ClassifierPrediction.outputs(classifier, images: [subject.image] + images).measurements
            for (k, e) in applicable.enumerated() {
                before[e].append(p[0])
                after[e].append(p[k + 1])
                ids[e].append(subject.id)
                pairs.append(AuditPair(edit: edits[e].text, id: subject.id, factual: subject.image, counterfactual: images[k]))
            }
            progress(n + 1, subjects.count)
        }
        let effects = edits.indices.map {
            EditEffects(edit: edits[$0].text, edited: [edits[$0].target], before: before[$0], after: after[$0], ids: ids[$0])
        }
        return PhantomAudit.Result(matrix: EffectMatrix(effects, labels: classifier.config.outputNames, statistics: statistics),
                                   effects: effects, pairs: pairs)
    }
}
