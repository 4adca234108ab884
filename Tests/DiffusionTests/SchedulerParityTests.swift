import Foundation
import Testing
import Torch
@testable import Diffusion

/// One diffusers run recorded by scripts/make_scheduler_fixtures.py.
private struct SchedulerCase: Decodable {
    let name: String
    let kind: String
    let config: String
    let steps: Int
    let eta: Double?
    let seed: UInt64?
    let timesteps: [Int]
    let addNoiseTimesteps: [Int]?
    let useClippedModelOutput: Bool?

    enum CodingKeys: String, CodingKey {
        case name, kind, config, steps, eta, seed, timesteps
        case addNoiseTimesteps = "add_noise_timesteps"
        case useClippedModelOutput = "use_clipped_model_output"
    }

    var schedulerKind: SchedulerKind { kind == "ddim_inverse" ? .ddimInverse : SchedulerKind(rawValue: kind)! }
}

/// The config diffusers resolves from a published config for one scheduler class (its defaults filled in).
private struct ResolvedConfig: Decodable {
    let base: String
    let kind: String
    let config: SchedulerConfig
}

private struct SchedulerFixtures: Decodable {
    let cases: [SchedulerCase]
    let resolved: [ResolvedConfig]

    static func load() throws -> SchedulerFixtures {
        try JSONDecoder().decode(Self.self, from: Data(contentsOf: fixtureURL("schedulers/cases.json")))
    }
}

private let caseNames = [
    "ddim_sd15", "ddim_sd15_eta", "ddim_sd21_v_leading", "ddim_sd21_v_trailing", "ddim_zero_snr",
    "ddim_linspace_sample_clip", "ddim_cosine_eta1", "ddim_clipped_model_output", "ddim_trained_betas",
    "ddim_inverse_sd15", "ddim_inverse_sd21_trailing", "ddim_inverse_alpha_one",
    "ddpm_sd15", "ddpm_small_log_v", "ddpm_learned_range", "ddpm_sample_zero_snr", "ddpm_fixed_large",
    "dpmpp_sd15", "dpmpp_sd15_leading", "dpmpp_order1", "dpmpp_sd21_v_trailing", "dpmpp_order3_heun",
    "dpmpp_sigma_min_long", "dpmpp_karras", "dpmpp_lambda_clipped", "dpmpp_zero_snr_v",
]

/// The fake model of the fixture script: a fixed function of the sample and the timestep.
private func fakeModel(_ sample: Tensor, _ noise: Tensor, _ t: Int, learnedRange: Bool) -> Tensor {
    let out = sample.tanh() * 0.6 + noise * (0.4 + Double(t) / 2000)
    return learnedRange ? Tensor.cat([out, (noise * 0.7 - sample * 0.2).tanh()], dim: 1) : out
}

@Suite("Scheduler parity with diffusers 0.42.1")
struct SchedulerParityTests {
    static let tolerance = 1e-5
    static let alphaULPs = 16

    /// Guards the fixture, not Prism: every case the script recorded is run by `stepByStep` (none left out unnoticed).
    @Test func fixturesHaveEveryCase() throws {
        #expect(try SchedulerFixtures.load().cases.map(\.name) == caseNames)
    }

    @Test(arguments: caseNames)
    func stepByStep(_ name: String) throws {
        let fixtures = try SchedulerFixtures.load()
        let c = try #require(fixtures.cases.first { $0.name == name })
        let tensors = try fixtureTensors("schedulers/tensors.safetensors")
        let config = try SchedulerConfig.load(from: fixtureURL("schedulers/\(c.config)"))
        let scheduler = try makeScheduler(config: config, kind: c.schedulerKind)
        if let ddim = scheduler as? DDIMScheduler { ddim.eta = c.eta ?? 0 }

        // Within a few float32 steps of diffusers' ᾱ_t: a CPU whose libtorch kernels round linspace's last bit
        // differently lands up to 8 steps away (zero-terminal-SNR rescaling; 0–2 elsewhere), while one wrong β
        // (SD's neighbouring β differ by 1.1e-5, ≈ 90 float32 steps of ᾱ) moves every later ᾱ further.
        let alphas = scheduler.alphasCumprod.map { Float($0) }, want = tensors["\(name).alphas_cumprod"]!.floats()
        let ulps = maxULPDistance(alphas, want)
        #expect(alphas.count == want.count && ulps <= Self.alphaULPs,
                "\(name): alphas_cumprod up to \(ulps) float32 steps from diffusers' (allowed \(Self.alphaULPs))")

        try scheduler.setTimesteps(c.steps)
        #expect(scheduler.timesteps == c.timesteps, "\(name): timesteps")
        guard scheduler.timesteps == c.timesteps else { return }
        if let dpm = scheduler as? DPMSolverMultistepScheduler {
            let sigmas = Tensor(dpm.sigmas.map { Float($0) })
            expectClose(sigmas, tensors["\(name).sigmas"]!, tolerance: 1e-6, "\(name): sigmas")
        }

