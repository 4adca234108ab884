import Core
import Datasets
import Diffusion
import Foundation
import Imaging
import NN
import Testing
import Torch
@testable import DiffusionTraining
import Training

/// A handful of small gray PNGs (a bright disc of varying size and place on a dark gradient) and their records,
/// each with a different combination of label states.
struct TinyImageData {
    let root: URL
    let records: [Record]

    /// The caller removes `root`.
    init(count: Int = 6, side: Int = 32) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("prism-run-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let states: [LabelState] = [.positive, .negative, .uncertain]
        var records: [Record] = []
        for i in 0..<count {
            let cx = Double(side) * (0.3 + 0.4 * Double(i % 3) / 2), cy = Double(side) * (0.35 + 0.3 * Double(i % 2))
            let radius = Double(side) * (0.12 + 0.04 * Double(i % 4))
            var pixels = [Float](repeating: 0, count: side * side)
            for y in 0..<side {
                for x in 0..<side {
                    let d = ((Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)).squareRoot()
                    pixels[y * side + x] = d < radius ? 0.9 : Float(0.1 + 0.3 * Double(y) / Double(side))
                }
            }
            let name = String(format: "img%02d.png", i)
            try Image(floats: pixels, width: side, height: side).writePNG(to: root.appendingPathComponent(name))
            records.append(Record(path: name, patientID: "p\(i / 2)", sex: i % 2 == 0 ? .female : .male, age: 40 + i,
                                  view: "PA", labels: ["Cardiomegaly": states[i % 3], "Pleural Effusion": states[(i + 1) % 3]],
                                  line: i + 2))
        }
        self.records = records
    }
}

/// Thrown from `afterStep` to stop a run the way a kill would, between two steps.
struct Killed: Error {}

@Suite struct TrainingRunTests {
    static let tiny = diffusionFixture("pipeline-tiny")

    /// A fresh path under the temporary directory; each caller removes it.
    func output() -> URL { FileManager.default.temporaryDirectory.appendingPathComponent("prism-run-\(UUID().uuidString)") }

    func unetOptions(_ data: TinyImageData, output: URL, steps: Int) -> TrainingRunOptions {
        var o = TrainingRunOptions(source: .config(Self.tiny, vae: Self.tiny), records: data.records, imageRoot: data.root,
                                   template: CaptionTemplate(), output: output)
        o.component = .unetText
        o.resolution = 32
        o.settings.batchSize = 2
        o.settings.gradientAccumulation = 2
        o.settings.learningRate = 1e-3
        o.settings.warmupSteps = 2
        o.settings.totalSteps = steps
        o.settings.checkpointEvery = 3
        o.settings.emaDecay = 0.9
        o.settings.seed = 5
        o.unet.snrGamma = 5
        o.unet.captionDropout = 0.3
        return o
    }

    /// A 32-pixel, 2-step image from a published model folder, as `prism generate` loads it.
    func generateSmall(from folder: URL) throws -> Tensor {
        let pipeline = try StableDiffusionPipeline.load(from: folder)
        var request = GenerationRequest(prompt: "Chest X-ray of a woman with cardiomegaly")
        request.steps = 2
        request.height = 32
        request.width = 32
        request.seed = 1
        return try pipeline(request).images!
    }

    /// A new AutoencoderKL from the small fixture config, seeded.
    func smallVAE() throws -> AutoencoderKL {
        AutoencoderKL(config: try DiffusersFolder.config(AutoencoderKLConfig.self, in: diffusionFixture("vae")),
                      path: ParameterStore(seed: 1).root)
    }

