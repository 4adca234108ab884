import Core
import Datasets
import Foundation
import Phantom

/// The data of a de-biasing experiment: the training label file and its patient split, the test images (and on the
/// phantom each test image's true counterfactual), and the training images the augmenting methods start from.
/// Records given out here have absolute paths, so that images of several folders train together.
public struct DebiasData: Sendable {
    /// The training label file, as the counterfactual builder reads it, and the folder its paths are relative to.
    public let manifestURL: URL
    public let manifest: SourceManifest
    public let imageRoot: URL
    /// Rows of `manifest` in the split's train and validation parts.
    public let trainRows: [Int]
    public let validationRows: [Int]
    /// The test images (absolute paths) whose label and attribute are known.
    public let test: [Record]
    /// Per test image, the file of its true counterfactual with the attribute flipped (phantom only).
    public let testCounterfactuals: [String?]
    /// Phantom only: per training image path (as in the manifest), the true counterfactual with the attribute flipped.
    public let oracle: [String: Record]

    public var train: [Record] { trainRows.map { absolute(manifest.records[$0]) } }
    public var validation: [Record] { validationRows.map { absolute(manifest.records[$0]) } }

    func absolute(_ record: Record) -> Record { record.resolved(against: imageRoot) }

    /// Makes (phantom) or reads and splits (label file) the data under `options.output/data`. A phantom set already
    /// made by an earlier run of the same experiment is reused; one made with other settings is refused.
    /// `message` says what is being made, `progress(phase, done, total)` follows the phantom's rendering.
    public static func prepare(_ options: DebiasOptions, message: (String) -> Void = { _ in },
                               progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> DebiasData {
        switch options.source {
        case .phantom(let phantom): try preparePhantom(phantom, options: options, message: message, progress: progress)
        case .labelFile(let data, let images, let format): try prepareLabelFile(data: data, images: images, format: format, options: options)
        }
    }

    // MARK: Phantom

    static func preparePhantom(_ p: PhantomDebiasData, options: DebiasOptions, message: (String) -> Void,
                               progress: (String, Int, Int) -> Void) throws -> DebiasData {
        let folder = options.output.appendingPathComponent("data")
        let intervention = try phantomIntervention(options.attribute)
        let flips = ["\(intervention)=0", "\(intervention)=1"]
        let sets: [(name: String, count: Int, seed: UInt64, spurious: Double)] = [
            ("train", p.trainCount, p.seed, p.spurious), ("test", p.testCount, p.seed &+ 1, 0),
        ]
        for set in sets {
            var dataset = PhantomDataset(output: folder.appendingPathComponent(set.name), count: set.count, seed: set.seed)
            dataset.size = p.size
            dataset.parameters = p.parameters
            dataset.parameters.spurious = set.spurious
            dataset.counterfactuals = try flips.map { try Intervention.parseList($0) }
            dataset.directOnly = true
            let description = try String(decoding: JSONFile.encode(PhantomSetDescription(
                count: set.count, seed: set.seed, size: p.size, spurious: set.spurious, parameters: dataset.parameters,
                counterfactuals: flips.joined(separator: ";")), pretty: false), as: UTF8.self)
            let marker = dataset.output.appendingPathComponent("complete.json")
            if let made = try? String(contentsOf: marker, encoding: .utf8) {
                guard made == description else {
                    throw DataFileError(file: dataset.output.path, "holds a phantom set made with other settings (\(made)); "
                                        + "give a new --output, or the settings of that run")
                }
                continue
            }
            message("generating the phantom \(set.name) set: \(set.count) images, spurious \(set.spurious), seed \(set.seed), "
                    + "with their true counterfactuals")
            _ = try dataset.generate { done, total in progress("phantom \(set.name) set", done, total) }
            try writeAtomically(Data(description.utf8), to: marker)
        }
        let train = folder.appendingPathComponent("train"), test = folder.appendingPathComponent("test")
        let manifestURL = train.appendingPathComponent("manifest.csv")
        let manifest = try SourceManifest(url: manifestURL, format: .chexpert)
        try requireLabels(options, in: manifest, file: manifestURL)
        let split = PatientSplit(patients: manifest.records.map(\.patientID), seed: p.seed, train: 0.85, validation: 0.15)
        let trainRows = manifest.records.indices.filter { split.split(of: manifest.records[$0].patientID) == .train }
        let validationRows = manifest.records.indices.filter { split.split(of: manifest.records[$0].patientID) == .validation }

        let testManifest = try SourceManifest(url: test.appendingPathComponent("manifest.csv"), format: .chexpert)
        let testFlips = try counterfactualFiles(test, intervention: intervention)
        var testRecords: [Record] = [], testCounterfactuals: [String?] = []
        for record in testManifest.records {
            guard let a = record.findings()[options.attribute], record.findings()[options.label] != nil else { continue }
            testRecords.append(record.resolved(against: test))
            testCounterfactuals.append(testFlips[record.path]?[a ? 0 : 1].path)
        }
        let trainFlips = try counterfactualFiles(train, intervention: intervention)
        var oracle: [String: Record] = [:]
        for record in manifest.records {
            guard let a = record.findings()[options.attribute], let flipped = trainFlips[record.path]?[a ? 0 : 1] else { continue }
            oracle[record.path] = flipped
        }
        return DebiasData(manifestURL: manifestURL, manifest: manifest, imageRoot: train, trainRows: trainRows,
                          validationRows: validationRows, test: testRecords, testCounterfactuals: testCounterfactuals,
                          oracle: oracle)
    }

    /// The phantom's intervention name of an attribute label ("Support Devices" → support_devices).
    static func phantomIntervention(_ attribute: String) throws -> String {
        let name = attribute.lowercased().replacingOccurrences(of: " ", with: "_")
        do { _ = try Intervention.parseList("\(name)=0") } catch {
            throw DataFileError(file: "--attribute", "\"\(attribute)\" is not an attribute the phantom can intervene on "
                                + "(support devices, pacemaker, cardiomegaly, pleural effusion, ...)")
        }
        return name
    }

    /// A phantom set's counterfactuals.csv as: source image path → [do(name=0), do(name=1)] records (absolute paths).
    static func counterfactualFiles(_ folder: URL, intervention: String) throws -> [String: [Record]] {
        let url = folder.appendingPathComponent("counterfactuals.csv")
        let table = try CSVTable.read(url)
        let records = try Manifest.records(table, format: .chexpert)
        let caseColumn = try table.requireColumn("Case"), doColumn = try table.requireColumn("Intervention")
        var byCase: [String: [String: Record]] = [:]
        for (row, record) in zip(table.rows, records) {
            byCase["images/\(row[caseColumn]).png", default: [:]][row[doColumn]] = record.resolved(against: folder)
        }
        return try byCase.mapValues { flips in
            try [0, 1].map { v in
                guard let r = flips["\(intervention)=\(v)"] else {
                    throw DataFileError(file: url.path, "no \(intervention)=\(v) counterfactual for a case")
                }
                return r
            }
        }
    }

    // MARK: A label file

    static func prepareLabelFile(data: URL, images: URL, format: ManifestFormat, options: DebiasOptions) throws -> DebiasData {
        let manifest = try SourceManifest(url: data, format: format)
        try requireLabels(options, in: manifest, file: data)
        let split = try PatientSplit.loadOrCreate(at: options.output.appendingPathComponent("split.csv"),
                                                  for: manifest.records, seed: 0)
        func rows(_ part: SplitName) -> [Int] {
            manifest.records.indices.filter { split.split(of: manifest.records[$0].patientID) == part }
        }
        let test = rows(.test).map { manifest.records[$0] }.filter {
            $0.findings()[options.attribute] != nil && $0.findings()[options.label] != nil
        }.map { $0.resolved(against: images) }
        guard !test.isEmpty else {
            throw DataFileError(file: data.path, "the split's test part has no image with both \(options.label) and "
                                + "\(options.attribute) known")
        }
        return DebiasData(manifestURL: data, manifest: manifest, imageRoot: images, trainRows: rows(.train),
                          validationRows: rows(.validation), test: test, testCounterfactuals: test.map { _ in nil }, oracle: [:])
    }

    static func requireLabels(_ options: DebiasOptions, in manifest: SourceManifest, file: URL) throws {
        for (option, name) in [("--label", options.label), ("--attribute", options.attribute)]
        where !manifest.labels.contains(Findings.canonical(name)) {
            throw DataFileError(file: file.path, "\(option) \"\(name)\" is not a label of this file (its labels: "
                                + manifest.labels.joined(separator: ", ") + ")")
        }
    }

    // MARK: Sources of the augmentation

    /// The training images the augmenting methods edit: shortcut-aligned ones, half with both the label and the
    /// attribute (their attribute removed), half with neither (it added), drawn with `seed`; where a group is
    /// smaller, all of it and more of the other. Rows of `manifest`, in drawing order.
    public func augmentationSources(count: Int, label: String, attribute: String, seed: UInt64) -> [Int] {
        func group(_ present: Bool) -> [Int] {
            trainRows.filter {
                let f = manifest.records[$0].findings()
                return f[label] == present && f[attribute] == present
            }
        }
        var rng = SplitMix64(seed: seed)
        func shuffled(_ rows: [Int]) -> [Int] {
            var r = rows
            for i in stride(from: r.count - 1, to: 0, by: -1) { r.swapAt(i, rng.int(0...i)) }
            return r
        }
        let withIt = shuffled(group(true)), without = shuffled(group(false))
        let remove = min(withIt.count, count / 2)
        let add = min(without.count, count - remove)
        let moreRemoved = min(withIt.count - remove, count - remove - add)
        var out: [Int] = []
        for k in 0..<max(remove + moreRemoved, add) {
            if k < remove + moreRemoved { out.append(withIt[k]) }
            if k < add { out.append(without[k]) }
        }
        return out
    }

    /// The training label file's rows `rows`, in its own format (paths as given), as the counterfactual builder reads it.
    public func writeSources(_ rows: [Int], to url: URL) throws {
        var text = csvLine(manifest.table.header) + "\n"
        for r in rows { text += csvLine(manifest.table.rows[r]) + "\n" }
        try writeAtomically(Data(text.utf8), to: url)
    }
}

/// What a phantom set of an experiment was made with (its folder's complete.json).
struct PhantomSetDescription: Codable {
    var count: Int
    var seed: UInt64
    var size: Int
    var spurious: Double
    var parameters: SCMParameters
    var counterfactuals: String
}

extension Record {
    /// The record with its path made absolute against `root` (an absolute path is kept).
    func resolved(against root: URL) -> Record {
        var r = self
        if !path.hasPrefix("/") { r.path = root.appendingPathComponent(path).path }
        return r
    }
}
