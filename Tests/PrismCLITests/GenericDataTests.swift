import ArgumentParser
import Datasets
import Foundation
import Testing
import TestSupport
@testable import prism

/// Any CSV described by column options, and any folder of class folders, trains a classifier and a diffusion model
/// with the options every labelled-data command shares.
@Suite struct GenericDataTests {
    let columns = ["--path-column", "file", "--label-columns", "lesion,marker", "--label-values", "positive=yes,negative=no",
                   "--patient-column", "subject", "--sex-column", "gender", "--age-column", "years"]

    /// 20 small images in img/, labelled in labels.csv with columns Prism does not know; two images per subject.
    func genericCSV(_ scratch: Scratch) throws -> String {
        try FileManager.default.createDirectory(at: scratch.url("img"), withIntermediateDirectories: true)
        var csv = "file,lesion,marker,subject,gender,years\n"
        for i in 0..<20 {
            try scratch.png("img/\(i).png", width: 32, height: 32) { x, y in Float((x * (i % 3 + 1) + y) % 32) / 31 }
            csv += "img/\(i).png,\(i % 2 == 0 ? "yes" : "no"),\(i % 3 == 0 ? "yes" : "no"),s\(i / 2),\(i % 2 == 0 ? "F" : "male"),\(30 + i)\n"
        }
        return try scratch.write(csv, to: "labels.csv")
    }

    /// tree/benign and tree/malignant, 8 images each.
    func imageFolder(_ scratch: Scratch) throws -> String {
        for c in ["benign", "malignant"] {
            try FileManager.default.createDirectory(at: scratch.url("tree/\(c)"), withIntermediateDirectories: true)
            for i in 0..<8 {
                try scratch.png("tree/\(c)/\(i).png", width: 32, height: 32) { x, y in Float((x + y * (c == "benign" ? 1 : 3) + i) % 32) / 31 }
            }
        }
        return scratch.path("tree")
    }

    func classifierTrain(_ data: [String], _ scratch: Scratch, run: String) throws -> ClassifierTrainCommand {
        try ClassifierTrainCommand.parse(data + ["--arch", "resnet18", "--resolution", "32", "--batch", "4", "--steps", "2",
                                                 "--validate-every", "2", "--device", "cpu", "--threads", "1",
                                                 "--loader-threads", "1", "--output", scratch.path(run)])
    }