    /// Trains `task` 40 steps on `data`'s images at 16 px, batch 4, lr 3e-3; the loss of each step.
    func trainFortySteps(_ task: VAETrainingTask, on data: TinyImageData) throws -> [Double] {
        let out = output()
        defer { try? FileManager.default.removeItem(at: out) }
        let dataset = CaptionedImageDataset(records: data.records, imageRoot: data.root, resolution: 16, template: CaptionTemplate())
        let samples = try (0..<dataset.count).map { ImageSample(pixels: try dataset.pixels($0), shape: [3, 16, 16]) }
        var settings = TrainingSettings()
        settings.batchSize = 4
        settings.learningRate = 3e-3
        settings.totalSteps = 40
        settings.checkpointEvery = 1000
        let trainer = Trainer(task: task, settings: settings, output: out, dataCount: samples.count) { samples[$0] }
        var losses: [Double] = []
        try trainer.run(report: { losses.append($0.loss) })
        return losses
    }

    @Test func vaeLossFalls() throws {
        let data = try TinyImageData(count: 4, side: 16)
        defer { try? FileManager.default.removeItem(at: data.root) }
        let losses = try trainFortySteps(VAETrainingTask(vae: smallVAE()), on: data)
        let early = losses.prefix(5).reduce(0, +), late = losses.suffix(5).reduce(0, +)
        #expect(late < 0.6 * early, "VAE loss \(losses)")

        // The KL term is LDM's: zero for the standard normal posterior, positive otherwise.
        let standard = DiagonalGaussianDistribution(Tensor.zeros([1, 8, 2, 2]))
        #expect(VAETrainingTask.klDivergence(standard).item() == 0)
        let shifted = DiagonalGaussianDistribution(Tensor.cat([Tensor.ones([1, 4, 2, 2]), Tensor.zeros([1, 4, 2, 2])], dim: 1))
        #expect(abs(VAETrainingTask.klDivergence(shifted).item() - 8) < 1e-5)   // ½·Σ mean² over 16 values
    }

    /// A decoder-only task moves the decoder toward the images and leaves every encoder weight as it was.
    @Test func decoderOnlyTrainingLeavesTheEncoder() throws {
        let data = try TinyImageData(count: 4, side: 16)
        defer { try? FileManager.default.removeItem(at: data.root) }
        let vae = try smallVAE()
        let before = Dictionary(uniqueKeysWithValues: vae.store.names.map { ($0, vae.store[$0]!.floats()) })
        let task = VAETrainingTask(vae: vae, decoderOnly: true)
        #expect(task.parameters.count == vae.store.names.filter { n in VAETrainingTask.decoderPrefixes.contains { n.hasPrefix($0) } }.count)
        let losses = try trainFortySteps(task, on: data)
        let early = losses.prefix(5).reduce(0, +), late = losses.suffix(5).reduce(0, +)
        #expect(late < 0.7 * early, "decoder loss \(losses)")
        for name in vae.store.names {
            let moved = vae.store[name]!.floats() != before[name]!
            let decoder = VAETrainingTask.decoderPrefixes.contains { name.hasPrefix($0) }
            #expect(moved == decoder, "\(name): moved \(moved)")
        }
    }

