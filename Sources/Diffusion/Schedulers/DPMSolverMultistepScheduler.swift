import DiffusersConfig
import Foundation
import Torch

/// diffusers' `DPMSolverMultistepScheduler` with `algorithm_type = "dpmsolver++"`: the multistep DPM-Solver++
/// of Lu et al. 2022 ("DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic Models"), which
/// integrates the diffusion ODE in λ = log(α/σ) on data predictions x̂₀. Orders 1, 2 and 3; the previous data
/// predictions are kept in the scheduler between steps.
public final class DPMSolverMultistepScheduler: Scheduler {
    /// The second-order update rule (diffusers' `solver_type`).
    public enum SolverType: String, Sendable, CaseIterable {
        /// D₁ weighted ½ (Lu et al. 2022, algorithm 2).
        case midpoint
        /// D₁ weighted by the exact exponential integrator term.
        case heun
    }

    /// σ after the last step (diffusers' `final_sigmas_type`).
    public enum FinalSigmasType: String, Sendable, CaseIterable {
        /// σ = 0: the last step returns the data prediction.
        case zero
        /// σ = σ at training timestep 0.
        case sigmaMin = "sigma_min"
    }

    /// The config fields DPM-Solver++ reads, with diffusers' defaults: the common ones (spaced `linspace`) and
    /// the solver's own.
    public struct Configuration: CommonConfigurationFields, Sendable {
        public var common = CommonSchedulerConfiguration(timestepSpacing: .linspace)
        public var solverOrder = 2
        public var solverType = SolverType.midpoint
        public var lowerOrderFinal = true
        public var eulerAtFinal = false
        public var useKarrasSigmas = false
        public var finalSigmasType = FinalSigmasType.zero
        public var lambdaMinClipped = -Double.infinity

        public init() {}

        public init(_ c: SchedulerConfig) throws {
            try c.requireNoThresholding()
            common = try CommonSchedulerConfiguration(c, defaultSpacing: common.timestepSpacing)
            solverOrder = c.solverOrder ?? solverOrder
            guard (1...3).contains(solverOrder) else { throw c.unsupported(.solverOrder, "\(solverOrder)") }
            // diffusers maps the algorithm and solver names of other solvers' configs onto its own.
            let algorithm = c.algorithmType ?? "dpmsolver++"
            guard algorithm == "dpmsolver++" || algorithm == "deis" else {
                throw c.unsupported(.algorithmType, "\"\(algorithm)\" (supported: dpmsolver++)")
            }
            let solver = c.solverType.map { ["logrho", "bh1", "bh2"].contains($0) ? "midpoint" : $0 }
            solverType = try c.choice(solver, .solverType, default: solverType)
            lowerOrderFinal = c.lowerOrderFinal ?? lowerOrderFinal
            eulerAtFinal = c.eulerAtFinal ?? eulerAtFinal
            useKarrasSigmas = c.useKarrasSigmas ?? useKarrasSigmas
            for (flag, key) in [(c.useExponentialSigmas, SchedulerConfig.CodingKeys.useExponentialSigmas),
                                (c.useBetaSigmas, .useBetaSigmas), (c.useLuLambdas, .useLuLambdas),
                                (c.useFlowSigmas, .useFlowSigmas)] where flag == true {
                throw c.unsupported(key, "true")
            }
            if let v = c.varianceType, v == "learned" || v == "learned_range" {
                throw c.unsupported(.varianceType, "\"\(v)\"")
            }
            finalSigmasType = try c.choice(c.finalSigmasType, .finalSigmasType, default: finalSigmasType)
            lambdaMinClipped = c.lambdaMinClipped ?? lambdaMinClipped
        }
    }

    public let configuration: Configuration
    public let schedule: NoiseSchedule
    /// ᾱ per training timestep; with a zero terminal SNR the last is 2⁻²⁴ rather than 0, as in diffusers.
    public let alphasCumprod: [Double]
    /// σ_t = √((1 − ᾱ_t) / ᾱ_t) per training timestep, in float32 as diffusers computes it.
    let trainSigmas: [Double]
    public private(set) var timesteps: [Int] = []
    /// σ per inference step, plus the final σ.
    public private(set) var sigmas: [Double] = []
    public let initNoiseSigma = 1.0

