import Classifiers
import Core
import Counterfactual
import Datasets
import Debiasing
import Foundation
import Testing

/// The plan: edits and filters read against the manifest's labels, rows rewritten in the input's format.
@Suite struct CounterfactualPlanTests {
    @Test func editsNameTheManifestsLabels() throws {
        let fixture = try DebiasingFixture()
        defer { fixture.remove() }
        let plan = try CounterfactualPlan(fixture.request(edits: ["remove support devices", "Add Cardiomegaly"], output: "out"))
        #expect(plan.edits.map(\.finding) == ["Support Devices", "Cardiomegaly"])
        // Support devices on rows 0, 2, 4; cardiomegaly on 0 and 3: "add cardiomegaly" applies to 1, 2, 4.
        #expect(plan.images.map { $0.targets.map(\.editIndex) } == [[0], [1], [0, 1], [], [0, 1]])
        #expect(plan.notApplicable == [2, 2])
        let error = #expect(throws: DataFileError.self) {
            try CounterfactualPlan(fixture.request(edits: ["remove pleural effusion"], output: "out"))
        }
        #expect(error?.description.contains("Support Devices") == true && error?.description.contains("pleural effusion") == true)
        #expect(throws: DataFileError.self) { try CounterfactualPlan(fixture.request(edits: ["erase cardiomegaly"], output: "out")) }
    }

    @Test func whereKeepsTheRowsWithThoseLabels() throws {
        let fixture = try DebiasingFixture(count: 6)
        defer { fixture.remove() }
        let plan = try CounterfactualPlan(fixture.request(edits: ["remove support devices"], output: "out", filter: "Support Devices=1"))
        #expect(plan.images.map(\.record.path) == ["images/case0.png", "images/case2.png", "images/case4.png"])
        let both = try CounterfactualPlan(fixture.request(edits: ["remove support devices"], output: "out",
                                                          filter: "support devices=1, Sex=female"))
        #expect(both.images.count == 3)
        let men = try CounterfactualPlan(fixture.request(edits: ["add support devices"], output: "out", filter: "Sex=Male,Cardiomegaly=1"))
        #expect(men.images.map(\.record.path) == ["images/case3.png"])
        let error = #expect(throws: DataFileError.self) {
            try CounterfactualPlan(fixture.request(edits: ["remove support devices"], output: "out", filter: "Effusion=1"))
        }
        #expect(error?.description.contains("Cardiomegaly, Support Devices, Pacemaker") == true)
    }

    @Test func aMissingImageIsNamed() throws {
        let fixture = try DebiasingFixture()
        defer { fixture.remove() }
        try FileManager.default.removeItem(at: fixture.url("images/case2.png"))
        let error = #expect(throws: DataFileError.self) {
            try CounterfactualPlan(fixture.request(edits: ["remove support devices"], output: "out"))
        }
        #expect(error?.description.contains("case2.png (line 4)") == true)
    }

    @Test func rowsKeepTheInputsFormatWithTheLabelChanged() throws {
        let fixture = try DebiasingFixture(decimals: true)
        defer { fixture.remove() }
        let plan = try CounterfactualPlan(fixture.request(edits: ["remove support devices", "add cardiomegaly"], output: "out"))
        // Row 0: Female, 40, cardiomegaly and devices. Removing the devices clears the pacemaker too.
        #expect(plan.images[0].targets[0].row == ["remove-support-devices/images/case0.png", "Female", "40", "0.0", "1.0", "0.0", "0.0"])
        // Row 1: no finding; adding cardiomegaly makes No Finding 0.
        #expect(plan.images[1].targets[0].row == ["add-cardiomegaly/images/case1.png", "Male", "41", "0.0", "1.0", "0.0", "0.0"])
    }

    @Test func nihRowsEditFindingLabels() throws {
        let fixture = try DebiasingFixture()
        defer { fixture.remove() }
        let csv = fixture.url("nih.csv")
        try Data("Image Index,Finding Labels,Patient ID,Patient Age,Patient Gender,View Position\nimages/case0.png,Effusion|Cardiomegaly,1,50,F,PA\nimages/case1.png,Cardiomegaly,2,60,M,PA\n".utf8).write(to: csv)
        var request = fixture.request(edits: ["remove cardiomegaly", "add pleural effusion"], output: "out")
        request.data = csv
        let plan = try CounterfactualPlan(request)
        #expect(plan.images[0].targets.map { $0.row[1] } == ["Effusion"])
        #expect(plan.images[1].targets.map { $0.row[1] } == ["No Finding", "Cardiomegaly|Effusion"])
    }

    @Test func shardsParseAsKOfN() throws {
        #expect(try Shard(parsing: "0/2") == Shard(index: 0, count: 2))
        for bad in ["2/2", "-1/2", "1", "a/b", "0/0"] { #expect(throws: DataFileError.self) { try Shard(parsing: bad) } }
    }
}

