import Foundation
import NN
import Testing
import Torch
@testable import Training

/// y = W x + b + noise: small enough to train in milliseconds, random enough that the generator state matters.
final class RegressionTask: TrainingTask {
    struct Sample: Sendable { let x: [Float], y: [Float] }
    let store = ParameterStore(seed: 3)
    let layer: Linear

    init() { layer = Linear(store.root / "layer", 4, 2) }

    var parameters: [Tensor] { store.trainableParameters }

    func loss(_ batch: [Sample], generator: Generator) -> Tensor {
        let x = Tensor(batch.flatMap(\.x), shape: [batch.count, 4])
        let y = Tensor(batch.flatMap(\.y), shape: [batch.count, 2])
        let noisy = x + Tensor.randn([batch.count, 4], generator: generator) * 0.01
        return F.mseLoss(layer(noisy), y)
    }

    func saveModel(to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try store.save(to: folder.appendingPathComponent("model.safetensors"))
    }

    func loadModel(from folder: URL) throws { try store.load(contentsOf: folder.appendingPathComponent("model.safetensors")) }

    static let data: [Sample] = (0..<40).map { i in
        let x = (0..<4).map { Float(sin(Double(i * 4 + $0))) }
        return Sample(x: x, y: [x[0] * 2 - x[1] + 0.5, x[2] * x[3] > 0 ? 1 : -1])
    }
}

struct Killed: Error {}

@Suite struct TrainerTests {
    func settings(steps: Int) -> TrainingSettings {
        var s = TrainingSettings()
        s.batchSize = 4
        s.gradientAccumulation = 2
        s.learningRate = 0.05
        s.warmupSteps = 3
        s.totalSteps = steps
        s.emaDecay = 0.9
        s.checkpointEvery = 4
        s.seed = 11
        return s
    }

    /// A fresh path under the temporary directory; each caller removes it.
    func output() -> URL { FileManager.default.temporaryDirectory.appendingPathComponent("prism-train-\(UUID().uuidString)") }

    func trainer(_ task: RegressionTask, _ settings: TrainingSettings, _ out: URL) -> Trainer<RegressionTask> {
        Trainer(task: task, settings: settings, output: out, dataCount: RegressionTask.data.count) { RegressionTask.data[$0] }
    }

    @Test func lossFalls() throws {
        let out = output()
        defer { try? FileManager.default.removeItem(at: out) }
        let t = trainer(RegressionTask(), settings(steps: 30), out)
        var losses: [Double] = []
        try t.run(report: { losses.append($0.loss) })
        #expect(losses.count == 30)
        let early: Double = losses.prefix(5).reduce(0, +), late: Double = losses.suffix(5).reduce(0, +)
        #expect(late < 0.5 * early)
        let logged: [Double] = t.lossHistory().map(\.loss)
        let rounded: [Double] = losses.map { Double(String(format: "%.6f", $0))! }
        #expect(logged == rounded)
    }

    @Test func killedAndResumedEqualsUninterrupted() throws {
        let straight = RegressionTask()
        let straightOut = output(), out = output()
        defer { for u in [straightOut, out] { try? FileManager.default.removeItem(at: u) } }
        try trainer(straight, settings(steps: 10), straightOut).run()

        let first = RegressionTask()
        #expect(throws: Killed.self) {
            try trainer(first, settings(steps: 10), out).run(afterStep: { if $0 == 6 { throw Killed() } })
        }
        #expect(CheckpointFolder(root: out.appendingPathComponent("checkpoints")).steps() == [4])

        let resumed = RegressionTask()
        let t = trainer(resumed, settings(steps: 10), out)
        #expect(try t.resume() == 4)
        try t.run()
        for (a, b) in zip(straight.parameters, resumed.parameters) {
            #expect(a.floats() == b.floats(), "weights after 10 steps differ")
        }
        #expect(t.lossHistory().map(\.step) == Array(1...10), "the log has each step once")
    }

    @Test func resumeRefusesOtherSettings() throws {
        let out = output()
        defer { try? FileManager.default.removeItem(at: out) }
        try trainer(RegressionTask(), settings(steps: 4), out).run()
        var other = settings(steps: 8)
        other.learningRate = 0.1
        let error = #expect(throws: CheckpointError.self) { try trainer(RegressionTask(), other, out).resume() }
        #expect(error?.description.contains("learning_rate") == true)
    }

    @Test func partialCheckpointsAreNeverSeen() throws {
        let root = output()
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = CheckpointFolder(root: root)
        try folder.save(step: 5) { try TrainingState(step: 5, epoch: 0, position: 0, seed: 0, settings: [:]).write(to: $0) }
        // A run killed while writing (pid 9999990: above any pid_max, so not running) leaves a hidden partial
        // folder and no complete checkpoint-10.
        try FileManager.default.createDirectory(at: root.appendingPathComponent(".checkpoint-000010.partial-9999990"),
                                                withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("checkpoint-000012"), withIntermediateDirectories: true)
        #expect(folder.steps() == [5])
        #expect(throws: CheckpointError.self) { try folder.save(step: 6) { _ in } }
        #expect(folder.steps() == [5])
        folder.removeLeftovers()
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent(".checkpoint-000010.partial-9999990").path))
    }

    @Test func loaderOrderIsAFunctionOfSeedAndPosition() throws {
        let order = SampleOrder(count: 10, seed: 4)
        #expect(order.permutation(epoch: 0).sorted() == Array(0..<10))
        #expect(order.permutation(epoch: 0) != order.permutation(epoch: 1))
        let all = BatchLoader(order: order, batchSize: 3, workers: 3) { $0 }
        var seen: [Int] = []
        for _ in 0..<8 { seen += try all.next().samples }
        let expected = order.permutation(epoch: 0) + order.permutation(epoch: 1) + order.permutation(epoch: 2)
        #expect(seen == Array(expected.prefix(24)))

        let resumed = BatchLoader(order: order, batchSize: 3, start: (1, 5), workers: 2) { $0 }
        let (batch, after) = try resumed.next()
        #expect(batch == Array(expected[15..<18]))
        #expect(after.epoch == 1 && after.position == 8)
    }
}
