import ClassifierMetrics
import Classifiers
import Core
import Counterfactual
import Datasets
import Debiasing
import Foundation
import Testing

/// `prism debias`'s parts: the sources of the augmentation, the comparison's bias reductions, and a tiny experiment
/// end to end (phantom data, the tiny random-weight pipeline, two training steps per classifier), rerun to resume.
@Suite(.serialized) struct DebiasExperimentTests {
    func options(_ root: URL, trainCount: Int = 80) -> DebiasOptions {
        var phantom = PhantomDebiasData()
        phantom.trainCount = trainCount
        phantom.testCount = 40
        phantom.seed = 3
        phantom.size = 64
        var o = DebiasOptions(output: root, source: .phantom(phantom))
        o.resolution = 32
        o.steps = 2
        o.warmupSteps = 0
        o.batchSize = 8
        o.seeds = 1
        o.augmentCount = 4
        o.editing.method = .ddim
        o.editing.steps = 3
        o.editing.guidance = 3
        o.generationSteps = 2
        o.bootstrap = Bootstrap(resamples: 20)
        return o
    }

    func scratch() -> URL { FileManager.default.temporaryDirectory.appendingPathComponent("prism-debias-\(UUID().uuidString)") }

    @Test func theSourcesAreShortcutAlignedHalfWithTheAttributeHalfWithout() throws {
        let root = scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = try DebiasData.prepare(options(root, trainCount: 120))
        let sources = data.augmentationSources(count: 20, label: "Pleural Effusion", attribute: "Support Devices", seed: 1)
        let findings = sources.map { data.manifest.records[$0].findings() }
        #expect(sources.count == 20 && Set(sources).count == 20)
        #expect(findings.allSatisfy { $0["Pleural Effusion"] == $0["Support Devices"] })
        #expect(findings.filter { $0["Support Devices"] == true }.count == 10)
        #expect(Set(sources).isSubset(of: Set(data.trainRows)))
        #expect(data.augmentationSources(count: 20, label: "Pleural Effusion", attribute: "Support Devices", seed: 1) == sources)
        // More than the smaller group holds: all of it, the rest from the other.
        let both = data.trainRows.filter { data.manifest.records[$0].findings()["Pleural Effusion"] == true
            && data.manifest.records[$0].findings()["Support Devices"] == true }
        let many = data.augmentationSources(count: 2 * both.count + 10, label: "Pleural Effusion", attribute: "Support Devices", seed: 1)
        #expect(many.count == 2 * both.count + 10 && Set(both).isSubset(of: Set(many)))
        // The test images' true counterfactuals flip the attribute.
        #expect(data.test.count == 40 && data.testCounterfactuals.allSatisfy { $0 != nil })
        for (record, flipped) in zip(data.test, data.testCounterfactuals).prefix(6) {
            let want = record.findings()["Support Devices"] == true ? "support_devices=0.png" : "support_devices=1.png"
            #expect(flipped!.hasSuffix(want))
        }
    }

    @Test func aReductionIsOneMinusTheRatioToTheBaselinesBias() {
        let labels = (0..<40).map { $0 % 2 == 0 }, attributes = (0..<40).map { $0 % 4 < 2 }
        // The baseline ranks by the attribute (a strong gap); the method half-way between the attribute and the label.
        func stats(_ shortcut: Double) -> ShortcutStatistics {
            let scores = labels.indices.map { i in
                shortcut * (attributes[i] ? 1 : 0) + (1 - shortcut) * (labels[i] ? 1 : 0) + Double(i) * 1e-3
            }
            let cf = labels.indices.map { i -> Double? in scores[i] + shortcut * (attributes[i] ? -1 : 1) }
            return ShortcutStatistics(labels: labels, attributes: attributes, scores: scores, threshold: 0.5, counterfactualScores: cf)
        }
        let baseline = [stats(0.9), stats(0.8)], method = [stats(0.3), stats(0.2)]
        let out = DebiasComparison.compare([(.baseline, baseline), (.counterfactual, method)], bootstrap: Bootstrap(resamples: 50))
        let base = out[.baseline]!, cf = out[.counterfactual]!
        #expect(base.reduction == nil)
        let gapBase = base.statistics[1]!.value, gapMethod = cf.statistics[1]!.value
        #expect(gapBase > gapMethod && gapMethod >= 0)
        #expect(abs(cf.reduction!.aurocGap.value - (1 - gapMethod / gapBase)) < 1e-12)
        let sens = cf.reduction!.sensitivity!
        #expect(abs(sens.value - (1 - cf.statistics[3]!.value / base.statistics[3]!.value)) < 1e-12)
        // Sensitivity: mean |Δp| is the shortcut weight here (0.85 for the baseline's seeds, 0.25 for the method's).
        #expect(abs(base.statistics[3]!.value - 0.85) < 1e-9 && abs(cf.statistics[3]!.value - 0.25) < 1e-9)
        #expect(sens.seeds.count == 2 && sens.seedSd > 0)
        #expect(cf.reduction!.aurocGap.ciLow <= cf.reduction!.aurocGap.value + 1e-9)
    }

