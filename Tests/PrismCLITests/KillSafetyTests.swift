import Foundation
import Testing
import TestSupport
import Torch
import Training

/// The `prism` executable the test run was built with (beside the test bundle).
func prismExecutable() throws -> URL {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("prism"),
        Bundle.main.bundleURL.appendingPathComponent("prism"),
        Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("prism"),
    ]
    return try #require(candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) },
                        "no prism executable beside the tests: \(candidates.map(\.path))")
}

/// A child `prism` process: started, then waited for or killed.
final class Child {
    let process = Process()

    init(_ arguments: [String]) throws {
        process.executableURL = try prismExecutable()
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// Waits up to `seconds`; true when the process ended by itself (with status 0) in that time.
    func finishes(within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(2_000) }
        return !process.isRunning && process.terminationStatus == 0 && process.terminationReason == .exit
    }

    func killHard() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// A small deterministic generator for the kill times (the seed is printed, so a failing run can be repeated).
struct KillClock {
    var state: UInt64
    mutating func next(upTo limit: Double) -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53) * limit
    }
}

/// Every file under `root`, by relative path (hidden temporary folders included, so leftovers show).
func files(under root: URL) -> [String: Data] {
    var out: [String: Data] = [:]
    let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])
    while let url = enumerator?.nextObject() as? URL {
        guard (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true else { continue }
        out[String(url.path.dropFirst(root.path.count + 1))] = try? Data(contentsOf: url)
    }
    return out
}

