import DiffusersConfig
import Foundation
import Torch

extension SampleClipping {
    /// x̂₀ clamped to ±`clipSampleRange` when `clipSample` is on, as it is.
    func apply(to predOriginal: Tensor) -> Tensor {
        clipSample ? predOriginal.clamp(min: -clipSampleRange, max: clipSampleRange) : predOriginal
    }
}

extension PredictionType {
    /// x̂₀ from a model output of this type at x_t = α x₀ + σ ε, with α = √ᾱ_t and σ = √(1−ᾱ_t): the one
    /// conversion every scheduler here makes, whatever it then does with x̂₀.
    public func originalSample(modelOutput: Tensor, sample: Tensor, alpha: Double, sigma: Double) -> Tensor {
        switch self {
        case .epsilon: return (sample - modelOutput * sigma) / alpha
        case .sample: return modelOutput
        case .vPrediction: return sample * alpha - modelOutput * sigma
        }
    }
    /// ε̂ from a model output of this type at the same x_t.
    public func epsilon(modelOutput: Tensor, sample: Tensor, alpha: Double, sigma: Double) -> Tensor {
        switch self {
        case .epsilon: return modelOutput
        case .sample: return (sample - modelOutput * alpha) / sigma
        case .vPrediction: return modelOutput * alpha + sample * sigma
        }
    }
}

/// The DDIM update (Song et al. 2021, eq. 12) from x̂₀ and ε̂ to the sample at ᾱ_next:
/// √ᾱ_next x̂₀ + √(1 − ᾱ_next − σ²) ε̂, σ the standard deviation of the noise the caller adds (0: deterministic).
/// DDIM sampling, its inverse and the editing steppers all step through this one expression.
public func ddimUpdate(predOriginal: Tensor, epsilon: Tensor, alphaNext: Double, noiseStd: Double = 0) -> Tensor {
    predOriginal * alphaNext.squareRoot() + epsilon * (1 - alphaNext - noiseStd * noiseStd).squareRoot()
}

/// The training noise schedule shared by the schedulers: β_t, α_t = 1 − β_t and ᾱ_t = ∏_{s≤t} α_s.
///
/// diffusers holds these as float32 tensors; the values here are rounded to float32 at the same points
/// (β, α, ᾱ; the cumulative product accumulated in double as PyTorch's CPU `cumprod` does), then kept as
/// `Double`, so that every scheduler coefficient starts from the very numbers diffusers starts from.
public struct NoiseSchedule: Sendable {
    public let betas: [Double]
    public let alphas: [Double]
    public let alphasCumprod: [Double]

    public var numTrainTimesteps: Int { betas.count }

    public init(
        numTrainTimesteps: Int = 1000, betaStart: Double = 0.0001, betaEnd: Double = 0.02,
        betaSchedule: BetaSchedule = .linear, trainedBetas: [Double]? = nil, rescaleBetasZeroSnr: Bool = false
    ) {
        var betas: [Float]
        if let trainedBetas {
            betas = trainedBetas.map { Float($0) }
        } else {
            switch betaSchedule {
            case .linear:
                betas = Self.linspaceFloat32(betaStart, betaEnd, count: numTrainTimesteps)
            case .scaledLinear:
                betas = Self.linspaceFloat32(betaStart.squareRoot(), betaEnd.squareRoot(), count: numTrainTimesteps)
                    .map { $0 * $0 }
            case .squaredcosCapV2:
                betas = Self.betasForAlphaBar(numTrainTimesteps).map { Float($0) }
            }
        }
        if rescaleBetasZeroSnr { betas = Self.rescaleZeroTerminalSNR(betas) }
        let alphas = betas.map { 1 - $0 }
        self.betas = betas.map(Double.init)
        self.alphas = alphas.map(Double.init)
        self.alphasCumprod = Self.cumprod(alphas).map(Double.init)
    }

    /// `torch.linspace(start, end, count, dtype=torch.float32)`, computed by libtorch itself so that the
    /// values are the same float32 numbers (its vectorised kernel rounds differently from a plain loop).
    static func linspaceFloat32(_ start: Double, _ end: Double, count: Int) -> [Float] {
        Tensor.linspace(start, end, steps: count, dtype: .float32).toArray(Float.self)
    }

    /// ∏ α in double, rounded to float32 at each output, as PyTorch's CPU `cumprod` on a float32 tensor.
    static func cumprod(_ values: [Float]) -> [Float] {
        var product = 1.0
        return values.map { product *= Double($0); return Float(product) }
    }

    /// diffusers' `betas_for_alpha_bar` with the cosine ᾱ (Nichol & Dhariwal 2021, eq. 17), max β 0.999.
    static func betasForAlphaBar(_ count: Int, maxBeta: Double = 0.999) -> [Double] {
        func alphaBar(_ t: Double) -> Double {
            let c = cos((t + 0.008) / 1.008 * Double.pi / 2)
            return c * c
        }
        return (0..<count).map { i in
            let t1 = Double(i) / Double(count), t2 = Double(i + 1) / Double(count)
            return min(1 - alphaBar(t2) / alphaBar(t1), maxBeta)
        }
    }