        let noise = tensors["noise"]!
        var sample = tensors["sample"]!
        let generator = c.seed.map { Generator(seed: $0) }
        let learned = (scheduler as? DDPMScheduler)?.configuration.varianceType == .learnedRange
        var worst = 0.0
        for (i, t) in scheduler.timesteps.enumerated() {
            let input = scheduler.scaleModelInput(sample, timestep: t)
            let modelOutput = fakeModel(input, noise, t, learnedRange: learned)
            let out = if let ddim = scheduler as? DDIMScheduler, c.useClippedModelOutput == true {
                ddim.step(modelOutput: modelOutput, timestep: t, sample: sample, eta: ddim.eta,
                          useClippedModelOutput: true, generator: generator)
            } else {
                scheduler.step(modelOutput: modelOutput, timestep: t, sample: sample, generator: generator)
            }
            let prev = tensors["\(name).prev.\(i)"]!, pred = tensors["\(name).pred.\(i)"]!
            expectClose(out.prevSample, prev, tolerance: Self.tolerance, "\(name) step \(i) (t=\(t)) prev_sample")
            expectClose(out.predOriginalSample, pred, tolerance: Self.tolerance,
                        "\(name) step \(i) (t=\(t)) pred_original_sample")
            worst = max(worst, relativeError(out.prevSample, prev), relativeError(out.predOriginalSample, pred))
            sample = prev  // each step starts from diffusers' sample, so errors do not compound
        }
        print("scheduler parity \(name): \(c.steps) steps, worst relative error \(worst), alphas_cumprod within \(ulps) ulps")

