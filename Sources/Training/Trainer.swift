import Core
import Foundation
import Imaging
import NN
import Torch

/// What a training loop needs from a model: its trainable parameters, the loss of a micro-batch, and how to
/// write and read its weights in the layout it is published in (a diffusers folder).
public protocol TrainingTask: AnyObject {
    associatedtype Sample: Sendable

    /// The parameters the optimizer updates, in a fixed order (the optimizer state is saved by position).
    var parameters: [Tensor] { get }
    /// The mean loss of one micro-batch. Randomness (noise, timesteps, caption dropout) comes from `generator`,
    /// whose state checkpoints save, so that a resumed run draws the same numbers.
    func loss(_ batch: [Sample], generator: Generator) -> Tensor
    /// Writes the current weights into `folder` in the published layout.
    func saveModel(to folder: URL) throws
    /// Reads weights that ``saveModel(to:)`` wrote.
    func loadModel(from folder: URL) throws
}

public struct TrainingSettings: Sendable {
    public var batchSize = 8
    public var gradientAccumulation = 1
    public var learningRate = 1e-5
    public var schedule = LearningRateSchedule.Shape.constant
    public var warmupSteps = 0
    /// Optimizer steps to take in all.
    public var totalSteps = 1000
    public var maxGradNorm = 1.0
    public var weightDecay = 1e-2
    public var adamBetas = (0.9, 0.999)
    public var adamEpsilon = 1e-8
    /// EMA decay of the weights (diffusers' EMAModel), nil for none.
    public var emaDecay: Double?
    public var checkpointEvery = 500
    /// Checkpoints kept (the newest); nil keeps all.
    public var keepCheckpoints: Int? = 3
    public var seed: UInt64 = 0
    public var loaderThreads = 2
    /// Mixed precision: the loss computed under autocast to this type (weights and optimizer stay fp32), on `device`.
    public var autocast: DType?
    public var device = Device.cpu

    public init() {}

    /// The settings a resumed run must share with the run it continues.
    public var identity: [String: String] {
        ["batch_size": "\(batchSize)", "gradient_accumulation": "\(gradientAccumulation)",
         "learning_rate": "\(learningRate)", "schedule": schedule.rawValue, "warmup_steps": "\(warmupSteps)",
         "max_grad_norm": "\(maxGradNorm)", "weight_decay": "\(weightDecay)", "ema_decay": emaDecay.map { "\($0)" } ?? "none",
         "seed": "\(seed)"]
    }
}

/// One optimizer step's numbers, as the progress display and the CSV log show them.
public struct TrainingStepReport: Sendable {
    public var step: Int
    public var totalSteps: Int
    public var epoch: Int
    public var loss: Double
    public var learningRate: Double
    public var gradientNorm: Double
    public var samplesPerSecond: Double
    public var elapsed: Double
}

/// The training loop: gradient accumulation, clipping, AdamW, warmup schedule, EMA, atomic checkpoints
/// and exact resumption, a CSV log. Model-specific work lives in the ``TrainingTask``.
public final class Trainer<Task: TrainingTask> {
    public let task: Task
    public let settings: TrainingSettings
    public let output: URL
    public let checkpoints: CheckpointFolder
    let dataCount: Int
    let load: @Sendable (SampleVisit) throws -> Task.Sample

    public let optimizer: AdamW
    public let ema: EMA?
    public let generator: Generator
    public private(set) var state: TrainingState

    public var logURL: URL { RunFolder(output).logURL }

    public convenience init(task: Task, settings: TrainingSettings, output: URL, dataCount: Int,
                            load: @escaping @Sendable (Int) throws -> Task.Sample) {
        self.init(task: task, settings: settings, output: output, dataCount: dataCount, visits: VisitLoader { try load($0.index) })
    }

