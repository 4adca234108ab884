import Foundation
import Torch

/// AdamW with decoupled weight decay, step for step the single-tensor path of `torch.optim.AdamW`
/// (Loshchilov & Hutter 2019; PyTorch's `_single_tensor_adam` with `decoupled_weight_decay=True`).
public final class AdamW {
    public let parameters: [Tensor]
    public var learningRate: Double
    public let beta1: Double, beta2: Double, eps: Double, weightDecay: Double

    /// Per parameter: steps taken, first and second moments (created on the first step with a gradient).
    public private(set) var steps: [Int]
    public private(set) var expAvg: [Tensor?]
    public private(set) var expAvgSq: [Tensor?]

    public init(
        parameters: [Tensor], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8,
        weightDecay: Double = 1e-2
    ) {
        self.parameters = parameters
        self.learningRate = learningRate
        beta1 = betas.0
        beta2 = betas.1
        self.eps = eps
        self.weightDecay = weightDecay
        steps = Array(repeating: 0, count: parameters.count)
        expAvg = Array(repeating: nil, count: parameters.count)
        expAvgSq = Array(repeating: nil, count: parameters.count)
    }

    /// Updates every parameter that has a gradient.
    public func step() {
        withNoGrad {
            for (i, param) in parameters.enumerated() {
                guard let grad = param.grad else { continue }
                let m = expAvg[i] ?? param.detach().zerosLike()
                let v = expAvgSq[i] ?? param.detach().zerosLike()
                expAvg[i] = m
                expAvgSq[i] = v
                steps[i] += 1
                let step = Double(steps[i])

                param.mulInPlace(1 - learningRate * weightDecay)
                m.lerpInPlace(grad, weight: 1 - beta1)
                v.mulInPlace(beta2)
                v.addcmulInPlace(grad, grad, value: 1 - beta2)
                let biasCorrection1 = 1 - Foundation.pow(beta1, step)
                let biasCorrection2 = 1 - Foundation.pow(beta2, step)
                let stepSize = learningRate / biasCorrection1
                let denom = v.sqrt() / biasCorrection2.squareRoot() + eps
                param.addcdivInPlace(m, denom, value: -stepSize)
            }
        }
    }

    public func zeroGrad() { for p in parameters { p.zeroGrad() } }

    /// Optimizer state as named tensors, for checkpoints (`state.<i>.exp_avg`, `.exp_avg_sq`, `.step`).
    public func stateDict() -> [(name: String, tensor: Tensor)] {
        var out: [(String, Tensor)] = []
        for i in parameters.indices {
            guard let m = expAvg[i], let v = expAvgSq[i] else { continue }
            out.append(("state.\(i).exp_avg", m))
            out.append(("state.\(i).exp_avg_sq", v))
            out.append(("state.\(i).step", Tensor(ints: [steps[i]])))
        }
        return out
    }

    /// Restores what ``stateDict()`` saved; parameters absent from it start fresh.
    public func loadStateDict(_ tensors: [String: Tensor]) throws {
        for i in parameters.indices {
            guard let m = tensors["state.\(i).exp_avg"], let v = tensors["state.\(i).exp_avg_sq"],
                  let s = tensors["state.\(i).step"] else { continue }
            guard m.shape == parameters[i].shape, v.shape == parameters[i].shape else {
                throw StateDictError(source: "optimizer state", missing: [], unexpected: [],
                                     mismatched: ["state.\(i): \(m.shape) vs parameter \(parameters[i].shape)"])
            }
            let device = parameters[i].device
            expAvg[i] = m.to(parameters[i].dtype, device).clone()
            expAvgSq[i] = v.to(parameters[i].dtype, device).clone()
            steps[i] = s.itemInt()
        }
    }
}

/// Scales gradients so that their global 2-norm is at most `maxNorm`, as `torch.nn.utils.clip_grad_norm_`;
/// returns the norm before clipping.
@discardableResult
public func clipGradNorm(_ parameters: [Tensor], maxNorm: Double) -> Double {
    withNoGrad {
        let grads = parameters.compactMap(\.grad)
        guard !grads.isEmpty else { return 0 }
        let total = Tensor.stack(grads.map { $0.norm() }).norm()
        let coefficient = (maxNorm / (total + 1e-6)).clamp(max: 1)
        for g in grads { g.mulInPlace(coefficient.to(g.dtype, g.device)) }
        return total.item()
    }
}

