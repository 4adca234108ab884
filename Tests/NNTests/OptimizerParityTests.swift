import Foundation
import Testing
@testable import NN
import TestSupport
@testable import Torch

let fixtures = FixtureFolder(Bundle.module)

/// AdamW, gradient clipping, EMA and LR schedules against torch / diffusers (Scripts → Fixtures/nn.json).
@Suite struct OptimizerParityTests {
    static let cases = try! fixtures.loadCases("nn.json")

    @Test func fiveAdamWStepsMatchTorch() throws {
        let c = try #require(Self.cases["adamw_5_steps"])
        let x = c.inputs[0].tensor, y = c.inputs[1].tensor
        let w = c.inputs[2].tensor.requiringGrad(), b = c.inputs[3].tensor.requiringGrad()
        let opt = AdamW(parameters: [w, b], learningRate: c.double("lr"), betas: (c.double("beta1"), c.double("beta2")),
                        eps: c.double("eps"), weightDecay: c.double("weight_decay"))
        for step in 0..<5 {
            opt.zeroGrad()
            let loss = (x.matmul(w) + b - y).pow(2).mean() + 0.1 * w.pow(2).mean()
            loss.backward()
            opt.step()
            expectMatches(w, c.outputs[2 * step], tolerance: 1e-6, "w after step \(step + 1)")
            expectMatches(b, c.outputs[2 * step + 1], tolerance: 1e-6, "b after step \(step + 1)")
        }
        #expect(opt.steps == [5, 5])
    }

    @Test func adamWStateRoundTripsThroughItsStateDict() {
        let p = Tensor([1, 2, 3] as [Float]).requiringGrad()
        let opt = AdamW(parameters: [p], learningRate: 0.1)
        (p * p).sum().backward()
        opt.step()
        let saved = Dictionary(uniqueKeysWithValues: opt.stateDict().map { ($0.name, $0.tensor.clone()) })
        let q = Tensor(p.floats()).requiringGrad()
        let resumed = AdamW(parameters: [q], learningRate: 0.1)
        try! resumed.loadStateDict(saved)
        for o in [opt, resumed] {
            o.zeroGrad()
            let param = o.parameters[0]
            (param * param).sum().backward()
            o.step()
        }
        #expect(p.floats() == q.floats())
        #expect(resumed.steps == [2])
    }

    @Test(arguments: ["clip_above", "clip_below"])
    func clipGradNormMatchesTorch(_ name: String) throws {
        let c = try #require(Self.cases[name])
        let p1 = Tensor.zeros(c.inputs[0].shape).requiringGrad(), p2 = Tensor.zeros(c.inputs[1].shape).requiringGrad()
        p1.grad = c.inputs[0].tensor
        p2.grad = c.inputs[1].tensor
        let total = clipGradNorm([p1, p2], maxNorm: c.double("max_norm"))
        let expectedTotal = c.outputs[0].data[0]
        #expect(Swift.abs(total - expectedTotal) / expectedTotal < 1e-6)
        expectMatches(try #require(p1.grad), c.outputs[1], tolerance: 1e-6, "grad 1")
        expectMatches(try #require(p2.grad), c.outputs[2], tolerance: 1e-6, "grad 2")
    }

    @Test func emaMatchesDiffusersEMAModel() throws {
        let c = try #require(Self.cases["ema_4_updates"])
        let param = c.inputs[0].tensor.requiringGrad()
        let ema = EMA(parameters: [param], decay: c.double("decay"))
        let decays = c.params["decays"]!.array!.map { $0.number! }
        for i in 0..<4 {
            #expect(Swift.abs(ema.decay(at: ema.optimizationStep + 1) - decays[i]) < 1e-12, "decay \(i)")
            withNoGrad { param.copyFrom(c.inputs[i + 1].tensor) }
            ema.update([param])
            expectMatches(ema.shadow[0], c.outputs[i], tolerance: 1e-6, "shadow after update \(i + 1)")
        }
    }

    @Test func emaWarmupDecaysMatchDiffusers() throws {
        let c = try #require(Self.cases["ema_warmup_decays"])
        let ema = EMA(parameters: [Tensor.zeros([1])], decay: 0.9999, useWarmup: true, invGamma: 1, power: 0.75)
        let steps = c.params["steps"]!.array!.map { Int($0.number!) }
        let decays = c.params["decays"]!.array!.map { $0.number! }
        for (s, d) in zip(steps, decays) {
            #expect(Swift.abs(ema.decay(at: s) - d) < 1e-12, "step \(s)")
        }
    }

    @Test(arguments: [("constant_with_warmup", LearningRateSchedule.Shape.constant), ("linear", .linear), ("cosine", .cosine)])
    func learningRateScheduleMatchesDiffusers(_ name: String, _ shape: LearningRateSchedule.Shape) throws {
        let c = try #require(Self.cases["lr_\(name)"])
        let schedule = LearningRateSchedule(shape, warmupSteps: c.int("warmup"), totalSteps: c.int("total"))
        let expected = c.params["lrs"]!.array!.map { $0.number! }
        for (step, lr) in expected.enumerated() {
            #expect(Swift.abs(schedule.multiplier(at: step) - lr) < 1e-12, "\(name) step \(step)")
        }
    }
}