    /// `visits` receives the epoch of each draw as well, so that random augmentation can be a function of
    /// (seed, sample, epoch) and a resumed run draws what an uninterrupted one would.
    public init(task: Task, settings: TrainingSettings, output: URL, dataCount: Int, visits: VisitLoader<Task.Sample>) {
        let load = visits.load
        self.task = task
        self.settings = settings
        self.output = output
        self.dataCount = dataCount
        self.load = load
        checkpoints = RunFolder(output).checkpoints
        optimizer = AdamW(parameters: task.parameters, learningRate: settings.learningRate, betas: settings.adamBetas,
                          eps: settings.adamEpsilon, weightDecay: settings.weightDecay)
        ema = settings.emaDecay.map { EMA(parameters: task.parameters, decay: $0) }
        generator = Generator(seed: settings.seed)
        state = TrainingState(step: 0, epoch: 0, position: 0, seed: settings.seed, settings: settings.identity)
    }

    /// Continues from the newest complete checkpoint. Returns its step, or nil when there is none.
    @discardableResult
    public func resume() throws -> Int? {
        guard let folder = checkpoints.latest else { return nil }
        let saved = try TrainingState.read(from: folder)
        if let changes = RunIdentity.changes(from: saved.settings, to: settings.identity) {
            throw CheckpointError(folder.path, "was made with other settings (\(changes)); "
                                  + "resume with the same settings, or start in a new output folder")
        }
        try task.loadModel(from: folder.appendingPathComponent("model"))
        try optimizer.loadStateDict(Safetensors.load(folder.appendingPathComponent("optimizer.safetensors")))
        if let ema {
            let shadow = try Safetensors.load(folder.appendingPathComponent("ema.safetensors"))
            try ema.loadStateDict(shadow)
        }
        generator.state = try Safetensors.load(folder.appendingPathComponent("rng.safetensors"))["generator"]
            .orThrow(CheckpointError(folder.path, "rng.safetensors has no generator state"))
        state = saved
        try trimLog(after: saved.step)
        return saved.step
    }

    /// Writes a checkpoint of the current state.
    public func saveCheckpoint() throws {
        try checkpoints.save(step: state.step, keep: settings.keepCheckpoints) { folder in
            try task.saveModel(to: folder.appendingPathComponent("model"))
            try Safetensors.save(optimizer.stateDict(), to: folder.appendingPathComponent("optimizer.safetensors"))
            if let ema { try Safetensors.save(ema.stateDict(), to: folder.appendingPathComponent("ema.safetensors")) }
            try Safetensors.save([(name: "generator", tensor: generator.state)], to: folder.appendingPathComponent("rng.safetensors"))
            try state.write(to: folder)
        }
    }

    /// Trains until `settings.totalSteps` optimizer steps are done, reporting each step.
    /// `afterStep` runs after each step (samples, extra checkpoints); it may throw to stop.
    public func run(report: (TrainingStepReport) -> Void = { _ in },
                    afterStep: (Int) throws -> Void = { _ in }) throws {
        let loader = BatchLoader(order: SampleOrder(count: dataCount, seed: settings.seed), batchSize: settings.batchSize,
                                 start: (state.epoch, state.position), workers: settings.loaderThreads, visits: VisitLoader(load))
        defer { loader.stop() }
        let schedule = LearningRateSchedule(settings.schedule, warmupSteps: settings.warmupSteps, totalSteps: settings.totalSteps)
        let started = Date()
        let startStep = state.step
        while state.step < settings.totalSteps {
            optimizer.learningRate = settings.learningRate * schedule.multiplier(at: state.step)
            var lossSum = 0.0
            for _ in 0..<settings.gradientAccumulation {
                let (batch, after) = try loader.next()
                let loss = microBatchLoss(batch)
                (loss / Double(settings.gradientAccumulation)).backward()
                lossSum += loss.item()
                (state.epoch, state.position) = (after.epoch, after.position)
            }
            let norm = clipGradNorm(task.parameters, maxNorm: settings.maxGradNorm)
            optimizer.step()
            optimizer.zeroGrad()
            ema?.update(task.parameters)
            state.step += 1

            let elapsed = Date().timeIntervalSince(started)
            let samples = Double((state.step - startStep) * settings.batchSize * settings.gradientAccumulation)
            let r = TrainingStepReport(step: state.step, totalSteps: settings.totalSteps, epoch: state.epoch,
                                       loss: lossSum / Double(settings.gradientAccumulation),
                                       learningRate: optimizer.learningRate, gradientNorm: norm,
                                       samplesPerSecond: samples / max(elapsed, 1e-9), elapsed: elapsed)
            try appendLog(r)
            report(r)
            if state.step % settings.checkpointEvery == 0 || state.step == settings.totalSteps { try saveCheckpoint() }
            try afterStep(state.step)
        }
    }