/// An exponential moving average of parameters, as diffusers' `EMAModel`
/// (`decay_t = min(decay, (1 + t) / (10 + t))`, or the warm-up form `1 - (1 + t/γ)^-power`).
public final class EMA {
    public let shadow: [Tensor]
    public let decay: Double, minDecay: Double, updateAfterStep: Int
    public let useWarmup: Bool, invGamma: Double, power: Double
    public private(set) var optimizationStep = 0

    public init(
        parameters: [Tensor], decay: Double = 0.9999, minDecay: Double = 0, updateAfterStep: Int = 0,
        useWarmup: Bool = false, invGamma: Double = 1, power: Double = 2.0 / 3.0
    ) {
        shadow = withNoGrad { parameters.map { $0.detach().clone() } }
        self.decay = decay
        self.minDecay = minDecay
        self.updateAfterStep = updateAfterStep
        self.useWarmup = useWarmup
        self.invGamma = invGamma
        self.power = power
    }

    /// The decay used at a given optimisation step.
    public func decay(at optimizationStep: Int) -> Double {
        let step = Swift.max(0, optimizationStep - updateAfterStep - 1)
        if step <= 0 { return 0 }
        let t = Double(step)
        let current = useWarmup ? 1 - Foundation.pow(1 + t / invGamma, -power) : (1 + t) / (10 + t)
        return Swift.max(Swift.min(current, decay), minDecay)
    }

    /// Moves the average towards `parameters` (trainable ones; frozen ones are copied).
    public func update(_ parameters: [Tensor]) {
        optimizationStep += 1
        let oneMinusDecay = 1 - decay(at: optimizationStep)
        withNoGrad {
            for (s, p) in zip(shadow, parameters) {
                if p.requiresGrad {
                    s.addInPlace((s - p) * oneMinusDecay, alpha: -1)
                } else {
                    s.copyFrom(p)
                }
            }
        }
    }

    /// Restores the counter from a checkpoint.
    public func setOptimizationStep(_ step: Int) { optimizationStep = step }

    /// Writes the averaged values into `parameters` (for sampling or saving).
    public func copy(to parameters: [Tensor]) { withNoGrad { for (s, p) in zip(shadow, parameters) { p.copyFrom(s) } } }

    /// The averages and the step counter as named tensors, for checkpoints (`shadow.<i>`, `optimization_step`).
    public func stateDict() -> [(name: String, tensor: Tensor)] {
        shadow.enumerated().map { ("shadow.\($0.offset)", $0.element) } + [("optimization_step", Tensor(ints: [optimizationStep]))]
    }

    /// Restores what ``stateDict()`` saved; every average must be present with its shape.
    public func loadStateDict(_ tensors: [String: Tensor]) throws {
        var missing: [String] = [], mismatched: [String] = []
        for (i, s) in shadow.enumerated() {
            guard let t = tensors["shadow.\(i)"] else { missing.append("shadow.\(i)"); continue }
            if t.shape != s.shape { mismatched.append("shadow.\(i): \(t.shape) vs \(s.shape)") }
        }
        guard let step = tensors["optimization_step"], missing.isEmpty, mismatched.isEmpty else {
            throw StateDictError(source: "EMA state", missing: missing + (tensors["optimization_step"] == nil ? ["optimization_step"] : []),
                                 unexpected: [], mismatched: mismatched)
        }
        withNoGrad { for (i, s) in shadow.enumerated() { s.copyFrom(tensors["shadow.\(i)"]!.to(s.dtype, s.device)) } }
        optimizationStep = step.itemInt()
    }
}

/// A learning-rate multiplier per step, as diffusers' `get_scheduler` (linear warm-up, then the shape).
public struct LearningRateSchedule: Sendable {
    public enum Shape: String, Sendable, CaseIterable { case constant, linear, cosine }
    public var shape: Shape
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(_ shape: Shape = .constant, warmupSteps: Int = 0, totalSteps: Int = 1) {
        self.shape = shape
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    /// The factor applied to the base learning rate after `step` optimizer steps.
    public func multiplier(at step: Int) -> Double {
        if step < warmupSteps { return Double(step) / Double(Swift.max(1, warmupSteps)) }
        switch shape {
        case .constant:
            return 1
        case .linear:
            return Swift.max(0, Double(totalSteps - step) / Double(Swift.max(1, totalSteps - warmupSteps)))
        case .cosine:
            let progress = Double(step - warmupSteps) / Double(Swift.max(1, totalSteps - warmupSteps))
            return Swift.max(0, 0.5 * (1 + Foundation.cos(Double.pi * 0.5 * 2 * progress)))
        }
    }
}
