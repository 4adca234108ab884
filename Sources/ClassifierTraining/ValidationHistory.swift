import ClassifierMetrics
import Core
import Datasets
import Foundation
import Imaging

/// One validation of a classifier during training.
public struct ValidationRecord: Sendable, Equatable {
    public var step: Int
    public var epoch: Int
    /// The mean training loss of the steps since the previous validation (NaN when the log has none).
    public var trainLoss: Double
    /// Per label, NaN where the validation images hold one class only.
    public var auroc: [Double]
    /// Per label, Youden's threshold on these validation probabilities (0.5 where undefined).
    public var thresholds: [Double]
    /// Whether this validation's weights became `best/`.
    public var isBest: Bool
    /// Per regression target, the mean absolute error in the target's units (NaN where no value is known).
    public var mae: [Double] = []

    /// The mean of the defined per-label AUROCs (NaN when none is defined): the score `best/` is chosen by.
    public var meanAUROC: Double {
        let defined = auroc.filter { !$0.isNaN }
        return defined.isEmpty ? .nan : defined.reduce(0, +) / Double(defined.count)
    }

    /// The mean of the defined per-target MAEs (NaN when none is defined): the score `best/` is chosen by when the
    /// classifier has no labels.
    public var meanMAE: Double {
        let defined = mae.filter { !$0.isNaN }
        return defined.isEmpty ? .nan : defined.reduce(0, +) / Double(defined.count)
    }

    /// The mean absolute error of each regression target: `predictions` ([image][target], in the target's units)
    /// against the known values of `targets`; NaN where none is known.
    public static func meanAbsoluteErrors(targets: RegressionTargets, predictions: [[Double]]) -> [Double] {
        targets.names.indices.map { j in
            let (indices, values) = targets.known(j)
            guard !indices.isEmpty else { return .nan }
            return zip(indices, values).reduce(0) { $0 + abs(predictions[$1.0][j] - $1.1) } / Double(indices.count)
        }
    }

    /// The per-label AUROC and Youden threshold of validation `probabilities` ([image][label]) against `targets`.
    public static func measure(targets: LabelTargets, probabilities: [[Double]]) -> (auroc: [Double], thresholds: [Double]) {
        var auroc: [Double] = [], thresholds: [Double] = []
        for k in targets.labels.indices {
            let (indices, labels) = targets.known(k)
            let scores = indices.map { probabilities[$0][k] }
            auroc.append(areaUnderROC(labels: labels, scores: scores) ?? .nan)
            // +∞ (nothing better than chance) becomes 1: a config threshold lies in [0, 1].
            thresholds.append(youdenThreshold(labels: labels, scores: scores).map { min($0.threshold, 1) } ?? 0.5)
        }
        return (auroc, thresholds)
    }
}

/// The validations of a run as `validation.csv` (`step,epoch,train_loss,mean_auroc,best`, then one AUROC and one
/// threshold column per label, then one `mae NAME` column per regression target), rewritten whole after each
/// validation and read back on resume, so the history and the best score continue where the checkpoint left them.
///
/// The best validation is the one of the highest mean AUROC when there are labels; with regression targets only,
/// the one of the lowest mean MAE.
public struct ValidationHistory: Sendable {
    public let labels: [String]
    public let regressionNames: [String]
    public private(set) var records: [ValidationRecord] = []

    public init(labels: [String], regressionNames: [String] = []) {
        self.labels = labels
        self.regressionNames = regressionNames
    }

    /// Whether the best validation is chosen by the mean MAE (no labels) rather than the mean AUROC.
    public var choosesByMAE: Bool { labels.isEmpty && !regressionNames.isEmpty }

    /// What the best validation is chosen by: "AUROC" (mean validation AUROC) or "MAE" (mean validation MAE).
    public var scoreName: String { choosesByMAE ? "MAE" : "AUROC" }

    /// A validation's score: its mean AUROC, or with regression targets only its mean MAE.
    public func score(_ record: ValidationRecord) -> Double { choosesByMAE ? record.meanMAE : record.meanAUROC }

