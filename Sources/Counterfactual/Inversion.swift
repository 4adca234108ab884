import Diffusion
import Foundation
import NN
import Torch

/// How a real image is turned into the starting point of an edit.
public enum InversionMethod: String, Sendable, CaseIterable, Codable {
    /// DDIM inversion alone (a guidance-1 trajectory); guided sampling drifts away from it.
    case ddim
    /// Mokady et al. 2023: per-step unconditional embeddings optimised so guided sampling retraces the pivot.
    case nullText = "null-text"
    /// Ju et al. 2024 (PnP Inversion): the source branch is put back on the pivot at every step; no optimisation.
    case direct
}

/// The noise prediction ε̂(x_t, t, context) of a batch; it must keep autograd intact for null-text inversion.
public typealias NoisePredictor = (_ latents: Tensor, _ timestep: Int, _ context: Tensor) -> Tensor

/// The deterministic DDIM step and its inverse, as prompt-to-prompt's `prev_step` and `next_step`
/// (Song et al. 2021, eq. 12 with η = 0), with the model output read as ε, or converted from v.
public struct DDIMStepper: Sendable {
    public let alphasCumprod: [Double]
    public let finalAlphaCumprod: Double
    /// T / n: the distance between two inference timesteps.
    public let stride: Int
    public let prediction: PredictionType
    /// The inference timesteps, descending.
    public let timesteps: [Int]

    public init(scheduler: DDIMScheduler, steps: Int) throws {
        try scheduler.setTimesteps(steps)
        alphasCumprod = scheduler.alphasCumprod
        finalAlphaCumprod = scheduler.finalAlphaCumprod
        stride = scheduler.configuration.numTrainTimesteps / steps
        prediction = scheduler.configuration.predictionType
        timesteps = scheduler.timesteps
    }

    func alpha(_ t: Int) -> Double { t >= 0 ? alphasCumprod[min(t, alphasCumprod.count - 1)] : finalAlphaCumprod }

    /// x_t → x_{t−stride}.
    public func previous(_ output: Tensor, timestep t: Int, sample: Tensor) -> Tensor {
        move(output, sample, from: alpha(t), to: alpha(t - stride))
    }

    /// x_{t−stride} → x_t: the inverse step, with the model evaluated at t, from the timestep diffusers'
    /// `DDIMInverseScheduler` starts it from (at most num_train_timesteps − 1).
    public func next(_ output: Tensor, timestep t: Int, sample: Tensor) -> Tensor {
        move(output, sample, from: alpha(min(t - stride, alphasCumprod.count - 1)), to: alpha(t))
    }

    /// The DDIM update from ᾱ `a` to ᾱ `b`, with x̂₀ recomputed from ε̂ as prompt-to-prompt does (for v and sample
    /// predictions too, the output is first read as ε).
    func move(_ output: Tensor, _ sample: Tensor, from a: Double, to b: Double) -> Tensor {
        let alpha = a.squareRoot(), sigma = (1 - a).squareRoot()
        let eps = prediction.epsilon(modelOutput: output, sample: sample, alpha: alpha, sigma: sigma)
        let x0 = PredictionType.epsilon.originalSample(modelOutput: eps, sample: sample, alpha: alpha, sigma: sigma)
        return ddimUpdate(predOriginal: x0, epsilon: eps, alphaNext: b)
    }
}

/// What inverting one image gives: everything an edit needs to start from it.
public struct InversionResult: @unchecked Sendable {
    public let method: InversionMethod
    /// The DDIM trajectory z₀ … z_T (index i is after i inverse steps). Kept whole for direct inversion; the
    /// other methods need z₀ (reconstruction) and z_T only, but keeping it costs little at these sizes.
    public let trajectory: [Tensor]
    /// Null-text: the optimised unconditional embedding of each sampling step, in sampling order.
    public let nullEmbeddings: [Tensor]?
    /// Null-text: the last loss of each step's optimisation (for reporting).
    public let losses: [Double]

    public init(method: InversionMethod, trajectory: [Tensor], nullEmbeddings: [Tensor]? = nil, losses: [Double] = []) {
        self.method = method
        self.trajectory = trajectory
        self.nullEmbeddings = nullEmbeddings
        self.losses = losses
    }

    public var zT: Tensor { trajectory.last! }
    public var z0: Tensor { trajectory.first! }
}

public enum Inverter {
    /// DDIM inversion with the conditional prediction alone (guidance 1), as prompt-to-prompt's `ddim_loop`.
    public static func ddimTrajectory(z0: Tensor, condition: Tensor, stepper: DDIMStepper,
                                      predict: NoisePredictor, progress: (Int) -> Void = { _ in }) -> [Tensor] {
        withNoGrad {
            var latents = [z0]
            var z = z0
            for i in 0..<stepper.timesteps.count {
                let t = stepper.timesteps[stepper.timesteps.count - 1 - i]
                z = stepper.next(predict(z, t, condition), timestep: t, sample: z)
                latents.append(z)
                progress(i + 1)
            }
            return latents
        }
    }

    /// Mokady et al.'s null-text optimisation, step for step as prompt-to-prompt's `null_optimization`: for each
    /// sampling step i, Adam (lr 1e-2·(1 − i/100)) on the unconditional embedding for up to `innerSteps`
    /// iterations, stopping when the MSE to the pivot falls below `epsilon + i·2e-5`; then one guided step with it.
    public static func nullText(trajectory: [Tensor], condition: Tensor, unconditional: Tensor, stepper: DDIMStepper,
                                guidance: Double, innerSteps: Int = 10, epsilon: Double = 1e-5,
                                predict: NoisePredictor, progress: (Int, Double) -> Void = { _, _ in })
        -> (embeddings: [Tensor], losses: [Double])
    {
        let n = stepper.timesteps.count
        var uncond = unconditional.detach()
        var embeddings: [Tensor] = [], losses: [Double] = []
        var latent = trajectory[n]
        for i in 0..<n {
            uncond = uncond.detach().clone()
            uncond.requiresGrad = true
            let adam = AdamW(parameters: [uncond], learningRate: 1e-2 * (1 - Double(i) / 100), weightDecay: 0)
            let target = trajectory[n - i - 1]
            let t = stepper.timesteps[i]
            let condPrediction = withNoGrad { predict(latent, t, condition) }
            var loss = 0.0
            for _ in 0..<innerSteps {
                let uncondPrediction = predict(latent, t, uncond)
                let guided = uncondPrediction + (condPrediction - uncondPrediction) * guidance
                let previous = stepper.previous(guided, timestep: t, sample: latent)
                let mse = F.mseLoss(previous, target)
                adam.zeroGrad()
                mse.backward()
                adam.step()
                loss = mse.item()
                if loss < epsilon + Double(i) * 2e-5 { break }
            }
            let fixed = uncond.detach()
            embeddings.append(fixed)
            losses.append(loss)
            latent = withNoGrad {
                let u = predict(latent, t, fixed)
                return stepper.previous(u + (condPrediction - u) * guidance, timestep: t, sample: latent)
            }
            progress(i + 1, loss)
        }
        return (embeddings, losses)
    }
}