/// Building with the tiny random-weight pipeline (64×64, 3 DDIM steps).
@Suite(.serialized) struct CounterfactualBuildTests {
    @Test func manifestIsTheInputsFormatAndProvenanceHasEveryItem() throws {
        let fixture = try DebiasingFixture()
        defer { fixture.remove() }
        let result = try fixture.build(fixture.request(edits: ["remove support devices", "add support devices"], output: "out"))
        #expect(result.made == 5 && result.resumed == 0)
        #expect(result.notApplicable.map(\.images) == [2, 3])
        let lines = try text(fixture.url("out/manifest.csv")).split(separator: "\n").map(String.init)
        #expect(lines == [
            "Path,Sex,Age,No Finding,Cardiomegaly,Support Devices,Pacemaker",
            "remove-support-devices/images/case0.png,Female,40,0,1,0,0",
            "add-support-devices/images/case1.png,Male,41,1,0,1,0",
            "remove-support-devices/images/case2.png,Female,42,1,0,0,0",
            "add-support-devices/images/case3.png,Male,43,0,1,1,0",
            "remove-support-devices/images/case4.png,Female,44,1,0,0,0",
        ])
        let records = try Manifest.load(fixture.url("out/manifest.csv"))
        #expect(records.map(\.patientID) == ["case0", "case1", "case2", "case3", "case4"])
        for r in records { #expect(FileManager.default.fileExists(atPath: fixture.url("out/\(r.path)").path)) }
        let provenance = try CSVTable.read(fixture.url("out/provenance.csv"))
        #expect(provenance.header == CounterfactualItem.provenanceHeader)
        #expect(provenance.rows.map { $0[1] } == (0..<5).map { "images/case\($0).png" })
        #expect(provenance.rows.allSatisfy { $0[5] == "ddim" && Double($0[6]) != nil && $0[9] == "1" })
    }

    @Test func twoShardsMergedEqualTheUnshardedRun() throws {
        let fixture = try DebiasingFixture()
        defer { fixture.remove() }
        let edits = ["remove support devices", "add cardiomegaly"]
        _ = try fixture.build(fixture.request(edits: edits, output: "whole"))
        let zero = try fixture.build(fixture.request(edits: edits, output: "s0", shard: Shard(index: 0, count: 2)))
        let one = try fixture.build(fixture.request(edits: edits, output: "s1", shard: Shard(index: 1, count: 2)))
        #expect(zero.made + one.made == 6 && zero.made > 0 && one.made > 0)
        let merged = try CounterfactualMerge.merge([fixture.url("s0"), fixture.url("s1")], into: fixture.url("merged"))
        #expect(merged.missing == 0)
        let whole = files(under: fixture.url("whole")), joined = files(under: fixture.url("merged"))
        #expect(whole.keys.sorted() == joined.keys.sorted())
        for (name, data) in whole { #expect(joined[name] == data, "\(name) differs") }
        // A shard of another dataset is refused.
        _ = try fixture.build(fixture.request(edits: ["remove support devices"], output: "other", shard: Shard(index: 1, count: 2)))
        #expect(throws: DataFileError.self) { try CounterfactualMerge.merge([fixture.url("s0"), fixture.url("other")], into: fixture.url("m2")) }
    }

    @Test func aRerunSkipsFinishedItemsAndRedoesOnlyTheMissing() throws {
        let fixture = try DebiasingFixture()
        defer { fixture.remove() }
        let request = fixture.request(edits: ["remove support devices", "add cardiomegaly"], output: "out")
        // With the inversion cache (the command's default): the rerun's image takes its inversion from it, and must
        // still give the bytes of the straight run, which inverted afresh.
        let cache = InversionCache(folder: fixture.url("inversions"))
        _ = try fixture.build(request, cache: cache)
        let straight = files(under: fixture.url("out"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache.folder.path).count == 4, "one inversion per edited image")
        // As a kill leaves it: one image's second edit not recorded (its image maybe written), the tables stale.
        try FileManager.default.removeItem(at: fixture.url("out/items/00000004-001.json"))
        try FileManager.default.removeItem(at: fixture.url("out/manifest.csv"))
        let again = try fixture.build(request, cache: cache)
        #expect(again.made == 1 && again.resumed == 5)
        let resumed = files(under: fixture.url("out"))
        #expect(resumed.keys.sorted() == straight.keys.sorted())
        for (name, data) in straight { #expect(resumed[name] == data, "\(name) differs") }
        // Other settings in the same folder are refused.
        var other = request
        other.settings.steps = 4
        #expect(throws: DataFileError.self) { try fixture.build(other) }
        // So is another emphasis; run.json names it only when it is not 1, as datasets begun before it existed say.
        let description = try String(contentsOf: fixture.url("out/run.json"), encoding: .utf8)
        #expect(!description.contains("emphasis"))
        var emphasised = request
        emphasised.settings.emphasis = 2
        let refusal = try #require(throws: DataFileError.self) { try fixture.build(emphasised) }
        #expect("\(refusal)".contains("emphasis"), "\(refusal)")
    }

    @Test func theGateDropsEditsTheClassifierDoesNotSee() throws {
        let fixture = try DebiasingFixture()
        defer { fixture.remove() }
        // Threshold 0: every probability is at or above it, so additions pass and removals never do.
        let classifier = Classifier(config: ClassifierConfig(architecture: .resnet18, labels: ["Support Devices"], resolution: 32,
                                                             thresholds: [0]))
        let gate = CounterfactualGate(classifier: classifier, identity: "threshold-0")
        let result = try fixture.build(fixture.request(edits: ["remove support devices", "add support devices"], output: "out"),
                                       gate: gate)
        #expect(result.droppedByGate == 3 && result.kept == 2)
        let manifest = try CSVTable.read(fixture.url("out/manifest.csv"))
        #expect(manifest.rows.map { $0[0] } == ["add-support-devices/images/case1.png", "add-support-devices/images/case3.png"])
        #expect(!FileManager.default.fileExists(atPath: fixture.url("out/remove-support-devices/images/case0.png").path))
        let provenance = try CSVTable.read(fixture.url("out/provenance.csv"))
        #expect(provenance.rows.count == 5 && provenance.rows.allSatisfy { Double($0[8]) != nil })
        #expect(provenance.rows.map { $0[9] } == ["0", "1", "0", "1", "0"])
        // A classifier without the edited label is refused, naming its labels.
        let other = CounterfactualGate(classifier: Classifier(config: ClassifierConfig(architecture: .resnet18, labels: ["Edema"], resolution: 32)),
                                       identity: "edema")
        #expect(throws: DataFileError.self) {
            try fixture.build(fixture.request(edits: ["remove support devices"], output: "out2"), gate: other)
        }
    }
}
