import ClassifierMetrics
import ClassifierTraining
import Classifiers
import Core
import Counterfactual
import Datasets
import Foundation
import Imaging
import Phantom
import Testing
@testable import Audit

/// The random-weight diffusers folder the Diffusion tests use (64×64 images).
let tinyPipeline = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("DiffusionTests/Fixtures/pipeline-tiny")

/// `prism evaluate counterfactuals`: the scores of edits whose answer is known (none, the truth itself), and a run
/// with the tiny pipeline that has every part.
@Suite struct CounterfactualEvaluationTests {
    let labels = ["Cardiomegaly", "Pleural Effusion", "Support Devices"]

    func classifier(regression: Bool = false) -> Classifier {
        Classifier(config: ClassifierConfig(architecture: .resnet18, labels: labels, resolution: 32,
                                            regressionTargets: regression ? [RegressionTarget(name: "Age", mean: 50, std: 10)] : []),
                   seed: 4)
    }

    func evaluation(_ c: Classifier, edits: [String]) throws -> CounterfactualEvaluation {
        var options = CounterfactualEvaluationOptions(edits: try edits.map { try AuditEdit(parsing: $0) })
        options.settings.method = .ddim
        options.settings.steps = 3
        options.settings.guidance = 3
        options.compositionSteps = 3
        options.reversibilityCycles = 2
        options.curveImages = 2
        options.bootstrap = Bootstrap(resamples: 20)
        let model = try StableDiffusionEditingModel.load(from: tinyPipeline)
        return CounterfactualEvaluation(editor: CounterfactualEditor(model: model, cache: nil), classifier: c, options: options)
    }

    /// Cases of phantom set 11 that have cardiomegaly, with their true counterfactuals without it.
    func cardiomegalyCases(_ n: Int) -> [(factual: Plane, truth: Plane)] {
        var out: [(Plane, Plane)] = []
        var i = 0
        while out.count < n {
            let c = PhantomCase(seed: 11, index: i, parameters: SCMParameters(), size: 64)
            i += 1
            guard c.attributes.cardiomegaly(c.parameters) else { continue }
            let edit = try! AuditEdit(parsing: "remove cardiomegaly")
            out.append((Plane(gray: c.render().image),
                        Plane(gray: c.render(c.counterfactualAttributes(try! edit.interventions(), directOnly: true)).image)))
        }
        return out
    }

    @Test func anEditThatChangesNothingAndOneThatIsTheTruthScoreAsTheyShould() throws {
        let c = classifier()
        let e = try evaluation(c, edits: ["remove cardiomegaly"])
        let cases = cardiomegalyCases(3)
        let edit = try AuditEdit(parsing: "remove cardiomegaly")
        let none = cases.map { CounterfactualEvaluation.Pair(factual: $0.factual, counterfactual: $0.factual,
                                                              mask: Plane(width: 64, height: 64), truth: $0.truth, reversibility: []) }
        let features = try ClassifierPrediction.embeddings(c, images: cases.map { $0.factual.image() })
        let unchanged = try e.score(edit, none, realFeatures: features, halves: nil)
        #expect(unchanged.l1.value == 0 && unchanged.psnr.value == 100 && unchanged.l1OutsideMask?.value == 0)
        #expect(unchanged.predictionGain?.value == 0)
        #expect(unchanged.keptLabels.map(\.label) == ["Pleural Effusion", "Support Devices"])
        #expect(unchanged.keptLabels.allSatisfy { $0.meanAbsoluteChange.value == 0 })
        // Effective where the unedited image is already below the threshold: the classifier's own verdict.
        let p = try ClassifierPrediction.probabilities(c, images: cases.map { $0.factual.image() }).map { $0[0] }
        #expect(unchanged.effectiveness?.value == Double(p.filter { $0 < 0.5 }.count) / 3)
        #expect(abs(unchanged.frechetDistance ?? 1) < 1e-9)
        #expect(unchanged.truth?.gapClosed.value == 0 && unchanged.truth!.l1ToTruth.value > 0)

        let perfect = cases.map { CounterfactualEvaluation.Pair(factual: $0.factual, counterfactual: $0.truth, mask: nil,
                                                                 truth: $0.truth, reversibility: []) }
        let right = try e.score(edit, perfect, realFeatures: features, halves: nil)
        #expect(right.truth?.gapClosed.value == 1 && right.truth?.l1ToTruth.value == 0 && right.truth?.changeOutsideTruth.value == 0)
        #expect(right.l1.value > 0 && right.l1OutsideMask == nil)
        #expect(right.truth?.effectivenessOfTruth?.value == right.effectiveness?.value)
    }

