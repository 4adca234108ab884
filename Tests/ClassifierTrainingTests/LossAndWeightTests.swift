import Core
import Datasets
import Foundation
import Testing
import Torch
@testable import ClassifierTraining

@Suite struct LossAndWeightTests {
    /// log(1 + e^-x) for a positive target, log(1 + e^x) for a negative one.
    func bce(_ logit: Double, _ target: Double) -> Double { target > 0 ? log(1 + exp(-logit)) : log(1 + exp(logit)) }

    @Test func maskedBCEIsTheMeanOverKnownEntriesWithWeights() {
        let logits: [Float] = [2, -1, 0.5, -3, 1.5, 0]
        let targets: [Float] = [1, 0, 0, 1, 1, 0]
        let mask: [Float] = [1, 1, 0, 1, 0, 1]
        let weights: [Float] = [1, 2, 7, 0.5, 9, 1]
        let loss = ClassifierTrainingTask.maskedBinaryCrossEntropy(
            logits: Tensor(logits, shape: [3, 2]), targets: Tensor(targets, shape: [3, 2]),
            mask: Tensor(mask, shape: [3, 2]), weights: Tensor(weights, shape: [3, 2])).item()
        // The masked entries (weights 7 and 9) count for nothing, whatever their logits and weights.
        let expected = (1 * bce(2, 1) + 2 * bce(-1, 0) + 0.5 * bce(-3, 1) + 1 * bce(0, 0)) / 4
        #expect(abs(loss - expected) < 1e-6, "\(loss) vs \(expected)")
    }

    @Test func nothingKnownGivesZero() {
        let loss = ClassifierTrainingTask.maskedBinaryCrossEntropy(
            logits: Tensor([1, -2] as [Float], shape: [1, 2]), targets: Tensor([1, 0] as [Float], shape: [1, 2]),
            mask: Tensor([0, 0] as [Float], shape: [1, 2]), weights: Tensor([1, 1] as [Float], shape: [1, 2])).item()
        #expect(loss == 0)
    }

    @Test(arguments: [(UncertainPolicy.ignore, [Float(0), 0], [Float(0), 1]), (.positive, [1, 0], [1, 1]), (.negative, [0, 0], [1, 1])])
    func uncertainLabelsFollowThePolicy(_ policy: UncertainPolicy, _ targets: [Float], _ mask: [Float]) {
        // Effusion uncertain (-1), Cardiomegaly negative; a blank column for Edema.
        let record = Record(path: "a.png", patientID: "p", labels: ["Pleural Effusion": .uncertain, "Cardiomegaly": .negative])
        let t = LabelTargets(records: [record], labels: ["Pleural Effusion", "Cardiomegaly", "Edema"], policy: policy)
        #expect(t.targets[0] == targets + [0])
        #expect(t.mask[0] == mask.enumerated().map { $0.offset == 0 ? $0.element : 1 } + [0])
    }

    @Test func groupWeightsAreInverseGroupFrequencyWithMeanOne() {
        // Label y and attribute a of 8 images: groups (1,1)×3, (0,0)×3, (1,0)×1, (0,1)×1; an unknown label; an unknown attribute.
        let ys: [LabelState?] = [.positive, .positive, .positive, .negative, .negative, .negative, .positive, .negative, nil, .positive]
        let attribute: [Bool?] = [true, true, true, false, false, false, false, true, true, nil]
        let records = ys.enumerated().map { i, y in
            Record(path: "\(i).png", patientID: "\(i)", labels: y.map { ["Pleural Effusion": $0] } ?? [:])
        }
        let targets = LabelTargets(records: records, labels: ["Pleural Effusion"], policy: .ignore)
        let w = groupBalancingWeights(targets: targets, attribute: BinaryAttribute(column: "Support Devices", values: attribute)).map { $0[0] }
        // n = 8 known images in G = 4 groups: each group weighs 8 / 4 = 2, shared among its members.
        let third = Float(8.0 / (4 * 3))
        #expect(w == [third, third, third, third, third, third, 2, 2, 1, 1])
        #expect(abs(w.prefix(8).reduce(0, +) / 8 - 1) < 1e-6)
    }

    @Test func attributesReadOnesAndZerosOrTwoValues() throws {
        let table = try CSVTable.parse("Path,Support Devices,Sex\na.png,1,M\nb.png,0,F\nc.png,,F\nd.png,-1,M\n", file: "m.csv")
        let records = try Manifest.records(table)
        let devices = try BinaryAttribute.read(column: "Support Devices", table: table, records: records)
        #expect(devices.values == [true, false, nil, nil])
        let sex = try BinaryAttribute.read(column: "Sex", table: table, records: records)
        #expect(sex.values == [true, false, false, true])
        #expect(sex.meaning.positive == "M" && sex.meaning.negative == "F")
        let error = #expect(throws: DataFileError.self) { try BinaryAttribute.read(column: "Devices", table: table, records: records) }
        #expect(error?.description.contains("the header has: Path, Support Devices, Sex") == true)
    }

    @Test func anUnknownLabelNamesTheHeader() throws {
        let table = try CSVTable.parse("Path,Cardiomegaly,Support Devices\na.png,1,0\n", file: "m.csv")
        let records = try Manifest.records(table)
        #expect(try LabelTargets.resolve(["cardiomegaly"], records: records, file: "m.csv", header: table.header) == ["Cardiomegaly"])
        let error = #expect(throws: DataFileError.self) {
            try LabelTargets.resolve(["Effusion"], records: records, file: "m.csv", header: table.header)
        }
        #expect(error?.description.contains("\"Pleural Effusion\"") == true)
        #expect(error?.description.contains("the header has: Path, Cardiomegaly, Support Devices") == true)
    }
}
