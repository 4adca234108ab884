import Datasets
import Foundation
import Testing
import DiffusionTraining
import Training
@testable import prism

/// Label files and training images are checked before any caption is printed or anything is trained.
@Suite struct DataInputTests {
    /// A row with fewer fields than the header would read its missing fields as empty (a caption without its sex or
    /// age): it is refused, naming the file and the line.
    @Test func aShortRowIsRefusedNamingTheFileAndLine() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let csv = try scratch.write("Path,Cardiomegaly,Sex,Age\na.png,1,F,70\nb.png,0,M\n", to: "labels.csv")
        let command = try CaptionCommand.parse(["--data", csv, "--all"])
        let refused = try #require(failure { try command.run() })
        #expect(refused.message.contains("\(csv):3: 3 fields where the header has 4"), "\(refused.message)")
        #expect(refused.status == 1)
    }

    /// A label file that is a folder, or an image folder that is a file, is refused naming the option.
    @Test func dataPathsOfTheWrongKindAreRefusedNamingTheOption() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let caption = try CaptionCommand.parse(["--data", scratch.root.path, "--all"])
        let folder = try #require(failure { try caption.run() })
        #expect(folder.message.contains("--data \(scratch.root.path): a folder, not a file"), "\(folder.message)")
        let data = try trainingData(scratch, count: 2, broken: [])
        let train = try TrainCommand.parse(["--data", data, "--images", data, "--base", tinyPipeline.path,
                                            "--output", scratch.path("run"), "--steps", "1"])
        let file = try #require(failure { try train.run() })
        #expect(file.message.contains("--images \(data): a file, not a folder"), "\(file.message)")
        #expect(!scratch.exists("run"))
        let underFile = URL(fileURLWithPath: data).appendingPathComponent("run").path
        let output = try TrainCommand.parse(["--data", data, "--images", scratch.path("images"), "--base", tinyPipeline.path,
                                             "--output", underFile, "--steps", "1"])
        let unwritable = try #require(failure { try output.run() })
        #expect(unwritable.message.contains("--output \(underFile): \(data) is a file, not a folder"), "\(unwritable.message)")
    }

    /// Without a Sex or Age column every caption silently lacks the word; the command warns, naming what is missing.
    @Test func labelsWithoutSexOrAgeAreNoticed() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let csv = try scratch.write("Path,Cardiomegaly\na.png,1\nb.png,0\n", to: "labels.csv")
        let records = try CaptionCommand.parse(["--data", csv, "--all"]).data.load()
        #expect(DataOptions.missingDemographics(records) == ["sex", "age"])
        let full = try scratch.write("Path,Cardiomegaly,Sex,Age\na.png,1,F,70\nb.png,0,,\n", to: "full.csv")
        #expect(DataOptions.missingDemographics(try CaptionCommand.parse(["--data", full, "--all"]).data.load()).isEmpty)
        let noAge = try scratch.write("Path,Cardiomegaly,Sex\na.png,1,F\n", to: "no-age.csv")
        #expect(DataOptions.missingDemographics(try CaptionCommand.parse(["--data", noAge, "--all"]).data.load()) == ["age"])
    }

    /// Images for `prism train` and a label file naming them; `broken` of them cut to half their length.
    func trainingData(_ scratch: Scratch, count: Int, broken: Set<Int>) throws -> String {
        try FileManager.default.createDirectory(at: scratch.url("images"), withIntermediateDirectories: true)
        var csv = "Path,Cardiomegaly,Sex,Age\n"
        for i in 0..<count {
            let name = String(format: "images/%03d.png", i)
            try scratch.png(name, width: 32, height: 32) { x, y in Float((x + y + i) % 32) / 31 }
            if broken.contains(i) {
                let data = try Data(contentsOf: scratch.url(name))
                try data.prefix(data.count / 2).write(to: scratch.url(name))
            }
            csv += "\(String(format: "%03d.png", i)),\(i % 2),F,\(40 + i % 50)\n"
        }
        return try scratch.write(csv, to: "labels.csv")
    }

    func train(_ scratch: Scratch, data: String) throws -> TrainCommand {
        try TrainCommand.parse(["--data", data, "--images", scratch.path("images"), "--base", tinyPipeline.path,
                                "--output", scratch.path("run"), "--resolution", "32", "--batch", "1", "--grad-accum", "1",
                                "--steps", "8", "--checkpoint-every", "4"])
    }

    /// One truncated PNG among the images: refused before training starts, naming it, with nothing written, so that
    /// once the file is fixed a plain rerun starts.
    @Test func aTruncatedImageIsRefusedBeforeTrainingWritesAnything() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let data = try trainingData(scratch, count: 6, broken: [4])
        let refused = try #require(failure { try train(scratch, data: data).run() })
        #expect(refused.message.contains("1 of 6 images cannot be decoded"), "\(refused.message)")
        #expect(refused.message.contains("images/004.png: truncated") && refused.message.contains("manifest line 6"))
        #expect(refused.status == 1 && !refused.message.contains("\n"))
        #expect(!scratch.exists("run"), "the output folder was written before the refusal")
    }

    @Test func manyBrokenImagesAreCountedAndTheFirstFewNamed() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let data = try trainingData(scratch, count: 10, broken: [1, 2, 3, 5, 7, 9])
        let refused = try #require(failure { try train(scratch, data: data).run() })
        #expect(refused.message.contains("6 of 10 images cannot be decoded"), "\(refused.message)")
        for shown in ["001", "002", "003", "005"] { #expect(refused.message.contains("images/\(shown).png")) }
        #expect(!refused.message.contains("images/007.png") && refused.message.contains("and 2 more"))
        #expect(!scratch.exists("run"))
    }

    /// The pass reports its progress and accepts images that decode (in any order, from several threads).
    @Test func imagesThatDecodePassWithProgress() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let data = try trainingData(scratch, count: 150, broken: [])
        let records = try Manifest.load(URL(fileURLWithPath: data))
        let dataset = CaptionedImageDataset(records: records, imageRoot: scratch.url("images"), resolution: 32,
                                            template: CaptionTemplate())
        var reports: [Int] = []
        try dataset.checkImagesDecode { done, total in
            #expect(total == 150)
            reports.append(done)
        }
        #expect(reports.last == 150 && reports == reports.sorted())
    }
}