        if let ts = c.addNoiseTimesteps {
            let original = tensors["sample"]!
            expectClose(scheduler.addNoise(original: original, noise: noise, timesteps: ts),
                        tensors["\(name).add_noise"]!, tolerance: Self.tolerance, "\(name): add_noise")
            let velocity: Tensor? = (scheduler as? DDIMScheduler)?.velocity(sample: original, noise: noise, timesteps: ts)
                ?? (scheduler as? DDPMScheduler)?.velocity(sample: original, noise: noise, timesteps: ts)
            if let velocity {
                expectClose(velocity, tensors["\(name).velocity"]!, tolerance: Self.tolerance, "\(name): get_velocity")
            }
        }
    }

    @Test func publishedConfigsDecode() throws {
        let sd15 = try SchedulerConfig.load(from: fixtureURL("schedulers/sd15"))
        #expect(sd15.className == "PNDMScheduler")
        #expect(SchedulerKind(className: sd15.className!) == nil)
        #expect(sd15.betaStart == 0.00085 && sd15.betaEnd == 0.012 && sd15.betaSchedule == "scaled_linear")
        #expect(sd15.numTrainTimesteps == 1000 && sd15.stepsOffset == 1)
        #expect(sd15.setAlphaToOne == false && sd15.clipSample == false && sd15.trainedBetas == nil)
        #expect(sd15.timestepSpacing == nil && sd15.predictionType == nil)
        #expect(sd15.source?.hasSuffix("sd15/scheduler_config.json") == true)

        let sd21 = try SchedulerConfig.load(from: fixtureURL("schedulers/sd21"))
        #expect(SchedulerKind(className: sd21.className!) == .ddim)
        #expect(sd21.predictionType == "v_prediction")
    }

    /// Fields absent from the published files take each scheduler class's own defaults, as from_config does.
    @Test func defaultsMatchDiffusersFromConfig() throws {
        for r in try SchedulerFixtures.load().resolved {
            let config = try SchedulerConfig.load(from: fixtureURL("schedulers/\(r.base)"))
            let want = r.config, label = "\(r.base) → \(r.kind)"
            let scheduler = try makeScheduler(config: config, kind: r.kind == "ddim_inverse" ? .ddimInverse
                                              : SchedulerKind(rawValue: r.kind)!)
            switch scheduler {
            case let s as DDIMScheduler:
                let c = s.configuration
                #expect(c.clipSample == want.clipSample && c.setAlphaToOne == want.setAlphaToOne, "\(label)")
                #expect(c.stepsOffset == want.stepsOffset && c.clipSampleRange == want.clipSampleRange, "\(label)")
                #expect(c.timestepSpacing.rawValue == want.timestepSpacing, "\(label)")
                #expect(c.predictionType.rawValue == want.predictionType, "\(label)")
                #expect(c.betaSchedule.rawValue == want.betaSchedule && c.betaStart == want.betaStart, "\(label)")
                #expect(c.rescaleBetasZeroSnr == want.rescaleBetasZeroSnr, "\(label)")
            case let s as DDIMInverseScheduler:
                let c = s.configuration
                #expect(c.clipSample == want.clipSample && c.setAlphaToOne == want.setAlphaToOne, "\(label)")
                #expect(c.stepsOffset == want.stepsOffset, "\(label)")
                #expect(c.timestepSpacing.rawValue == want.timestepSpacing, "\(label)")
                #expect(c.predictionType.rawValue == want.predictionType, "\(label)")
            case let s as DDPMScheduler:
                let c = s.configuration
                #expect(c.clipSample == want.clipSample && c.stepsOffset == want.stepsOffset, "\(label)")
                #expect(c.varianceType.rawValue == want.varianceType, "\(label)")
                #expect(c.timestepSpacing.rawValue == want.timestepSpacing, "\(label)")
                #expect(c.predictionType.rawValue == want.predictionType, "\(label)")
            case let s as DPMSolverMultistepScheduler:
                let c = s.configuration
                #expect(c.solverOrder == want.solverOrder && c.solverType.rawValue == want.solverType, "\(label)")
                #expect(c.lowerOrderFinal == want.lowerOrderFinal, "\(label)")
                #expect(c.finalSigmasType.rawValue == want.finalSigmasType, "\(label)")
                #expect(c.useKarrasSigmas == want.useKarrasSigmas, "\(label)")
                #expect(c.timestepSpacing.rawValue == want.timestepSpacing, "\(label)")
                #expect(c.stepsOffset == want.stepsOffset, "\(label)")
                #expect(c.predictionType.rawValue == want.predictionType, "\(label)")
            default:
                Issue.record("\(label): unexpected scheduler \(type(of: scheduler))")
            }
        }
    }

    @Test func nonFiniteNumbersDecode() throws {
        let text = ##"{"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity, "# NaN": "NaN -Infinity"}"##
        let config = try SchedulerConfig.decode(Data(text.utf8))
        #expect(config.lambdaMinClipped == -.infinity)
        #expect(config.className == "DPMSolverMultistepScheduler")
    }

    @Test func unsupportedConfigsAreNamed() throws {
        var config = SchedulerConfig(className: "DDIMScheduler")
        config.source = "model/scheduler/scheduler_config.json"
        config.thresholding = true
        #expect(throws: SchedulerError.self) { try makeScheduler(config: config, kind: .ddim) }

        config.thresholding = nil
        config.betaSchedule = "sigmoid"
        do {
            _ = try makeScheduler(config: config, kind: .ddpm)
            Issue.record("sigmoid beta schedule accepted")
        } catch let error as SchedulerError {
            #expect(error.description.contains("model/scheduler/scheduler_config.json: beta_schedule \"sigmoid\""))
        }

        config.betaSchedule = nil
        config.algorithmType = "sde-dpmsolver++"
        #expect(throws: SchedulerError.self) { try makeScheduler(config: config, kind: .dpmpp) }
        config.algorithmType = nil
        config.timestepSpacing = "linspace"
        #expect(throws: SchedulerError.self) { try makeScheduler(config: config, kind: .ddimInverse) }
    }

    @Test func stepCountOutOfRangeThrows() throws {
        let scheduler = DDIMScheduler()
        #expect(throws: SchedulerError.self) { try scheduler.setTimesteps(0) }
        #expect(throws: SchedulerError.self) { try scheduler.setTimesteps(1001) }
        try scheduler.setTimesteps(1000)
        #expect(scheduler.timesteps.count == 1000)

        var configuration = DDIMInverseScheduler.Configuration()
        configuration.timestepSpacing = .linspace
        #expect(throws: SchedulerError.self) { try DDIMInverseScheduler(configuration: configuration).setTimesteps(10) }
    }

    @Test func missingConfigFileIsNamed() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-scheduler-\(UUID())")
        do {
            _ = try SchedulerConfig.load(from: folder)
            Issue.record("missing file accepted")
        } catch let error as ModelFolderError {
            #expect(error.path.hasSuffix("scheduler_config.json"))
        }
    }

    /// The inverse step undoes the forward DDIM step when the model output is the same (η = 0, ε-prediction):
    /// what null-text inversion relies on.
    @Test func inverseStepUndoesDDIMStep() throws {
        let config = try SchedulerConfig.load(from: fixtureURL("schedulers/sd15"))
        let ddim = try DDIMScheduler(config: config), inverse = try DDIMInverseScheduler(config: config)
        try ddim.setTimesteps(10)
        try inverse.setTimesteps(10)
        #expect(inverse.timesteps == ddim.timesteps.reversed())
        let x = Tensor.randn([1, 4, 8, 8], generator: Generator(seed: 3))
        let eps = Tensor.randn([1, 4, 8, 8], generator: Generator(seed: 4))
        let t = ddim.timesteps[3], prev = ddim.timesteps[4]
        #expect(ddim.previousTimestep(t) == prev)
        let down = ddim.step(modelOutput: eps, timestep: t, sample: x).prevSample
        // The inverse step to t starts from t − T/n = prev, the sample DDIM produced.
        #expect(inverse.sourceTimestep(t) == prev)
        let up = inverse.step(modelOutput: eps, timestep: t, sample: down).prevSample
        expectClose(up, x, tolerance: 1e-5, "DDIM step then inverse step")
    }
}