/// SIGKILL at random moments, as a cluster's scheduler or an impatient user does: nothing written may be lost or
/// left half-written, and the work resumes to the very result of an uninterrupted run.
@Suite(.serialized, .tags(.slow)) struct KillSafetyTests {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("prism-kill-\(UUID().uuidString)")

    func phantomArguments(_ folder: URL) -> [String] {
        ["phantom", "generate", "--output", folder.path, "--count", "120", "--size", "32", "--seed", "3",
         "--counterfactuals", "support_devices=0"]
    }

    /// A phantom dataset killed while being written is completed by running the same command again, file for file
    /// equal to one written in a single run, with no temporary file left.
    @Test func phantomGenerationKilledAndRerun() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let straight = scratch.appendingPathComponent("straight"), killed = scratch.appendingPathComponent("killed")
        #expect(try Child(phantomArguments(straight)).finishes(within: 120))
        var clock = KillClock(state: UInt64(Date().timeIntervalSince1970))
        print("phantom kill test: clock seed \(clock.state)")
        for kill in 1...5 {
            let child = try Child(phantomArguments(killed))
            let delay = clock.next(upTo: 0.6)
            usleep(UInt32(delay * 1e6))
            child.killHard()
            print("phantom kill \(kill) after \(String(format: "%.3f", delay)) s: \(files(under: killed).count) files")
        }
        #expect(try Child(phantomArguments(killed)).finishes(within: 120))
        let want = files(under: straight), got = files(under: killed)
        #expect(want.count > 240 && got.keys.sorted() == want.keys.sorted(),
                "files differ: \(Set(got.keys).symmetricDifference(want.keys).sorted().prefix(5))")
        #expect(want.allSatisfy { got[$0.key] == $0.value }, "a file differs from the uninterrupted run's")
    }

    func trainArguments(_ data: URL, _ output: URL, resume: Bool) throws -> [String] {
        let smoke = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("configs/smoke")
        return ["train", "--config", smoke.path, "--train", "vae", "--data", data.appendingPathComponent("manifest.csv").path,
                "--images", data.path, "--resolution", "32", "--batch", "2", "--grad-accum", "1", "--steps", "60",
                "--warmup", "0", "--lr", "1e-3", "--checkpoint-every", "1", "--keep-checkpoints", "2", "--ema", "0.9",
                "--output", output.path] + (resume ? ["--resume"] : [])
    }

    /// Every checkpoint the folder shows is whole: its state parses and every weight file loads.
    func checkpointsReadable(_ run: URL) throws -> [Int] {
        let folder = CheckpointFolder(root: run.appendingPathComponent("checkpoints"))
        for step in folder.steps() {
            let url = folder.url(step: step)
            #expect(try TrainingState.read(from: url).step == step)
            for (name, _) in files(under: url) where name.hasSuffix(".safetensors") {
                _ = try Safetensors.load(url.appendingPathComponent(name))
            }
        }
        return folder.steps()
    }

    /// `prism train` killed at 20+ random moments (every step writes a checkpoint and refreshes the published
    /// model, so most kills land inside a write) and resumed each time ends with the weights of a run never killed.
    @Test func trainingKilledTwentyTimesEndsAsAnUninterruptedRun() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let data = scratch.appendingPathComponent("data")
        #expect(try Child(["phantom", "generate", "--output", data.path, "--count", "8", "--size", "32", "--seed", "1"])
            .finishes(within: 60))
        let straight = scratch.appendingPathComponent("straight"), killed = scratch.appendingPathComponent("killed")
        let start = Date()
        #expect(try Child(trainArguments(data, straight, resume: false)).finishes(within: 300))
        let runTime = Date().timeIntervalSince(start)

        var clock = KillClock(state: UInt64(Date().timeIntervalSince1970) ^ 0x5eed)
        print("training kill test: clock seed \(clock.state), uninterrupted run \(String(format: "%.2f", runTime)) s")
        // Kills land by progress, not by the clock (a loaded machine must not let the run finish first): two while the
        // process starts, then one 0–20 ms after the writing of each of checkpoints 2, 4, …, 40 begins, inside the
        // writing of that checkpoint or of the published model that follows it.
        let folder = CheckpointFolder(root: killed.appendingPathComponent("checkpoints"))
        var kills = 0, attempts = 0, finished = false, killsInsideWrites = 0
        var plan: [(afterStep: Int?, delay: Double)] = [(nil, clock.next(upTo: 0.4)), (nil, clock.next(upTo: 0.4))]
        plan += stride(from: 2, through: 40, by: 2).map { ($0, clock.next(upTo: 0.02)) }
        for (afterStep, delay) in plan {
            attempts += 1
            let child = try Child(trainArguments(data, killed, resume: attempts > 1))
            if let afterStep {
                // Until checkpoint `afterStep` is being written: its hidden partial folder exists.
                let partial = ".checkpoint-\(String(format: "%06d", afterStep)).partial-"
                func writing() -> Bool {
                    ((try? FileManager.default.contentsOfDirectory(atPath: folder.root.path)) ?? []).contains { $0.hasPrefix(partial) }
                }
                while child.process.isRunning && !writing() && (folder.steps().last ?? 0) < afterStep { usleep(200) }
            }
            usleep(UInt32(delay * 1e6))
            guard child.process.isRunning else { finished = child.finishes(within: 0); break }
            child.killHard()
            kills += 1
            // Half-written folders and files the kill left (what the next start cleans up): evidence it hit a write.
            let leftovers = files(under: killed).keys.filter { $0.split(separator: "/").contains { $0.hasPrefix(".") && $0 != ".lock" } }
            if !leftovers.isEmpty { killsInsideWrites += 1 }
            let steps = try checkpointsReadable(killed)
            print("training kill \(kills) \(afterStep.map { "writing checkpoint \($0) +" } ?? "at start +") "
                  + "\(String(format: "%.3f", delay)) s: checkpoints \(steps), \(leftovers.count) half-written files left")
        }
        if !finished {
            attempts += 1
            finished = try Child(trainArguments(data, killed, resume: true)).finishes(within: 300)
        }
        #expect(finished && kills >= 20, "\(kills) kills in \(attempts) starts, finished: \(finished)")
        _ = try checkpointsReadable(killed)
        for component in ["vae/diffusion_pytorch_model.safetensors"] {
            let want = try Safetensors.load(straight.appendingPathComponent(component))
            let got = try Safetensors.load(killed.appendingPathComponent(component))
            #expect(got.keys.sorted() == want.keys.sorted())
            let differing = want.keys.filter { got[$0]?.floats() != want[$0]!.floats() }
            #expect(differing.isEmpty, "\(component): \(differing.count) tensors differ from the uninterrupted run's")
        }
        // `.lock` is the run's flock file (the kernel releases the lock with the process); nothing else hidden stays.
        let hidden = try FileManager.default.contentsOfDirectory(atPath: killed.path).filter { $0.hasPrefix(".") && $0 != ".lock" }
        #expect(hidden.isEmpty, "left behind: \(hidden)")
        print("training kill test: \(kills) kills (\(killsInsideWrites) inside a write), \(attempts) starts, "
              + "final weights equal to the uninterrupted run's")
    }
}
