import ArgumentParser
import ClassifierMetrics
import ClassifierTraining
import Evaluation
import Datasets
import Foundation

struct ClassifierEvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Measure a classifier on labelled images: AUROC, accuracy and F1, calibration, and a shortcut.",
        discussion: """
            Per label: AUROC with a 95% bootstrap interval (over images), accuracy, F1,
            sensitivity and specificity at the classifier's saved threshold (chosen on
            validation data in training), ECE and a reliability diagram. With --groups
            COLUMN, a binary attribute the classifier might lean on (Support Devices for
            a Pleural Effusion classifier): accuracy per (label, attribute) group, the
            worst group, and the AUROC where the attribute agrees with the label
            (aligned) minus where it does not (conflicting): a positive gap is a
            shortcut. Per regression target (an age regressor, see classifier train
            --regress): the MAE in the target's units and Pearson's correlation, each
            with a 95% bootstrap interval, the bias, the RMSE and the MAE of
            predicting the training mean, over the images whose value is known.

            Example:
              prism classifier evaluate --classifier runs/clf/best \\
                  --data ph/manifest.csv --images ph --split test \\
                  --groups "Support Devices" --output runs/clf/eval

            OUTPUT receives metrics.json, reliability-LABEL.png, predictions.csv and
            report.html; --json also prints metrics.json.
            """
    )

    @OptionGroup var model: ClassifierModelOptions
    @OptionGroup var input: ClassifierInputOptions

    @Option(help: ArgumentHelp("The folder to write the report into.", valueName: "dir"))
    var output: String

    @Option(help: ArgumentHelp("A binary column of the label file to measure a shortcut by (1/0, or two values).", valueName: "column"))
    var groups: String?

    @Option(help: "What uncertain labels (-1) become: ignore (left out) | positive | negative.")
    var uncertain: UncertainPolicy = .ignore

    @OptionGroup var bootstrap: BootstrapOptions

    @Flag(help: "Print metrics.json to standard output.")
    var json = false

    func run() throws {
        let folder = try prepareOutputFolder(output)
        let classifier = try model.load()
        let (records, data) = try input.load(classifier: model.classifier)
        let attribute = try groups.map { column in
            try classifierTry { try BinaryAttribute.read(column: column, table: data.requireTable(for: "--groups"), records: records) }
        }
        let config = classifier.config
        let truth = try config.regressionTargets.isEmpty ? nil : classifierTry {
            try RegressionTargets.read(config.regressionTargets.map(\.name), records: records, table: data.table,
                                       file: data.source, header: data.names)
        }
        let dataset = try input.dataset(records, resolution: config.resolution)
        let outputs = try classifierOutputs(classifier, dataset, batch: model.batch)
        let targets = LabelTargets(records: records, labels: config.labels, policy: uncertain)
        let result = ClassifierEvaluation.evaluate(probabilities: outputs.probabilities, targets: targets,
                                                   thresholds: config.thresholds, attribute: attribute,
                                                   bootstrap: bootstrap.value, regression: truth, predictions: outputs.regressions,
                                                   regressionTargets: config.regressionTargets)
        try classifierTry {
            try ClassifierEvaluation.write(result, to: folder)
            try ClassifierPrediction.writeCSV(records: records, outputs: outputs, to: folder.appendingPathComponent("predictions.csv"))
            try Self.report(result, classifier: model.classifier).write(to: folder)
        }
        if json {
            print(String(decoding: try MetricsJSON.encode(result), as: UTF8.self))
        } else {
            print(Self.table(result))
            print("wrote \(folder.appendingPathComponent("report.html").path) and metrics.json")
        }
    }

    static func f(_ x: Double) -> String { x.isNaN ? "n/a" : String(format: "%.3f", x) }

    static func interval(_ i: BootstrapInterval?) -> String {
        guard let i, i.used > 0 else { return "" }
        return " [\(f(i.lower)), \(f(i.upper))]"
    }

    /// A regression target's numbers on one line: "MAE 7.12 [6.50, 7.80], r 0.61 [0.52, 0.69], ...".
    static func regressionSummary(_ m: RegressionMetrics) -> String {
        "MAE \(f(m.meanAbsoluteError.value))\(interval(m.meanAbsoluteError.interval)), r \(f(m.correlation.value))"
            + "\(interval(m.correlation.interval)), bias \(f(m.bias)), RMSE \(f(m.rootMeanSquaredError)); "
            + "predicting the training mean \(f(m.constant)): MAE \(f(m.constantMAE))"
    }

    /// One line per label, and per label the shortcut's numbers; then one line per regression target.
    static func table(_ r: ClassifierEvaluationResult) -> String {
        var lines = ["label                     n      AUROC [95% CI]          acc    F1     ECE    threshold"]
        for l in r.labels {
            let auroc = (f(l.auroc.value) + interval(l.auroc.interval)).padding(toLength: 24, withPad: " ", startingAt: 0)
            lines.append(l.label.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "%5d  ", l.count) + auroc
                         + [l.atThreshold.accuracy, l.atThreshold.f1, l.calibration.expectedCalibrationError, l.threshold]
                            .map { f($0).padding(toLength: 7, withPad: " ", startingAt: 0) }.joined())
            if let s = l.shortcut, let column = r.attribute {
                lines.append("  by \(column): worst-group accuracy \(f(s.worstGroupAccuracy)); AUROC aligned \(f(s.aligned.value)), "
                             + "conflicting \(f(s.conflicting.value)), gap \(f(s.gap.value))\(interval(s.gap.interval))")
            }
        }
        for t in r.regression ?? [] {
            lines.append(t.target.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "%5d  ", t.metrics.count)
                         + regressionSummary(t.metrics))
        }
        return lines.joined(separator: "\n")
    }

    /// report.html: the summary table, then per label its reliability diagram and numbers.
    static func report(_ r: ClassifierEvaluationResult, classifier: String) -> HTMLReport {
        let summary = r.labels.map { l in
            [HTMLReport.escape(l.label), "\(l.count)", f(l.auroc.value) + interval(l.auroc.interval), f(l.atThreshold.accuracy),
             f(l.atThreshold.f1), f(l.calibration.expectedCalibrationError), f(l.threshold)]
                + (r.attribute == nil ? [] : [f(l.shortcut?.worstGroupAccuracy ?? .nan),
                                              f(l.shortcut?.gap.value ?? .nan) + interval(l.shortcut?.gap.interval)])
        }
        let cases = r.labels.map { l -> HTMLReport.Case in
            var metrics = [("AUROC", f(l.auroc.value) + interval(l.auroc.interval)),
                           ("positives / negatives", "\(l.auroc.positives) / \(l.auroc.negatives)"),
                           ("sensitivity", f(l.atThreshold.sensitivity)), ("specificity", f(l.atThreshold.specificity)),
                           ("precision", f(l.atThreshold.precision))]
            if let s = l.shortcut, let column = r.attribute {
                for g in s.groups {
                    let name = "\(l.label) \(g.label ? "+" : "−"), \(column) \(g.attribute ? r.attributeTrue ?? "1" : r.attributeFalse ?? "0")"
                    metrics.append(("accuracy: " + name + " (n \(g.count))", f(g.accuracy)))
                }
                metrics += [("AUROC aligned (\(s.aligned.positives + s.aligned.negatives) images)", f(s.aligned.value) + interval(s.aligned.interval)),
                            ("AUROC conflicting (\(s.conflicting.positives + s.conflicting.negatives) images)",
                             f(s.conflicting.value) + interval(s.conflicting.interval)),
                            ("gap (aligned − conflicting)", f(s.gap.value) + interval(s.gap.interval))]
            }
            return HTMLReport.Case(title: l.label, subtitle: "\(l.count) images with a known label; threshold \(f(l.threshold))",
                                   input: HTMLReport.Picture("reliability diagram (ECE \(f(l.calibration.expectedCalibrationError)))",
                                                             l.reliabilityDiagram),
                                   rows: [HTMLReport.Row(title: "at the threshold: accuracy \(f(l.atThreshold.accuracy)), F1 \(f(l.atThreshold.f1))",
                                                         pictures: [], metrics: metrics.map { ($0.0, HTMLReport.escape($0.1)) })])
        }
        return HTMLReport(
            title: "Classifier evaluation",
            introduction: HTMLReport.escape("\(classifier) on \(r.images) images; uncertain labels: \(r.uncertain); "
                                            + "95% intervals from \(r.bootstrapResamples) bootstrap resamples of the images.")
                + (r.regression ?? []).map { t in
                    " " + HTMLReport.escape("\(t.target) (regression, \(t.metrics.count) images with a known value): "
                                            + regressionSummary(t.metrics) + ".")
                }.joined()
                + " Numbers in <a href=\"metrics.json\">metrics.json</a>, probabilities in <a href=\"predictions.csv\">predictions.csv</a>.",
            summaryHeader: ["label", "n", "AUROC [95% CI]", "accuracy", "F1", "ECE", "threshold"]
                + (r.attribute.map { ["worst group (\($0))", "AUROC gap"] } ?? []),
            summaryRows: summary, cases: cases, footer: "prism \(Prism.version)")
    }
}