    /// Rescales the betas to a zero terminal SNR (Lin et al. 2023, algorithm 1): shift and scale √ᾱ so that
    /// √ᾱ_T = 0 while √ᾱ_1 is kept, then undo the cumulative product. On float32 CPU tensors, line for line as
    /// diffusers, since libtorch's vectorised square root is not always the correctly rounded one.
    static func rescaleZeroTerminalSNR(_ betas: [Float]) -> [Float] {
        let alphasCumprod = Tensor(cumprod(betas.map { 1 - $0 }))
        var sqrtBar = alphasCumprod.sqrt()
        let first = sqrtBar[0], last = sqrtBar[betas.count - 1]
        sqrtBar = (sqrtBar - last) * (first / (first - last))
        let bar = sqrtBar.pow(2).toArray(Float.self)
        var alphas = [bar[0]]
        for i in 1..<bar.count { alphas.append(bar[i] / bar[i - 1]) }
        return alphas.map { 1 - $0 }
    }

    /// The forward process q(x_t | x₀): x_t = √ᾱ_t x₀ + √(1−ᾱ_t) ε (Ho et al. 2020, eq. 4), one timestep per
    /// batch element (or one for all).
    public func addNoise(original: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        let (a, s) = coefficients(timesteps, like: original)
        return a * original + s * noise
    }

    /// The velocity target v = √ᾱ_t ε − √(1−ᾱ_t) x₀ (Salimans & Ho 2022, §4).
    public func velocity(sample: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        let (a, s) = coefficients(timesteps, like: sample)
        return a * noise - s * sample
    }

    /// √ᾱ_t and √(1−ᾱ_t) per timestep, in float32 as diffusers takes them, shaped [n, 1, …] to broadcast.
    private func coefficients(_ timesteps: [Int], like x: Tensor) -> (Tensor, Tensor) {
        let shape = [timesteps.count] + Array(repeating: 1, count: max(x.rank - 1, 0))
        let cumprod = timesteps.map { Float(alphasCumprod[$0]) }
        let a = Tensor(cumprod.map { $0.squareRoot() }, shape: shape).to(x.dtype, x.device)
        let s = Tensor(cumprod.map { (1 - $0).squareRoot() }, shape: shape).to(x.dtype, x.device)
        return (a, s)
    }
}

// MARK: - NumPy's arithmetic, for timesteps equal to diffusers' own

/// The timestep arithmetic diffusers does with NumPy, reproduced exactly: `np.linspace`, `np.arange` on
/// floats (which fills from the first difference) and `np.round` (half to even).
enum NumPy {
    static func linspace(_ start: Double, _ stop: Double, _ count: Int) -> [Double] {
        guard count > 1 else { return count == 1 ? [start] : [] }
        let step = (stop - start) / Double(count - 1)
        var values = (0..<count).map { Double($0) * step + start }
        values[count - 1] = stop
        return values
    }

    static func arange(_ start: Double, _ stop: Double, _ step: Double) -> [Double] {
        let count = Int(((stop - start) / step).rounded(.up))
        guard count > 0 else { return [] }
        guard count > 1 else { return [start] }
        let delta = (start + step) - start
        return (0..<count).map { $0 == 0 ? start : start + Double($0) * delta }
    }

    static func round(_ x: Double) -> Double { x.rounded(.toNearestOrEven) }
}

extension CommonSchedulerConfiguration {
    /// The training betas and ᾱ these fields describe.
    var noiseSchedule: NoiseSchedule {
        NoiseSchedule(numTrainTimesteps: numTrainTimesteps, betaStart: betaStart, betaEnd: betaEnd,
                      betaSchedule: betaSchedule, trainedBetas: trainedBetas, rescaleBetasZeroSnr: rescaleBetasZeroSnr)
    }

    /// diffusers' `set_timesteps` for DDIM and DDPM (and, reversed, for the DDIM inverse): `count` timesteps in
    /// descending order. Throws when `count` is not in 1…num_train_timesteps.
    func descendingTimesteps(_ count: Int) throws -> [Int] {
        let train = numTrainTimesteps
        try checkStepCount(count, numTrainTimesteps: train)
        switch timestepSpacing {
        case .linspace:
            return NumPy.linspace(0, Double(train - 1), count).map { Int(NumPy.round($0)) }.reversed()
        case .leading:
            let ratio = train / count
            return (0..<count).reversed().map { $0 * ratio + stepsOffset }
        case .trailing:
            let ratio = Double(train) / Double(count)
            return NumPy.arange(Double(train), 0, -ratio).map { Int(NumPy.round($0)) - 1 }
        }
    }
}