    @Test func aRunHasEveryPartAndAnAgeEditIsScoredByTheAgeOutput() throws {
        let cases = (0..<4).map { PhantomCase(seed: 12, index: $0, parameters: SCMParameters(), size: 64) }
        let subjects = try cases.map(EvaluationSubject.phantom)
        let c = classifier(regression: true)
        let result = try evaluation(c, edits: ["remove support devices", "add support devices", "set age=90"]).run(subjects)
        #expect(result.images == 4 && result.curveImages == 2)
        #expect(result.composition.map(\.step) == [1, 2, 3])
        let withDevices = cases.filter { $0.attributes.supportDevices }.count
        #expect(result.edits.map(\.images) == [withDevices, 4 - withDevices, cases.filter { $0.attributes.age != 90 }.count])
        for e in result.edits where e.images > 0 {
            #expect(e.l1.value.isFinite && e.l1.value >= 0 && e.truth != nil)
            // Each edit's curve is over the first two images it applies to, wherever they are.
            #expect(!e.reversibility.isEmpty && e.reversibilityImages == min(2, e.images))
        }
        for e in result.edits.prefix(2) where e.images > 0 { #expect(e.effectiveness != nil && e.age == nil) }
        let age = try #require(result.edits[2].age)
        #expect(age.targetAge == 90 && age.mae.value.isFinite && result.edits[2].effectiveness == nil)
        #expect(result.edits[2].reversibility.count == 2)
    }
}

/// `prism audit --data`: a label file's rows edited by the model and measured by a classifier.
@Suite struct SubjectAuditTests {
    /// A 64-pixel phantom label file's rows and images, read as `prism audit --data` reads them (the files removed).
    func labelFile(count: Int, seed: UInt64) throws -> (records: [Record], images: [Image], subjects: [EvaluationSubject]) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("prism-audit-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var dataset = PhantomDataset(output: root, count: count, seed: seed)
        dataset.size = 64
        _ = try dataset.generate()
        let records = try Manifest.load(root.appendingPathComponent("manifest.csv"))
        let images = try records.map { try Image(contentsOf: root.appendingPathComponent($0.path)) }
        return (records, images, zip(records, images).map { EvaluationSubject.labelled($0, image: $1) })
    }

    @Test func everyApplicableRowIsEditedAndMeasured() throws {
        let (records, _, subjects) = try labelFile(count: 5, seed: 13)
        #expect(subjects.first?.id == "images_000000")
        let classifier = Classifier(config: ClassifierConfig(architecture: .resnet18, labels: ["Cardiomegaly", "Support Devices"],
                                                             resolution: 32), seed: 2)
        var audit = SubjectAudit(subjects: subjects, edits: try ["remove support devices", "add cardiomegaly"].map { try AuditEdit(parsing: $0) },
                                 editor: CounterfactualEditor(model: try StableDiffusionEditingModel.load(from: tinyPipeline), cache: nil),
                                 classifier: classifier)
        audit.settings.method = .ddim
        audit.settings.steps = 3
        let result = try audit.run()
        let devices = records.filter { $0.findings()["Support Devices"] == true }.count
        let heart = records.filter { $0.findings()["Cardiomegaly"] == false }.count
        #expect(result.effects.map { $0.before.count } == [devices, heart])
        #expect(result.matrix.cells.count == 4)
        #expect(result.pairs.count == devices + heart && result.pairs.allSatisfy { $0.counterfactual != nil })
    }

    /// A classifier's regression targets are columns of the matrix, in years: an age edit is read by the age output.
    @Test func aClassifiersAgeOutputIsAColumnInYears() throws {
        let (_, images, subjects) = try labelFile(count: 3, seed: 17)
        let classifier = Classifier(config: ClassifierConfig(architecture: .resnet18, labels: ["Cardiomegaly"], resolution: 32,
                                                             regressionTargets: [RegressionTarget(name: "Age", mean: 60, std: 15)]),
                                    seed: 3)
        var audit = SubjectAudit(subjects: subjects, edits: [try AuditEdit(parsing: "set age=100")],
                                 editor: CounterfactualEditor(model: try StableDiffusionEditingModel.load(from: tinyPipeline), cache: nil),
                                 classifier: classifier)
        audit.settings.method = .ddim
        audit.settings.steps = 2
        let result = try audit.run()
        #expect(result.matrix.cells.map(\.label) == ["Cardiomegaly", "Age"])
        #expect(result.matrix.cells.first { $0.label == "Age" }?.role == .edited)
        let ages = try #require(try ClassifierPrediction.outputs(classifier, images: images).regression("Age"))
        let measured = result.effects[0].before.map { $0[1] }
        #expect(measured.count == ages.count)
        for (a, b) in zip(measured, ages) { #expect(abs(a - b) < 1e-9) }
    }
}