    func config(_ scratch: Scratch, _ run: String) throws -> [String: Any] {
        let data = try Data(contentsOf: scratch.url("\(run)/best/config.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test(.tags(.slow)) func classifierTrainsOnAGenericCSVWithEveryLabelByDefault() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let csv = try genericCSV(scratch)
        try classifierTrain(["--data", csv, "--images", scratch.root.path] + columns, scratch, run: "run").run()
        #expect(try config(scratch, "run")["labels"] as? [String] == ["lesion", "marker"])
        let split = try PatientSplit.read(scratch.url("run/split.csv"))
        #expect(split.assignment.keys.sorted() == (0..<10).map { "s\($0)" }.sorted(), "the patient column is the split's unit")

        try classifierTrain(["--data", csv, "--images", scratch.root.path, "--labels", "marker"] + columns, scratch, run: "one").run()
        #expect(try config(scratch, "one")["labels"] as? [String] == ["marker"])
    }

    @Test(.tags(.slow)) func classifierTrainsOnAFolderOfClassFolders() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let tree = try imageFolder(scratch)
        try classifierTrain(["--data-folder", tree], scratch, run: "run").run()
        #expect(try config(scratch, "run")["labels"] as? [String] == ["benign", "malignant"])
        let split = try PatientSplit.read(scratch.url("run/split.csv"))
        #expect(split.assignment.count == 16 && split.assignment["malignant/3.png"] != nil, "each image its own patient")
        let predict = try ClassifierPredictCommand.parse(["--classifier", scratch.path("run/best"), "--data-folder", tree,
                                                          "--device", "cpu", "--output", scratch.path("p.csv")])
        try predict.run()
        let rows = try String(contentsOf: scratch.url("p.csv"), encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 17 && rows[0] == "path,patient,benign,malignant" && rows[1].hasPrefix("benign/0.png,"))
        let groups = try ClassifierEvaluateCommand.parse(["--classifier", scratch.path("run/best"), "--data-folder", tree,
                                                          "--device", "cpu", "--groups", "x", "--output", scratch.path("eval")])
        let refused = try #require(failure { try groups.run() })
        #expect(refused.message.contains("--groups: \(tree) is a folder of class folders, which has no columns"), "\(refused.message)")
    }

    @Test(.tags(.slow)) func diffusionTrainingCaptionsGenericRecordsWithTheCustomTemplate() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let csv = try genericCSV(scratch)
        let train = try TrainCommand.parse(["--data", csv, "--images", scratch.root.path] + columns + [
            "--caption-template", "A dermoscopy image of {labels}[ on {a} {age}-year-old {sex}]",
            "--base", tinyPipeline.path, "--output", scratch.path("run"), "--resolution", "32", "--batch", "2",
            "--grad-accum", "1", "--steps", "2", "--checkpoint-every", "2"])
        let data = try train.input.data.loadData()
        let template = try train.captions.load(findings: data.findings)
        #expect(data.records.prefix(4).map(template.caption) == [
            "A dermoscopy image of lesion and marker on a 30-year-old female", "A dermoscopy image of no findings on a 31-year-old male",
            "A dermoscopy image of lesion on a 32-year-old female", "A dermoscopy image of marker on a 33-year-old male"])
        try train.run()
        #expect(scratch.exists("run/unet/config.json") && scratch.exists("run/model_index.json"))

        let folder = try TrainCommand.parse(["--data-folder", try imageFolder(scratch), "--caption-template", "A photo of {labels}",
                                             "--base", tinyPipeline.path, "--output", scratch.path("run2"), "--steps", "1"])
        let fromFolder = try folder.input.data.loadData()
        #expect(try folder.captions.load(findings: fromFolder.findings).caption(for: fromFolder.records.last!) == "A photo of malignant")
    }

    @Test func aMissingColumnOrValueIsRefusedNamingTheFile() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let csv = try genericCSV(scratch)
        let missing = try CaptionCommand.parse(["--data", csv, "--path-column", "file", "--label-columns", "lesion,size", "--all"])
        let refused = try #require(failure { try missing.run() })
        #expect(refused.message.contains("\(csv):1: no column \"size\" (a label column); the header has: "
                                         + "file, lesion, marker, subject, gender, years"), "\(refused.message)")
        #expect(refused.status == 1)
        let values = try CaptionCommand.parse(["--data", csv, "--path-column", "file", "--label-columns", "lesion",
                                               "--label-values", "positive=1,negative=0", "--all"])
        let value = try #require(failure { try values.run() })
        #expect(value.message.contains("\(csv):2: column \"lesion\": \"yes\" is not a label value"), "\(value.message)")
    }

    @Test func dataOptionsAreRefusedWhenTheyDoNotGoTogether() {
        let output = ["--output", "/nonexistent/run", "--steps", "2"]
        expectRefused(ClassifierTrainCommand.self, ["--data", "a.csv", "--data-folder", "t", "--images", "i"] + output,
                      saying: "--data CSV", "--data-folder DIR")
        expectRefused(ClassifierTrainCommand.self, output, saying: "--data CSV", "--data-folder DIR")
        expectRefused(ClassifierTrainCommand.self, ["--data-folder", "t", "--images", "i"] + output, saying: "--images goes with --data")
        expectRefused(ClassifierTrainCommand.self, ["--data", "a.csv", "--labels", "x"] + output, saying: "--data needs --images")
        expectRefused(ClassifierTrainCommand.self, ["--data-folder", "t", "--label-columns", "a"] + output, saying: "--data-folder")
        expectRefused(ClassifierTrainCommand.self, ["--data", "a.csv", "--images", "i", "--path-column", "f"] + output,
                      saying: "--label-columns")
        expectRefused(ClassifierTrainCommand.self, ["--data", "a.csv", "--images", "i", "--label-columns", "a", "--format", "nih"] + output,
                      saying: "--format")
        expectRefused(ClassifierTrainCommand.self, ["--data", "a.csv", "--images", "i"] + output, saying: "--labels")
        expectRefused(ClassifierTrainCommand.self, ["--data", "a.csv", "--images", "i", "--label-columns", "a",
                                                    "--label-values", "positive=yes"] + output,
                      saying: "--label-values positive=yes", "negative=")
        expectRefused(CaptionCommand.self, ["--data", "a.csv", "--caption-template", "X of {patient}", "--all"],
                      saying: "--caption-template", "{patient}")
        #expect(refusal(ClassifierTrainCommand.self, ["--data-folder", "t"] + output) == nil, "--labels defaults to every class")
        #expect(refusal(ClassifierTrainCommand.self, ["--data", "a.csv", "--images", "i", "--labels", "Edema"] + output) == nil)
    }
}