    @Test func aTinyExperimentRunsEndToEndAndResumes() throws {
        let root = scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let o = options(root)
        var loads = 0
        func model() throws -> StableDiffusionEditingModel {
            loads += 1
            return try StableDiffusionEditingModel.load(from: tinyPipeline)
        }
        var phases: [String] = []
        let events = DebiasExperiment.Events(progress: { phase, _, _ in if phases.last != phase { phases.append(phase) } })
        let metrics = try DebiasExperiment(o).run(model: model, events: events)
        #expect(loads == 1)
        #expect(Set(metrics.methods.keys) == Set(DebiasMethod.allCases.map(\.rawValue)))
        #expect(metrics.methods["baseline"]?.biasReduction == nil)
        for m in ["reweighted", "generated", "counterfactual", "oracle"] {
            #expect(metrics.methods[m]?.biasReduction != nil, "\(m) has no bias reduction")
        }
        #expect(metrics.methods["counterfactual"]!.trainingImages == metrics.methods["baseline"]!.trainingImages + 4)
        #expect(metrics.methods.values.allSatisfy { $0.auroc.value.isFinite && $0.sensitivity != nil })
        #expect(phases.contains("counterfactuals") && phases.contains("generated") && phases.contains("train oracle seed 1"))
        for m in DebiasMethod.allCases {
            let best = root.appendingPathComponent("classifiers/\(m.rawValue)/seed-1/best")
            let classifier = try Classifier.load(from: best)
            #expect(classifier.config.labels == ["Pleural Effusion"] && classifier.config.architecture == .resnet18)
        }
        let manifest = try CSVTable.read(root.appendingPathComponent("augment/counterfactual/manifest.csv"))
        #expect(manifest.rows.count == 4)
        let json = try JSONFile.object(from: root.appendingPathComponent("metrics.json"))
        let methods = json["methods"] as? [String: Any], cf = methods?["counterfactual"] as? [String: Any]
        #expect(cf?["auroc_gap"] != nil && cf?["worst_group_accuracy"] != nil && cf?["sensitivity"] != nil)
        #expect((cf?["bias_reduction"] as? [String: Any])?["auroc_gap"] != nil)
        let report = try String(contentsOf: root.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(report.contains("<svg") && report.contains("counterfactual") && report.contains("oracle"))
        #expect(report.contains("augment/counterfactual/remove-support-devices/"))

        // A rerun reuses the data, the added images and the classifiers: no training, the same numbers.
        let weights = root.appendingPathComponent("classifiers/baseline/seed-1/best/model.safetensors")
        let before = try FileManager.default.attributesOfItem(atPath: weights.path)[.modificationDate] as? Date
        let again = try DebiasExperiment(o).run(model: model, events: DebiasExperiment.Events())
        #expect(try FileManager.default.attributesOfItem(atPath: weights.path)[.modificationDate] as? Date == before)
        #expect(again.methods["counterfactual"]!.aurocGap.value == metrics.methods["counterfactual"]!.aurocGap.value)
        #expect(again.methods["oracle"]!.sensitivity!.value == metrics.methods["oracle"]!.sensitivity!.value)
    }
}