    /// Copies the EMA weights into the model (when there is an EMA), as a published model carries them.
    public func applyEMA() { ema?.copy(to: task.parameters) }

    /// Runs `body` with the weights a published model carries (the EMA's when there is an EMA, the trained ones
    /// otherwise), then puts the trained ones back.
    public func withPublishedWeights<R>(_ body: () throws -> R) rethrows -> R {
        guard ema != nil else { return try body() }
        let trained = withNoGrad { task.parameters.map { $0.detach().clone() } }
        applyEMA()
        defer { withNoGrad { for (p, t) in zip(task.parameters, trained) { p.copyFrom(t) } } }
        return try body()
    }

    /// The loss of one micro-batch, under autocast when the settings ask for mixed precision.
    func microBatchLoss(_ batch: [Task.Sample]) -> Tensor {
        guard let autocast = settings.autocast else { return task.loss(batch, generator: generator) }
        return withAutocast(autocast, device: settings.device) { task.loss(batch, generator: generator) }.to(.float32)
    }

    static var logHeader: String { "step,epoch,loss,learning_rate,grad_norm,samples_per_second,elapsed_seconds" }

    func appendLog(_ r: TrainingStepReport) throws {
        let line = String(format: "%d,%d,%.6f,%.6e,%.6f,%.3f,%.1f\n", r.step, r.epoch, r.loss, r.learningRate,
                          r.gradientNorm, r.samplesPerSecond, r.elapsed)
        let fm = FileManager.default
        try fm.createDirectory(at: output, withIntermediateDirectories: true)
        if !fm.fileExists(atPath: logURL.path) { try Data((Self.logHeader + "\n").utf8).write(to: logURL) }
        let handle = try FileHandle(forWritingTo: logURL)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(line.utf8))
    }

    /// On resume, drops log rows of steps after the checkpoint (they will be trained again).
    func trimLog(after step: Int) throws {
        guard let text = try? String(contentsOf: logURL, encoding: .utf8) else { return }
        let kept = text.split(separator: "\n").filter { line in
            guard let s = Int(line.prefix { $0 != "," }) else { return true }
            return s <= step
        }
        try writeAtomically(Data((kept.joined(separator: "\n") + "\n").utf8), to: logURL)
    }

    /// The log's (step, loss) pairs, for plotting.
    public func lossHistory() -> [(step: Int, loss: Double)] {
        guard let text = try? String(contentsOf: logURL, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").dropFirst().compactMap { line in
            let f = line.split(separator: ",")
            guard f.count > 2, let s = Int(f[0]), let l = Double(f[2]) else { return nil }
            return (s, l)
        }
    }
}

extension Optional {
    func orThrow(_ error: @autoclosure () -> Error) throws -> Wrapped {
        guard let v = self else { throw error() }
        return v
    }
}

/// A ``Trainer`` seen without its task type, for a run that picks its task at run time (a Stable Diffusion run
/// trains a UNet or a VAE).
public protocol AnyTrainer: AnyObject {
    var step: Int { get }
    var totalSteps: Int { get }
    func resume() throws -> Int?
    func run(report: (TrainingStepReport) -> Void, afterStep: (Int) throws -> Void) throws
    func saveCheckpoint() throws
    func lossHistory() -> [(step: Int, loss: Double)]
    func withPublishedWeights<R>(_ body: () throws -> R) rethrows -> R
}

extension Trainer: AnyTrainer {
    public var step: Int { state.step }
    public var totalSteps: Int { settings.totalSteps }
}
