import Classifiers
import Foundation
import Testing
import Torch
import Training
@testable import ClassifierTraining

struct Killed: Error {}

/// Training on the tiny phantom: the loss falls, a killed run resumes bit-exactly, and the folders come out whole.
@Suite(.serialized) struct TrainingRunTests {
    @Test func theLossFallsAndTheFoldersAreWritten() throws {
        let out = TinyPhantom.scratch()
        defer { try? FileManager.default.removeItem(at: out) }
        var options = TinyPhantom.options(output: out, steps: 12)
        options.train = Array(options.train.prefix(16))
        options.validateEvery = 6
        let run = try ClassifierTrainingRun(options)
        var losses: [Double] = []
        try run.run(report: { losses.append($0.loss) })
        // Two batches an epoch: the first epoch against the last.
        #expect(losses.count == 12)
        let first = (losses[0] + losses[1]) / 2, last = (losses[10] + losses[11]) / 2
        #expect(last < first * 0.7, "loss \(first) → \(last)")

        let best = try Classifier.load(from: run.bestURL), finalWeights = try Classifier.load(from: run.lastURL)
        #expect(best.config.labels == TinyPhantom.labels && best.config.resolution == 32)
        #expect(finalWeights.config.thresholds == run.history.records.last!.thresholds)
        #expect(run.history.records.map(\.step) == [6, 12])
        #expect(run.history.records.filter(\.isBest).count >= 1)
        for file in ["log.csv", "validation.csv", "curves.png", "run.json"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(file).path), "\(file) missing")
        }
        let header = try String(contentsOf: run.validationURL, encoding: .utf8).split(separator: "\n")[0]
        #expect(header == "step,epoch,train_loss,mean_auroc,best,auroc Pleural Effusion,auroc Cardiomegaly,threshold Pleural Effusion,threshold Cardiomegaly")
    }

    @Test func killedAndResumedEqualsUninterrupted() throws {
        let straightOut = TinyPhantom.scratch(), out = TinyPhantom.scratch()
        defer { for u in [straightOut, out] { try? FileManager.default.removeItem(at: u) } }
        func options(_ output: URL) -> ClassifierTrainingOptions {
            var o = TinyPhantom.options(output: output, steps: 5)
            o.augmentation = Augmentation(flip: true, affine: true)
            o.groupAttribute = BinaryAttribute(column: "Support Devices", values: o.train.map { $0.labels["Support Devices"] == .positive })
            return o
        }
        let straight = try ClassifierTrainingRun(options(straightOut))
        try straight.run()

        let first = try ClassifierTrainingRun(options(out))
        #expect(throws: Killed.self) { try first.run(afterStep: { if $0 == 3 { throw Killed() } }) }
        #expect(first.checkpoints.steps() == [2])

        var resumedOptions = options(out)
        #expect(throws: TrainingRunError.self) { try ClassifierTrainingRun(resumedOptions) }
        resumedOptions.resume = true
        let resumed = try ClassifierTrainingRun(resumedOptions)
        try resumed.run()
        #expect(resumed.startStep == 2)
        for (name, (a, b)) in zip(straight.classifier.store.names, zip(straight.classifier.store.stateDict(), resumed.classifier.store.stateDict())) {
            #expect(a.tensor.to(.float64).toArray(Double.self) == b.tensor.to(.float64).toArray(Double.self), "\(name) differs")
        }
        // The validation history (and with it the best score) is the uninterrupted run's.
        #expect(try String(contentsOf: resumed.validationURL, encoding: .utf8) == String(contentsOf: straight.validationURL, encoding: .utf8))
        #expect(resumed.history.records.map(\.step) == [2, 4, 5])
        for folder in ["best", "last"] {
            let a = try Data(contentsOf: straightOut.appendingPathComponent(folder).appendingPathComponent("model.safetensors"))
            let b = try Data(contentsOf: out.appendingPathComponent(folder).appendingPathComponent("model.safetensors"))
            #expect(a == b, "\(folder)/ differs")
        }
    }

    @Test func aResumeWithOtherOptionsIsRefused() throws {
        let out = TinyPhantom.scratch()
        defer { try? FileManager.default.removeItem(at: out) }
        try ClassifierTrainingRun(TinyPhantom.options(output: out, steps: 2)).run()
        var other = TinyPhantom.options(output: out, steps: 2)
        other.resume = true
        other.augmentation = Augmentation(flip: true)
        let error = #expect(throws: TrainingRunError.self) { try ClassifierTrainingRun(other).run() }
        #expect(error?.description.contains("augment: none → flip") == true)
    }
}
