import DiffusersConfig
import Torch

/// The result of one denoising step.
public struct SchedulerStepOutput {
    /// x_{t−1}, the sample to feed the model at the next timestep.
    public let prevSample: Tensor
    /// The model's estimate of x₀ at this step (DPM-Solver: its converted data prediction).
    public let predOriginalSample: Tensor

    public init(prevSample: Tensor, predOriginalSample: Tensor) {
        self.prevSample = prevSample
        self.predOriginalSample = predOriginalSample
    }
}

/// A noise scheduler in the shape of Apple's ml-stable-diffusion, with diffusers' formulas.
///
/// Use: `setTimesteps(n)`, start from noise × `initNoiseSigma`, and for each `t` in `timesteps` run the model on
/// `scaleModelInput(sample, timestep: t)` and feed its output to `step`. Multistep schedulers keep their history,
/// so one scheduler runs one sampling loop at a time; `setTimesteps` starts a new one.
public protocol Scheduler: AnyObject {
    /// The inference timesteps in the order they are visited (empty until `setTimesteps`).
    var timesteps: [Int] { get }
    /// The standard deviation of the initial noise.
    var initNoiseSigma: Double { get }
    /// ᾱ_t for every training timestep t.
    var alphasCumprod: [Double] { get }
    /// Chooses `count` inference timesteps and resets any multistep state. Throws when `count` is not in
    /// 1…num_train_timesteps.
    func setTimesteps(_ count: Int) throws
    /// The model input at `timestep` (the identity for the schedulers here, as in diffusers).
    func scaleModelInput(_ sample: Tensor, timestep: Int) -> Tensor
    /// One step from `sample` at `timestep`, given the model's output there. Stochastic schedulers draw their
    /// noise from `generator` on the CPU (as diffusers' `randn_tensor`), so a seeded run repeats diffusers'.
    func step(modelOutput: Tensor, timestep: Int, sample: Tensor, generator: Generator?) -> SchedulerStepOutput
    /// The forward process at the given timesteps (one per batch element, or one for all).
    func addNoise(original: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor
}

extension Scheduler {
    public func step(modelOutput: Tensor, timestep: Int, sample: Tensor) -> SchedulerStepOutput {
        step(modelOutput: modelOutput, timestep: timestep, sample: sample, generator: nil)
    }
}

/// A scheduler whose ᾱ and forward process are those of its training ``NoiseSchedule`` as it is (DDIM, its
/// inverse and DDPM; DPM-Solver++ adjusts ᾱ and noises at its inference σ).
public protocol NoiseScheduleBacked: Scheduler {
    var schedule: NoiseSchedule { get }
}

extension NoiseScheduleBacked {
    public var alphasCumprod: [Double] { schedule.alphasCumprod }

    public func addNoise(original: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        schedule.addNoise(original: original, noise: noise, timesteps: timesteps)
    }

    /// The v-prediction training target at `timesteps` (diffusers' `get_velocity`).
    public func velocity(sample: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        schedule.velocity(sample: sample, noise: noise, timesteps: timesteps)
    }
}

/// Builds a scheduler of the given kind from any Stable Diffusion scheduler config, as diffusers'
/// `SchedulerClass.from_config(config)`: fields the config has are used, the others take that class's defaults.
public func makeScheduler(config: SchedulerConfig, kind: SchedulerKind) throws -> any Scheduler {
    switch kind {
    case .ddim: return try DDIMScheduler(config: config)
    case .ddimInverse: return try DDIMInverseScheduler(config: config)
    case .ddpm: return try DDPMScheduler(config: config)
    case .dpmpp: return try DPMSolverMultistepScheduler(config: config)
    }
}

func checkStepCount(_ count: Int, numTrainTimesteps: Int) throws {
    guard count >= 1, count <= numTrainTimesteps else {
        throw SchedulerError("\(count) inference steps: choose between 1 and \(numTrainTimesteps), the number of "
            + "timesteps the model was trained with")
    }
}