    /// The best score so far (nil before any defined one): the highest mean AUROC, or the lowest mean MAE.
    public var bestScore: Double? {
        let scores = records.map(score).filter { !$0.isNaN }
        return choosesByMAE ? scores.min() : scores.max()
    }

    /// Whether `record`'s score beats every earlier one (the first defined score does).
    public func improves(_ record: ValidationRecord) -> Bool {
        let score = score(record)
        guard !score.isNaN else { return false }
        return bestScore.map { choosesByMAE ? score < $0 : score > $0 } ?? true
    }

    public mutating func append(_ record: ValidationRecord) { records.append(record) }

    /// Drops the validations after `step` (a resumed run trains those steps again).
    public mutating func trim(after step: Int) { records.removeAll { $0.step > step } }

    var header: [String] {
        ["step", "epoch", "train_loss", "mean_auroc", "best"] + labels.map { "auroc \($0)" } + labels.map { "threshold \($0)" }
            + regressionNames.map { "mae \($0)" }
    }

    public func csv() -> String {
        func f(_ x: Double) -> String { x.isNaN ? "nan" : String(format: "%.6f", x) }
        return ([header] + records.map { r in
            ["\(r.step)", "\(r.epoch)", f(r.trainLoss), f(r.meanAUROC), r.isBest ? "1" : "0"] + r.auroc.map(f) + r.thresholds.map(f)
                + r.mae.map(f)
        }).map { csvLine($0) + "\n" }.joined()
    }

    public func write(to url: URL) throws { try AtomicFile.write(Data(csv().utf8), to: url, durability: .unsynced) }

    /// Reads `validation.csv`; a file of other labels or regression targets is refused naming it.
    public static func read(_ url: URL, labels: [String], regressionNames: [String] = []) throws -> ValidationHistory {
        var history = ValidationHistory(labels: labels, regressionNames: regressionNames)
        guard FileManager.default.fileExists(atPath: url.path) else { return history }
        let table = try CSVTable.read(url)
        guard table.header == history.header else {
            throw DataFileError(file: url.path, line: 1, "written for other labels (\(table.header.joined(separator: ", "))); "
                                + "resume with the same --labels and --regress, or start in a new --output")
        }
        let n = labels.count, r = regressionNames.count
        for (row, line) in zip(table.rows, table.lines) {
            guard let step = Int(row[0]), let epoch = Int(row[1]) else {
                throw DataFileError(file: url.path, line: line, "step and epoch must be whole numbers")
            }
            let numbers = row.map { Double($0) ?? .nan }
            history.append(ValidationRecord(step: step, epoch: epoch, trainLoss: numbers[2],
                                            auroc: Array(numbers[5..<(5 + n)]), thresholds: Array(numbers[(5 + n)..<(5 + 2 * n)]),
                                            isBest: row[4] == "1", mae: Array(numbers[(5 + 2 * n)..<(5 + 2 * n + r)])))
        }
        return history
    }

    /// Training loss over steps above the validation AUROCs (per label and their mean) and MAEs (per regression
    /// target) over steps, as one PNG (the AUROC panel's title is short: the legend of three long label names takes
    /// most of its top line).
    public func curves(loss: [(step: Int, loss: Double)]) -> Image {
        let lossPanel = CurvePlot.Panel(title: "TRAINING LOSS", series: [
            CurvePlot.Series(name: "LOSS", points: loss.map { (Double($0.step), $0.loss) }),
        ])
        var panels = [lossPanel]
        if !labels.isEmpty {
            let aurocs = labels.indices.map { k in
                CurvePlot.Series(name: labels[k].uppercased(), points: records.map { (Double($0.step), $0.auroc[k]) })
            } + (labels.count > 1 ? [CurvePlot.Series(name: "MEAN", points: records.map { (Double($0.step), $0.meanAUROC) })] : [])
            panels.append(CurvePlot.Panel(title: "AUROC", series: aurocs, range: 0...1))
        }
        if !regressionNames.isEmpty {
            panels.append(CurvePlot.Panel(title: "MAE", series: regressionNames.indices.map { j in
                CurvePlot.Series(name: regressionNames[j].uppercased(), points: records.map { (Double($0.step), $0.mae[j]) })
            }))
        }
        return CurvePlot(panels: panels).image()
    }
}
