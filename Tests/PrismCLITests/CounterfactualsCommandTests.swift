import Foundation
import Testing
@testable import prism

/// `prism counterfactuals` as a user and a cluster run it: the binary on phantom images with the tiny random-weight
/// pipeline (3 DDIM steps), killed and rerun, sharded and merged, its manifest trained on.
@Suite(.serialized) struct CounterfactualsCommandTests {
    /// A phantom dataset of `count` 64-pixel images.
    func phantom(_ scratch: Scratch, count: Int) throws -> URL {
        let folder = scratch.url("ph")
        #expect(try Child(["phantom", "generate", "--output", folder.path, "--count", "\(count)", "--size", "64", "--seed", "5"])
            .finishes(within: 120))
        return folder
    }

    func arguments(_ data: URL, _ output: URL, _ extra: [String] = []) -> [String] {
        ["--data", data.appendingPathComponent("manifest.csv").path, "--images", data.path,
         "--edit", "remove support devices", "--edit", "add support devices", "--model", tinyPipeline.path,
         "--inversion", "ddim", "--steps", "3", "--guidance", "3", "--cache", "none", "--output", output.path] + extra
    }

    @Test func refusedOptionsSaySo() {
        let base = ["--data", "m.csv", "--images", "i", "--output", "o"]
        expectRefused(CounterfactualsMakeCommand.self, base, saying: "--edit")
        expectRefused(CounterfactualsMakeCommand.self, base + ["--edit", "remove edema", "--shard", "2/2"], saying: "2/2", "K/N")
        expectRefused(CounterfactualsMakeCommand.self, base + ["--edit", "remove edema", "--mask", "m.png"], saying: "--mask")
        expectRefused(CounterfactualsMergeCommand.self, ["--output", "o"], saying: "<dir>")
    }

    @Test func anUnknownLabelAndAMissingImageAreNamed() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let data = try phantom(scratch, count: 4)
        var args = arguments(data, scratch.url("out"))
        args[args.firstIndex(of: "add support devices")!] = "add pacemakers"
        let unknown = try #require(failure { try CounterfactualsMakeCommand.parse(args).run() })
        #expect(unknown.message.contains("pacemakers") && unknown.message.contains("Support Devices, Pacemaker"), "\(unknown.message)")
        #expect(unknown.status == 1)
        let filter = try #require(failure {
            try CounterfactualsMakeCommand.parse(arguments(data, scratch.url("out"), ["--where", "Devices=1"])).run()
        })
        #expect(filter.message.contains("Devices") && filter.message.contains("Cardiomegaly"), "\(filter.message)")
        try FileManager.default.removeItem(at: data.appendingPathComponent("images/000002.png"))
        let missing = try #require(failure { try CounterfactualsMakeCommand.parse(arguments(data, scratch.url("out"))).run() })
        #expect(missing.message.contains("000002.png") && missing.status == 1, "\(missing.message)")
        #expect(!scratch.exists("out/run.json"), "nothing is written before the inputs are checked")
    }

    /// Killed three times by its progress (after 2, 5 and 8 items), then rerun: the folder is file for file the
    /// folder of a run never killed.
    @Test func aKilledRunResumesLosingNothing() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let data = try phantom(scratch, count: 12)
        let straight = scratch.url("straight"), killed = scratch.url("killed")
        #expect(try Child(["counterfactuals"] + arguments(data, straight)).finishes(within: 300))
        var kills = 0
        for after in [2, 5, 8] {
            let child = try Child(["counterfactuals"] + arguments(data, killed))
            func finished() -> Int {
                ((try? FileManager.default.contentsOfDirectory(atPath: killed.appendingPathComponent("items").path)) ?? [])
                    .filter { !$0.hasPrefix(".") }.count
            }
            while child.process.isRunning && finished() < after { usleep(1_000) }
            if child.process.isRunning { kills += 1 }
            child.killHard()
        }
        #expect(try Child(["counterfactuals"] + arguments(data, killed)).finishes(within: 300))
        #expect(kills >= 2, "only \(kills) kills landed before the run ended")
        let want = files(under: straight), got = files(under: killed)
        #expect(want.count >= 12 + 12 + 3 && got.keys.sorted() == want.keys.sorted(),
                "files differ: \(Set(got.keys).symmetricDifference(want.keys).sorted().prefix(5))")
        #expect(want.allSatisfy { got[$0.key] == $0.value }, "a file differs from the uninterrupted run's")
    }

    /// Shards 0/2 and 1/2, merged, equal the unsharded run; `prism classifier train` reads the result as it is.
    @Test func shardsMergeToTheUnshardedRunAndTheManifestTrainsAClassifier() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let data = try phantom(scratch, count: 6)
        let whole = scratch.url("whole"), merged = scratch.url("merged")
        #expect(try Child(["counterfactuals"] + arguments(data, whole)).finishes(within: 300))
        for k in 0..<2 {
            #expect(try Child(["counterfactuals"] + arguments(data, scratch.url("s\(k)"), ["--shard", "\(k)/2"])).finishes(within: 300))
        }
        #expect(try Child(["counterfactuals", "merge", scratch.path("s0"), scratch.path("s1"), "--output", merged.path])
            .finishes(within: 60))
        let want = files(under: whole), got = files(under: merged)
        #expect(want.count > 6 && got.keys.sorted() == want.keys.sorted())
        #expect(want.allSatisfy { got[$0.key] == $0.value }, "a file differs from the unsharded run's")

        // The phantom's seed 5 has support devices on its first two cases: the counterfactuals on the other four. A
        // split of our own puts both classes into training (the patients are the cases: the paths keep them).
        let split = try scratch.write("patient_id,split\n000000,train\n000001,validation\n000002,train\n000003,train\n"
                                      + "000004,train\n000005,test\n", to: "split.csv")
        try ClassifierTrainCommand.parse([
            "--data", merged.appendingPathComponent("manifest.csv").path, "--images", merged.path,
            "--labels", "Support Devices", "--arch", "resnet18", "--resolution", "32", "--batch", "2", "--steps", "2",
            "--device", "cpu", "--split-file", split, "--output", scratch.path("clf"),
        ]).run()
        #expect(scratch.exists("clf/best/config.json"))
    }
}