    /// `--train vae-decoder` publishes the base model with a new decoder: its encoder, scaling factor, UNet and text
    /// encoder as they were, and its prism.json and caption template (less the base's name).
    @Test func aDecoderRunPublishesTheBaseWithANewDecoder() throws {
        let data = try TinyImageData(count: 4)
        let base = output(), out = output()
        defer { for u in [base, out, data.root] { try? FileManager.default.removeItem(at: u) } }
        try FileManager.default.copyItem(at: diffusionFixture("saved-diffusers-0.42"), to: base)
        var detail = CaptionTemplate()
        detail.detail = true
        try JSONFile.encode(value: detail).write(to: base.appendingPathComponent("words.json"))
        let defaults = ModelDefaults(name: "the base", captions: "words.json", editing: .init(guidance: 2.5))
        try JSONFile.encode(value: defaults).write(to: base.appendingPathComponent(ModelDefaults.fileName))

        var options = TrainingRunOptions(source: .base(base), records: data.records, imageRoot: data.root,
                                         template: CaptionTemplate(), output: out)
        options.component = .vaeDecoder
        options.resolution = 32
        options.settings.batchSize = 2
        options.settings.learningRate = 1e-2
        options.settings.totalSteps = 2
        options.settings.checkpointEvery = 2
        try TrainingRun(options).run()

        func tensors(_ folder: URL, _ component: String) throws -> [String: Tensor] {
            let file = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent(component).path)
                .first { $0.hasSuffix(".safetensors") }!
            return try Safetensors.load(folder.appendingPathComponent(component).appendingPathComponent(file))
        }
        let old = try tensors(base, "vae"), new = try tensors(out, "vae")
        #expect(old.keys.sorted() == new.keys.sorted())
        var decoderMoved = false
        for (name, tensor) in old {
            let same = tensor.to(.float32).floats() == new[name]!.to(.float32).floats()
            if VAETrainingTask.decoderPrefixes.contains(where: { name.hasPrefix($0) }) {
                decoderMoved = decoderMoved || !same
            } else {
                #expect(same, "\(name) changed")
            }
        }
        #expect(decoderMoved)
        let config = { (folder: URL) in try DiffusersFolder.config(AutoencoderKLConfig.self, in: folder.appendingPathComponent("vae")) }
        #expect(try config(out).scalingFactor == config(base).scalingFactor)
        // (The fixture's text encoder is saved with the old keys, without transformers' "text_model." prefix.)
        func unprefixed(_ t: [String: Tensor]) -> [String: Tensor] {
            Dictionary(uniqueKeysWithValues: t.map { ($0.key.hasPrefix("text_model.") ? String($0.key.dropFirst(11)) : $0.key, $0.value) })
        }
        for component in ["unet", "text_encoder"] {
            let was = unprefixed(try tensors(base, component)), now = unprefixed(try tensors(out, component))
            #expect(was.keys.sorted() == now.keys.sorted())
            #expect(was.allSatisfy { $0.value.to(.float32).floats() == now[$0.key]!.to(.float32).floats() }, "\(component) changed")
        }
        var expected = defaults
        expected.name = nil
        #expect(try ModelDefaults.load(from: out) == expected)
        #expect(try CaptionTemplate.load(out.appendingPathComponent("words.json")) == detail)
        _ = try StableDiffusionPipeline.load(from: out)
    }

    @Test func theVAEDecoderIsFineTunedFromABaseAndTheWholeVAEFromAConfig() throws {
        let data = try TinyImageData(count: 2)
        let out = output()
        defer { for u in [out, data.root] { try? FileManager.default.removeItem(at: u) } }
        var options = TrainingRunOptions(source: .config(Self.tiny, vae: nil), records: data.records, imageRoot: data.root,
                                         template: CaptionTemplate(), output: out)
        options.component = .vaeDecoder
        options.resolution = 32
        let fromConfig = #expect(throws: TrainingRunError.self) { try TrainingRun(options) }
        #expect(fromConfig?.description.contains("--base") == true)
        options.source = .base(diffusionFixture("saved-diffusers-0.42"))
        options.component = .vae
        let wholeVAE = #expect(throws: TrainingRunError.self) { try TrainingRun(options) }
        #expect(wholeVAE?.description.contains("--train vae-decoder") == true)
    }

    @Test func killedAndResumedRunEqualsUninterrupted() throws {
        let data = try TinyImageData()
        let straightOut = output(), out = output()
        defer { for u in [straightOut, out, data.root] { try? FileManager.default.removeItem(at: u) } }
        // Latents re-encoded on every use give the same run as cached ones.
        var uncached = unetOptions(data, output: straightOut, steps: 5)
        uncached.cacheLatents = false
        let straight = try TrainingRun(uncached)
        try straight.run()

        let first = try TrainingRun(unetOptions(data, output: out, steps: 5))
        #expect(throws: Killed.self) { try first.run(afterStep: { if $0 == 4 { throw Killed() } }) }
        #expect(first.checkpoints.steps() == [3])

        // Starting again without --resume is refused; with it, the run continues from step 3.
        #expect(throws: TrainingRunError.self) { try TrainingRun(unetOptions(data, output: out, steps: 5)) }
        var options = unetOptions(data, output: out, steps: 5)
        options.resume = true
        var other = options
        other.unet.prediction = .v
        let changed = #expect(throws: TrainingRunError.self) { try TrainingRun(other) }
        #expect(changed?.description.contains("prediction: epsilon → v") == true)
        let resumed = try TrainingRun(options)
        var messages: [String] = []
        try resumed.run(message: { messages.append($0) })
        #expect(resumed.startStep == 3, "\(messages)")
        for (a, b) in [(straight.unet.store, resumed.unet.store), (straight.textEncoder.store, resumed.textEncoder.store)] {
            for name in a.names {
                #expect(a[name]!.floats() == b[name]!.floats(), "\(name) differs after 5 steps")
            }
        }
        // The published folders (EMA weights) agree too.
        let p1 = try Safetensors.load(straightOut.appendingPathComponent("unet/diffusion_pytorch_model.safetensors"))
        let p2 = try Safetensors.load(out.appendingPathComponent("unet/diffusion_pytorch_model.safetensors"))
        #expect(p1.keys.sorted() == p2.keys.sorted())
        for (k, v) in p1 { #expect(v.floats() == p2[k]!.floats(), "published \(k) differs") }
    }

    @Test func publishedFolderLoadsAndGenerates() throws {
        let data = try TinyImageData()
        let out = output()
        defer { for u in [out, data.root] { try? FileManager.default.removeItem(at: u) } }
        var options = unetOptions(data, output: out, steps: 3)
        options.sampleEvery = 3
        options.sampleSteps = 2
        options.samplePrompts = ["Chest X-ray of a woman with cardiomegaly", "Chest X-ray of a man with no findings"]
        options.saveDType = .float16
        let run = try TrainingRun(options)
        try run.run()

        for folder in [out, run.checkpoints.url(step: 3).appendingPathComponent("model")] {
            let image = try generateSmall(from: folder)
            #expect(image.shape == [1, 3, 32, 32])
            let values = image.floats()
            #expect(values.allSatisfy { $0.isFinite })
        }
        let published = try Safetensors.load(out.appendingPathComponent("unet/diffusion_pytorch_model.safetensors"))
        #expect(published.values.allSatisfy { $0.dtype == .float16 })
        #expect(published.keys.sorted() == run.unet.store.names.sorted())

        let grid = try Image(contentsOf: run.samplesFolder.appendingPathComponent("step-000003.png"))
        #expect(grid.width == 2 * 32 + 2 && grid.height == 32)
        let curve = try Image(contentsOf: run.lossCurveURL)
        #expect(curve.width == 640 && curve.height == 360)
        #expect(run.step == 3)
    }

    @Test func vaeRunPublishesACalibratedVAEAndReconstructions() throws {
        let data = try TinyImageData(count: 4)
        let out = output()
        defer { for u in [out, data.root] { try? FileManager.default.removeItem(at: u) } }
        var options = TrainingRunOptions(source: .config(Self.tiny, vae: nil), records: data.records, imageRoot: data.root,
                                         template: CaptionTemplate(), output: out)
        options.component = .vae
        options.resolution = 32
        options.settings.batchSize = 2
        options.settings.totalSteps = 2
        options.settings.checkpointEvery = 2
        options.sampleEvery = 2
        let run = try TrainingRun(options)
        try run.run()

        // The published VAE's scaling factor makes the calibration latents unit-variance.
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("vae/config.json"))) as! [String: Any]
        let factor = try #require(config["scaling_factor"] as? Double)
        #expect(abs(factor - run.vaeTask!.calibratedScalingFactor()!) < 1e-12)
        #expect(factor != 0.18215)
        _ = try StableDiffusionPipeline.load(from: out)

        // Top row: the images themselves (gray, [0, 1]); bottom row: their reconstructions.
        let grid = try Image(contentsOf: run.samplesFolder.appendingPathComponent("step-000002.png"))
        #expect(grid.width == 4 * 32 + 3 * 2 && grid.height == 2 * 32 + 2)
        let first = try Image(contentsOf: data.root.appendingPathComponent(data.records[0].path))
        let top = (0..<32).flatMap { y in (0..<32).map { x in Int(grid[x, y, 0]) } }
        let original = (0..<32).flatMap { y in (0..<32).map { x in Int(first[x, y, 0]) } }
        #expect(zip(top, original).allSatisfy { abs($0 - $1) <= 1 })
    }

    @Test func everyLabelStateBecomesTheTemplatesCaptionTokens() throws {
        let data = try TinyImageData()
        defer { try? FileManager.default.removeItem(at: data.root) }
        for policy in UncertainPolicy.allCases {
            var template = CaptionTemplate()
            template.uncertain = policy.rawValue
            template.stateAbsent = true
            let out = output()
            defer { try? FileManager.default.removeItem(at: out) }
            var options = unetOptions(data, output: out, steps: 1)
            options.template = template
            let run = try TrainingRun(options)
            for i in 0..<data.records.count {
                let caption = template.caption(for: data.records[i])
                let cardiomegaly = data.records[i].labels["Cardiomegaly"]!
                let present = cardiomegaly == .positive || (cardiomegaly == .uncertain && policy == .positive)
                let absent = cardiomegaly == .negative || (cardiomegaly == .uncertain && policy == .negative)
                let parts = caption.components(separatedBy: ", without ")
                #expect(parts[0].contains("cardiomegaly") == present, "\(policy) \(cardiomegaly): \(caption)")
                #expect((parts.count > 1 && parts[1].contains("cardiomegaly")) == absent, "\(policy) \(cardiomegaly): \(caption)")
                #expect(run.dataset.caption(i) == caption)
                let ids = run.tokenizer.encode(caption, maxLength: 77, padding: true).ids
                #expect(ids.count == 77 && ids[0] == run.tokenizer.bosTokenID && ids.contains(run.tokenizer.eosTokenID))
            }
        }
    }

    /// A run with other captions publishes its template and names it in prism.json, so that the model is edited
    /// with the captions it learned; a run with the default captions writes neither.
    @Test func aRunWithItsOwnCaptionsPublishesTheTemplate() throws {
        let data = try TinyImageData(count: 2)
        defer { try? FileManager.default.removeItem(at: data.root) }
        var detail = CaptionTemplate()
        detail.detail = true
        detail.template = "An X-ray of {a} {sex} with {findings}"
        for template in [detail, CaptionTemplate()] {
            let out = output()
            defer { try? FileManager.default.removeItem(at: out) }
            var options = unetOptions(data, output: out, steps: 1)
            options.template = template
            try TrainingRun(options).publishFrozenComponents()
            let defaults = try ModelDefaults.load(from: out)
            if template == CaptionTemplate() {
                #expect(defaults == ModelDefaults() && !FileManager.default.fileExists(atPath: out.appendingPathComponent("captions.json").path))
            } else {
                let file = try #require(defaults.captionsURL(in: out))
                #expect(file.lastPathComponent == "captions.json")
                #expect(try CaptionTemplate.load(file) == detail)
            }
        }
    }

    @Test func theSchedulerConfigSaysWhatTheUNetPredicts() throws {
        let data = try TinyImageData(count: 2)
        defer { try? FileManager.default.removeItem(at: data.root) }
        for (prediction, name) in [(UNetTrainingTask.Prediction.v, "v_prediction"), (.epsilon, "epsilon")] {
            let out = output()
            defer { try? FileManager.default.removeItem(at: out) }
            var options = unetOptions(data, output: out, steps: 1)
            options.unet.prediction = prediction
            let run = try TrainingRun(options)
            let config = try JSONDecoder().decode(SchedulerConfig.self, from: ConfigFile.encode(run.schedulerConfig))
            #expect(config.predictionType == name)
            #expect(config.betaSchedule == "scaled_linear")
        }
    }

    @Test func missingImagesAndBadSourcesAreReported() throws {
        let data = try TinyImageData(count: 2)
        let out = output(), busy = output(), noVAEOut = output()
        defer { for u in [out, busy, noVAEOut, data.root] { try? FileManager.default.removeItem(at: u) } }
        var options = unetOptions(data, output: out, steps: 1)
        options.records.append(Record(path: "nowhere.png", patientID: "x", line: 9))
        let missing = #expect(throws: CheckpointError.self) { try TrainingRun(options) }
        #expect(missing?.description.contains("manifest line 9") == true)

        // Two processes never train into one folder.
        try FileManager.default.createDirectory(at: busy, withIntermediateDirectories: true)
        let held = try RunFolder(busy).lock()
        defer { close(held) }
        let locked = #expect(throws: TrainingRunError.self) { try RunFolder(busy).lock() }
        #expect(locked?.description.contains("another training process (pid \(getpid()))") == true)

        var noVAE = unetOptions(data, output: noVAEOut, steps: 1)
        noVAE.source = .config(Self.tiny, vae: nil)
        let error = #expect(throws: TrainingRunError.self) { try TrainingRun(noVAE) }
        #expect(error?.description.contains("--vae") == true)
    }
    @Test func aGroundedRunNeedsEveryImagesMasksAndResumesOnlyGrounded() throws {
        let data = try TinyImageData(count: 4)
        let out = output(), masks = output()
        defer { for u in [out, masks, data.root] { try? FileManager.default.removeItem(at: u) } }
        // Each image's heart: its top-left quarter (the tiny captions name cardiomegaly and pleural effusion).
        let quarter = (0..<(32 * 32)).map { UInt16($0 % 32 < 16 && $0 / 32 < 16 ? 255 : 0) }
        for r in data.records.dropLast() {
            let folder = masks.appendingPathComponent(URL(fileURLWithPath: r.path).deletingPathExtension().lastPathComponent)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Image(width: 32, height: 32, channels: 1, samples: quarter).writePNG(to: folder.appendingPathComponent("heart.png"))
        }
        var options = unetOptions(data, output: out, steps: 3)
        options.unet.groundingWeight = 0.5
        let unnamed = #expect(throws: TrainingRunError.self) { try TrainingRun(options) }
        #expect(unnamed?.description.contains("--grounding-masks") == true)

        options.groundingMasks = masks
        let missing = #expect(throws: TrainingRunError.self) { try TrainingRun(options) }
        #expect(missing?.description.contains("img03") == true)

        options.records.removeLast()
        let run = try TrainingRun(options)
        #expect(throws: Killed.self) { try run.run(afterStep: { if $0 == 3 { throw Killed() } }) }
        #expect(run.checkpoints.steps() == [3])
        // A resume must ground as the run did.
        var plain = options
        plain.resume = true
        plain.unet.groundingWeight = nil
        let changed = #expect(throws: TrainingRunError.self) { try TrainingRun(plain) }
        #expect(changed?.description.contains("grounding") == true)
    }

    /// `unetOptions` for images with moderate cardiomegaly and a small left pleural effusion, two detail phrases.
    func detailedOptions(_ data: TinyImageData, output: URL) -> TrainingRunOptions {
        var options = unetOptions(data, output: output, steps: 2)
        options.records = data.records.map { r in
            var r = r
            r.labels["Cardiomegaly"] = .positive
            r.labels["Pleural Effusion"] = .positive
            r.detail.cardiomegalyGrade = .moderate
            r.detail.effusionSide = .left
            r.detail.effusionSize = .small
            return r
        }
        return options
    }

    /// With detail dropout, a share of each image's draws is captioned with the plain words: which ones is a pure
    /// function of the image and the epoch (a resumed run draws the same), both captions reach every image over the
    /// epochs, and a template that says no detail, or a resume with another share, is refused.
    @Test func detailDropoutCaptionsAShareOfDrawsWithThePlainWords() throws {
        let data = try TinyImageData(count: 6)
        let out = output()
        defer { for u in [out, data.root] { try? FileManager.default.removeItem(at: u) } }
        var options = detailedOptions(data, output: out)
        options.detailDropout = 0.5
        let plainOnly = #expect(throws: TrainingRunError.self) { try TrainingRun(options) }
        #expect(plainOnly?.description.contains("--detail-dropout") == true && plainOnly?.description.contains("\"detail\": true") == true)

        options.template.detail = true
        let run = try TrainingRun(options)
        let cache = try #require(run.latentCache)
        let ids = { (template: CaptionTemplate, i: Int) in
            run.tokenizer.encode(template.caption(for: options.records[i]), maxLength: 77, padding: true).ids
        }
        var plainDraws = 0, draws = 0
        for i in options.records.indices {
            let detailed = ids(options.template, i), plain = ids(options.template.withoutDetail, i)
            #expect(options.template.caption(for: options.records[i]) != options.template.withoutDetail.caption(for: options.records[i]))
            var seen: Set<[Int]> = []
            for epoch in 0..<40 {
                let visit = SampleVisit(index: i, epoch: epoch)
                let drawn = cache.caption(visit).ids
                #expect(drawn == detailed || drawn == plain)
                #expect(cache.caption(visit).ids == drawn)
                seen.insert(drawn)
                draws += 1
                if drawn == plain { plainDraws += 1 }
            }
            #expect(seen.count == 2, "image \(i) drew only one caption in 40 epochs")
        }
        #expect(abs(Double(plainDraws) / Double(draws) - 0.5) < 0.12, "\(plainDraws) of \(draws) draws plain")

        #expect(TrainingRun.runDescription(options)["detail_dropout"] == "0.5")
        options.detailDropout = nil
        #expect(TrainingRun.runDescription(options)["detail_dropout"] == nil)
        #expect((0..<50).allSatisfy { !DetailDropout.off.dropsDetail(SampleVisit(index: $0, epoch: 1)) })
        #expect((0..<50).allSatisfy { DetailDropout(share: 1, seed: 3).dropsDetail(SampleVisit(index: $0, epoch: 1)) })
    }

    /// With phrase detail dropout each detail phrase is said plainly on its own, so that an image's draws include
    /// the captions that mix plain and detailed phrases; each phrase is plain in about its share of the draws, the
    /// draws are a pure function of the visit, and without phrase dropout a run draws exactly what it drew before.
    @Test func phraseDetailDropoutTrainsCaptionsThatMixPlainAndDetailedPhrases() throws {
        let data = try TinyImageData(count: 4)
        let out = output()
        defer { for u in [out, data.root] { try? FileManager.default.removeItem(at: u) } }
        var options = detailedOptions(data, output: out)
        options.phraseDetailDropout = 0.3
        let plainOnly = #expect(throws: TrainingRunError.self) { try TrainingRun(options) }
        #expect(plainOnly?.description.contains("--phrase-detail-dropout") == true)

        options.template.detail = true
        let run = try TrainingRun(options)
        let cache = try #require(run.latentCache)
        let t = options.template
        for i in options.records.indices {
            let record = options.records[i]
            let text = { (plain: Set<String>) in
                run.tokenizer.encode(t.caption(for: record, plain: plain), maxLength: 77, padding: true).ids
            }
            let full = text([]), plainHeart = text(["Cardiomegaly"]), plainEffusion = text(["Pleural Effusion"])
            let both = text(["Cardiomegaly", "Pleural Effusion"])
            var counts: [[Int]: Int] = [:]
            for epoch in 0..<400 {
                let drawn = cache.caption(SampleVisit(index: i, epoch: epoch)).ids
                #expect(cache.caption(SampleVisit(index: i, epoch: epoch)).ids == drawn)
                counts[drawn, default: 0] += 1
            }
            #expect(Set(counts.keys) == [full, plainHeart, plainEffusion, both], "image \(i): \(counts.count) captions drawn")
            // Each phrase plain in 0.3 of the draws, the two independently (0.09 both).
            let heartPlain = Double(counts[plainHeart, default: 0] + counts[both, default: 0]) / 400
            let effusionPlain = Double(counts[plainEffusion, default: 0] + counts[both, default: 0]) / 400
            #expect(abs(heartPlain - 0.3) < 0.08 && abs(effusionPlain - 0.3) < 0.08, "\(heartPlain) \(effusionPlain)")
            #expect(abs(Double(counts[both, default: 0]) / 400 - 0.09) < 0.05)
        }
        #expect(TrainingRun.runDescription(options)["phrase_detail_dropout"] == "0.3")
        #expect(TrainingRun.runDescription(options)["detail_dropout"] == nil)

        // The caption-wide draw is the one a run without phrase dropout made: all phrases plain exactly then.
        let captionWide = DetailDropout(share: 0.4, seed: 9), both = DetailDropout(share: 0.4, phraseShare: 0.5, seed: 9)
        for index in 0..<200 {
            let visit = SampleVisit(index: index, epoch: 3)
            #expect(captionWide.plainPhrases(visit, phrases: 3) == (captionWide.dropsDetail(visit) ? 7 : 0))
            if captionWide.dropsDetail(visit) { #expect(both.plainPhrases(visit, phrases: 3) == 7) }
        }
        #expect(Set((0..<200).map { both.plainPhrases(SampleVisit(index: $0, epoch: 3), phrases: 3) }) == Set(0...7))
        #expect(DetailDropout.off.patterns(phrases: 3) == [0] && captionWide.patterns(phrases: 2) == [0, 3]
                && both.patterns(phrases: 2) == [0, 1, 2, 3])
    }

    /// `prism train --base` on a folder as diffusers 0.42 + transformers 5 save it (tokenizer.json only, DPM-Solver++
    /// config with `-Infinity`): fine-tunes, resumes after a kill to the same weights, and publishes a folder that
    /// keeps the scheduler's values and loads again.
    @Test func fineTunesAndResumesAFolderSavedByDiffusers042() throws {
        let data = try TinyImageData(count: 4)
        let straightOut = output(), out = output()
        defer { for u in [straightOut, out, data.root] { try? FileManager.default.removeItem(at: u) } }
        func options(_ output: URL) -> TrainingRunOptions {
            var o = unetOptions(data, output: output, steps: 5)
            o.source = .base(diffusionFixture("saved-diffusers-0.42"))
            o.component = .unet
            o.resolution = 32
            return o
        }
        let straight = try TrainingRun(options(straightOut))
        try straight.run()
        let first = try TrainingRun(options(out))
        #expect(throws: Killed.self) { try first.run(afterStep: { if $0 == 4 { throw Killed() } }) }
        var again = options(out)
        again.resume = true
        let resumed = try TrainingRun(again)
        try resumed.run()
        #expect(resumed.startStep == 3)
        for name in straight.unet.store.names {
            #expect(straight.unet.store[name]!.floats() == resumed.unet.store[name]!.floats(), "\(name) differs")
        }
        // The published tokenizer has both forms, whichever the source had (this one: tokenizer.json alone).
        for name in ["tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("tokenizer/\(name)").path), "\(name)")
        }
        let scheduler = try SchedulerConfig.load(from: out.appendingPathComponent("scheduler"))
        #expect(scheduler.className == "DPMSolverMultistepScheduler" && scheduler.lambdaMinClipped == -.infinity)
        #expect(scheduler.predictionType == "epsilon")
        #expect(try generateSmall(from: out).floats().allSatisfy { $0.isFinite })
    }
}