    private var modelOutputs: [Tensor?]
    private var lowerOrderNums = 0
    public private(set) var stepIndex: Int?

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        schedule = configuration.common.noiseSchedule
        var cumprod = schedule.alphasCumprod.map { Float($0) }
        if configuration.rescaleBetasZeroSnr { cumprod[cumprod.count - 1] = Float(pow(2.0, -24.0)) }
        alphasCumprod = cumprod.map(Double.init)
        let ac = Tensor(cumprod)
        trainSigmas = ((1 - ac) / ac).pow(0.5).toArray(Float.self).map(Double.init)
        modelOutputs = Array(repeating: nil, count: configuration.solverOrder)
    }

    public convenience init(config: SchedulerConfig) throws {
        self.init(configuration: try Configuration(config))
    }

    /// The timesteps and their σ (Lu et al. 2022 use λ-uniform steps; diffusers spaces the timesteps as
    /// configured, or by the Karras et al. 2022 σ ramp (eq. 5, ρ = 7) with `use_karras_sigmas`), and a fresh
    /// solver history.
    public func setTimesteps(_ count: Int) throws {
        let train = configuration.numTrainTimesteps
        try checkStepCount(count, numTrainTimesteps: train)
        // Timesteps whose λ falls below lambda_min_clipped are left out (none by default).
        let lambdas = alphasCumprod.map { a -> Double in
            let alpha = Float(a).squareRoot(), sigma = (1 - Float(a)).squareRoot()
            return Double(Foundation.log(alpha) - Foundation.log(sigma))
        }
        let clipped = lambdas.reversed().filter { $0 < configuration.lambdaMinClipped }.count
        let last = train - clipped

        var steps: [Int]
        switch configuration.timestepSpacing {
        case .linspace:
            steps = Array(NumPy.linspace(0, Double(last - 1), count + 1).map { Int(NumPy.round($0)) }.reversed().dropLast())
        case .leading:
            let ratio = last / (count + 1)
            steps = (1...count).reversed().map { $0 * ratio + configuration.stepsOffset }
        case .trailing:
            let ratio = Double(train) / Double(count)
            steps = NumPy.arange(Double(last), 0, -ratio).map { Int(NumPy.round($0)) - 1 }
        }

        var stepSigmas: [Double]
        if configuration.useKarrasSigmas {
            stepSigmas = karrasSigmas(count)
            steps = stepSigmas.map { sigma in
                let t = timestep(forSigma: sigma)
                return Int(configuration.betaSchedule == .squaredcosCapV2 ? t : NumPy.round(t))
            }
        } else {
            stepSigmas = steps.map { trainSigmas[$0] }
        }
        let finalSigma = configuration.finalSigmasType == .zero ? 0 : trainSigmas[0]
        sigmas = (stepSigmas + [finalSigma]).map { Double(Float($0)) }
        timesteps = steps
        modelOutputs = Array(repeating: nil, count: configuration.solverOrder)
        lowerOrderNums = 0
        stepIndex = nil
    }

    /// Karras et al. 2022, eq. 5: σ_i = (σ_max^{1/ρ} + i/(n−1) (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ, ρ = 7.
    private func karrasSigmas(_ count: Int) -> [Double] {
        let rho = 7.0
        let minInvRho = pow(trainSigmas[0], 1 / rho), maxInvRho = pow(trainSigmas[trainSigmas.count - 1], 1 / rho)
        return NumPy.linspace(0, 1, count).map { pow(maxInvRho + $0 * (minInvRho - maxInvRho), rho) }
    }

    /// The fractional training timestep of σ, by linear interpolation in log σ (diffusers' `_sigma_to_t`).
    private func timestep(forSigma sigma: Double) -> Double {
        let logSigmas = trainSigmas.map { Double(Foundation.log(Float($0))) }
        let logSigma = Foundation.log(max(sigma, 1e-10))
        let lowIndex = min(logSigmas.lastIndex { logSigma - $0 >= 0 } ?? 0, logSigmas.count - 2)
        let low = logSigmas[lowIndex], high = logSigmas[lowIndex + 1]
        let w = min(max((low - logSigma) / (low - high), 0), 1)
        return (1 - w) * Double(lowIndex) + w * Double(lowIndex + 1)
    }

    public func scaleModelInput(_ sample: Tensor, timestep: Int) -> Tensor { sample }

    /// α_t = 1/√(σ² + 1) and σ_t = σ α_t for the variance-preserving process, from σ = σ_t/α_t.
    private func alphaSigma(_ sigma: Double) -> (alpha: Double, sigma: Double) {
        let alpha = 1 / (sigma * sigma + 1).squareRoot()
        return (alpha, sigma * alpha)
    }

    private func lambda(_ alphaSigma: (alpha: Double, sigma: Double)) -> Double {
        Foundation.log(alphaSigma.alpha) - Foundation.log(alphaSigma.sigma)
    }

    /// The index of `timestep` in ``timesteps`` as diffusers' `index_for_timestep`: the second match when it
    /// appears twice, the last step when it is absent.
    public func index(for timestep: Int) -> Int {
        let matches = timesteps.indices.filter { timesteps[$0] == timestep }
        if matches.isEmpty { return timesteps.count - 1 }
        return matches.count > 1 ? matches[1] : matches[0]
    }

    /// x̂₀ from the model output at the current step (diffusers' `convert_model_output`).
    private func dataPrediction(_ modelOutput: Tensor, sample: Tensor) -> Tensor {
        let (alpha, sigma) = alphaSigma(sigmas[stepIndex!])
        return configuration.predictionType.originalSample(
            modelOutput: modelOutput, sample: sample, alpha: alpha, sigma: sigma)
    }

    public func step(modelOutput: Tensor, timestep: Int, sample: Tensor, generator: Generator? = nil) -> SchedulerStepOutput {
        precondition(!timesteps.isEmpty, "DPMSolverMultistepScheduler: call setTimesteps before stepping")
        if stepIndex == nil { stepIndex = index(for: timestep) }
        let i = stepIndex!, n = timesteps.count
        let lowerOrderFinal = i == n - 1 && (configuration.eulerAtFinal
            || (configuration.lowerOrderFinal && n < 15) || configuration.finalSigmasType == .zero)
        let lowerOrderSecond = i == n - 2 && configuration.lowerOrderFinal && n < 15

        let x0 = dataPrediction(modelOutput, sample: sample)
        modelOutputs.removeFirst()
        modelOutputs.append(x0)
        let sample32 = sample.to(.float32)

        let prevSample: Tensor
        if configuration.solverOrder == 1 || lowerOrderNums < 1 || lowerOrderFinal {
            prevSample = firstOrderUpdate(x0, sample: sample32)
        } else if configuration.solverOrder == 2 || lowerOrderNums < 2 || lowerOrderSecond {
            prevSample = secondOrderUpdate(sample: sample32)
        } else {
            prevSample = thirdOrderUpdate(sample: sample32)
        }
        if lowerOrderNums < configuration.solverOrder { lowerOrderNums += 1 }
        stepIndex = i + 1
        return SchedulerStepOutput(prevSample: prevSample.to(modelOutput.dtype), predOriginalSample: x0)
    }

    /// DPM-Solver++(1), i.e. DDIM in λ: x_t = (σ_t/σ_s) x_s − α_t (e^{−h} − 1) D₀, h = λ_t − λ_s (Lu et al. 2022,
    /// eq. 10).
    private func firstOrderUpdate(_ d0: Tensor, sample: Tensor) -> Tensor {
        let i = stepIndex!
        let t = alphaSigma(sigmas[i + 1]), s = alphaSigma(sigmas[i])
        let h = lambda(t) - lambda(s)
        return sample * (t.sigma / s.sigma) - d0 * (t.alpha * (exp(-h) - 1))
    }

    /// Multistep DPM-Solver++(2M) (Lu et al. 2022, algorithm 2): D₁ = (m₀ − m₁) / r₀ with r₀ = h₀/h.
    private func secondOrderUpdate(sample: Tensor) -> Tensor {
        let i = stepIndex!
        let t = alphaSigma(sigmas[i + 1]), s0 = alphaSigma(sigmas[i]), s1 = alphaSigma(sigmas[i - 1])
        let h = lambda(t) - lambda(s0), h0 = lambda(s0) - lambda(s1)
        let m0 = modelOutputs[modelOutputs.count - 1]!, m1 = modelOutputs[modelOutputs.count - 2]!
        let d1 = (m0 - m1) * (1 / (h0 / h))
        let base = sample * (t.sigma / s0.sigma) - m0 * (t.alpha * (exp(-h) - 1))
        switch configuration.solverType {
        case .midpoint: return base - d1 * (0.5 * (t.alpha * (exp(-h) - 1)))
        case .heun: return base + d1 * (t.alpha * ((exp(-h) - 1) / h + 1))
        }
    }

    /// Multistep DPM-Solver++(3M) (Lu et al. 2022, appendix), from the last three data predictions.
    private func thirdOrderUpdate(sample: Tensor) -> Tensor {
        let i = stepIndex!
        let t = alphaSigma(sigmas[i + 1]), s0 = alphaSigma(sigmas[i])
        let s1 = alphaSigma(sigmas[i - 1]), s2 = alphaSigma(sigmas[i - 2])
        let h = lambda(t) - lambda(s0), h0 = lambda(s0) - lambda(s1), h1 = lambda(s1) - lambda(s2)
        let k = modelOutputs.count
        let m0 = modelOutputs[k - 1]!, m1 = modelOutputs[k - 2]!, m2 = modelOutputs[k - 3]!
        let r0 = h0 / h, r1 = h1 / h
        let d10 = (m0 - m1) * (1 / r0), d11 = (m1 - m2) * (1 / r1)
        let d1 = d10 + (d10 - d11) * (r0 / (r0 + r1))
        let d2 = (d10 - d11) * (1 / (r0 + r1))
        let e = exp(-h) - 1
        return sample * (t.sigma / s0.sigma) - m0 * (t.alpha * e) + d1 * (t.alpha * (e / h + 1))
            - d2 * (t.alpha * ((e + h) / (h * h) - 0.5))
    }

    /// The forward process at the σ of the given inference timesteps.
    public func addNoise(original: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        let shape = [timesteps.count] + Array(repeating: 1, count: max(original.rank - 1, 0))
        let pairs = timesteps.map { alphaSigma(sigmas[index(for: $0)]) }
        let a = Tensor(pairs.map { Float($0.alpha) }, shape: shape).to(original.dtype, original.device)
        let s = Tensor(pairs.map { Float($0.sigma) }, shape: shape).to(original.dtype, original.device)
        return a * original + s * noise
    }
}
