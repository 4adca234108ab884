import Counterfactual
import Datasets
import Evaluation
import Imaging
import Phantom

/// The `model` editor of a phantom audit: each case captioned from its labels as in training, every applicable edit
/// asked of the model as the edited caption, all from one inversion.
public struct CaptionModelEditor: PhantomImageEditing {
    public let editor: CounterfactualEditor
    public let template: CaptionTemplate
    public let settings: EditSettings

    public init(editor: CounterfactualEditor, template: CaptionTemplate = CaptionTemplate(), settings: EditSettings) {
        self.editor = editor
        self.template = template
        self.settings = settings
    }

    public func edit(_ phantom: PhantomCase, factual: Image, edits: [AuditEdit]) throws -> [Image] {
        let record = try PhantomEvaluation.record(phantom, phantom.attributes)
        let source = template.caption(for: record)
        let targets = try edits.map { template.caption(for: try $0.label.apply(to: record, template: template)) }
        let outcome = try editor.edit(image: Plane(gray: factual), source: source, targets: targets, settings: settings)
        return outcome.edits.map { $0.image.image() }
    }
}
