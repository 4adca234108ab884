import ArgumentParser
import Foundation
import Testing
import Torch
@testable import prism

/// Every number option refuses NaN and ±infinity and the values outside its range, naming itself and what it allows.
/// `base` is a valid command line whose model (and files) do not exist: a refusal that mentions the option proves
/// the value was refused before anything was loaded or read.
func expectNumbersRefused<C: ParsableCommand>(_ type: C.Type, _ base: [String], _ cases: [(option: String, bad: [String], allowed: String)],
                                             sourceLocation: SourceLocation = #_sourceLocation) {
    for (option, bad, allowed) in cases {
        for value in ["nan", "inf", "-inf"] + bad {
            expectRefused(type, base + ["\(option)=\(value)"], saying: "\(option) \(value)", allowed, sourceLocation: sourceLocation)
        }
    }
}

/// Whole-number options refuse values below their minimum, naming the option and the minimum.
func expectCountsRefused<C: ParsableCommand>(_ type: C.Type, _ base: [String], _ cases: [(option: String, bad: String, allowed: String)],
                                            sourceLocation: SourceLocation = #_sourceLocation) {
    for (option, bad, allowed) in cases {
        expectRefused(type, base + ["\(option)=\(bad)"], saying: "\(option) \(bad)", allowed, sourceLocation: sourceLocation)
    }
}

let missingModel = "/nonexistent/prism-model"

@Suite struct CommandValidationTests {
    // MARK: generate

    let generate = ["--prompt", "chest x-ray", "--model", missingModel, "--output", "/nonexistent/out.png"]

    @Test func generateParsesItsOptions() throws {
        let c = try GenerateCommand.parse(generate + ["--steps", "3", "--guidance", "5", "--device", "cpu", "--dtype", "bf16",
                                                      "--init-image", "in.png", "--strength", "0.6", "--num-images", "2",
                                                      "--height", "64", "--width", "96", "--scheduler", "dpmpp", "--seed", "7"])
        #expect(c.denoising.steps == 3 && c.guidance == 5 && c.loading.device == "cpu" && c.strength == 0.6 && c.numImages == 2)
        #expect(c.height == 64 && c.width == 96 && c.seed == 7 && c.initImage == "in.png")
        #expect(try c.precision.value() == .bfloat16 && c.schedulerKind() == .dpmpp)
    }

    @Test func generateRefusesBadValuesBeforeLoading() {
        expectNumbersRefused(GenerateCommand.self, generate, [("--guidance", ["-1"], ">= 0")])
        expectNumbersRefused(GenerateCommand.self, generate + ["--init-image", "in.png"], [("--strength", ["0", "1.5"], "in (0, 1]")])
        expectCountsRefused(GenerateCommand.self, generate, [("--steps", "0", "1 or more"), ("--num-images", "0", "1 or more")])
        expectRefused(GenerateCommand.self, generate + ["--height", "60"], saying: "--height 60", "multiple of 8")
        expectRefused(GenerateCommand.self, generate + ["--device", "tpu"], saying: "--device tpu", "cpu, cuda")
        expectRefused(GenerateCommand.self, generate + ["--dtype", "fp16"], saying: "--dtype fp16")
        expectRefused(GenerateCommand.self, generate + ["--scheduler", "euler"], saying: "--scheduler euler")
        expectRefused(GenerateCommand.self, generate + ["--strength", "0.5"], saying: "--strength needs --init-image")
    }

    /// A CUDA device this machine does not have is refused in validate(), instead of crashing inside libtorch when
    /// the first weight is copied to it.
    @Test func aCUDADeviceThatIsNotHereIsRefused() {
        let absent = "cuda:\(Device.cudaAvailable ? Device.cudaDeviceCount : 0)"
        let bench = ["--model", missingModel, "--latent-size", "8"]
        expectRefused(GenerateCommand.self, generate + ["--device", absent], saying: "--device \(absent)")
        expectRefused(BenchCommand.UNet.self, bench + ["--device", absent], saying: "--device \(absent)")
        expectRefused(BenchCommand.VAEDecode.self, bench + ["--device", absent], saying: "--device \(absent)")
        expectRefused(BenchCommand.VAEEncode.self, bench + ["--device", absent], saying: "--device \(absent)")
        expectRefused(BenchCommand.TextEncoder.self, ["--device", absent], saying: "--device \(absent)")
        if !Device.cudaAvailable {
            expectRefused(GenerateCommand.self, generate + ["--device", "cuda"],
                          saying: "--device cuda: no CUDA device here", "CUDA available: no", "--device cpu")
            expectRefused(BenchCommand.UNet.self, bench + ["--device", "cuda"], saying: "--device cuda: no CUDA device here")
            #expect(throws: Never.self) { try GenerateCommand.parse(generate + ["--device", "auto"]) }
        }
    }

    // MARK: edit

    let edit = ["--image", "/nonexistent/x.png", "--model", missingModel, "--labels", "Cardiomegaly=1",
                "--remove", "cardiomegaly", "--output", "/nonexistent/out"]

    @Test func editParsesItsOptions() throws {
        let c = try EditCommand.parse(edit + ["--steps", "4", "--guidance", "3", "--cross-replace", "0.6", "--self-replace", "0.4",
                                              "--mask-threshold", "0.2", "--blend-start", "0.1", "--feather", "0",
                                              "--change-threshold", "0", "--reweight", "cardiomegaly=0.5", "--mask", "none",
                                              "--inversion", "direct", "--cache", "none"])
        let s = c.editing.settings()
        #expect(s.steps == 4 && s.guidance == 3 && s.crossReplace == 0.6 && s.selfReplace == 0.4 && s.maskThreshold == 0.2)
        #expect(s.blendStart == 0.1 && s.feather == 0 && s.changeThreshold == 0 && s.method == .direct)
        #expect(try c.reweights().map(\.0) == ["cardiomegaly"] && c.reweights().map(\.1) == [0.5])
        #expect(c.editing.masking.mask == "none" && c.cache == "none")
    }

    @Test func editRefusesBadValuesBeforeLoading() {
        expectNumbersRefused(EditCommand.self, edit, [
            ("--guidance", ["-1"], ">= 0"),
            ("--cross-replace", ["2", "-0.1"], "in [0, 1]"),
            ("--self-replace", ["1.5"], "in [0, 1]"),
            ("--mask-threshold", ["2", "0", "1"], "in (0, 1)"),
            ("--blend-start", ["1.2"], "in [0, 1]"),
            ("--change-threshold", ["1", "-0.5"], "in [0, 1)"),
        ])
        expectCountsRefused(EditCommand.self, edit, [("--feather", "-5", "0 or more"), ("--steps", "0", "1 or more")])
        for bad in ["cardiomegaly", "cardiomegaly=x", "=2", "cardiomegaly=nan", "cardiomegaly=inf", "cardiomegaly=-1"] {
            expectRefused(EditCommand.self, edit + ["--reweight", bad], saying: "--reweight \(bad)")
        }
        expectRefused(EditCommand.self, edit + ["--dtype", "fp64"], saying: "--dtype fp64")
        expectRefused(EditCommand.self, edit + ["--cache", ""], saying: "--cache")
    }

    // MARK: train

    let train = ["--data", "/nonexistent/labels.csv", "--images", "/nonexistent/images", "--base", missingModel,
                 "--output", "/nonexistent/run", "--steps", "10"]

    @Test func trainParsesItsOptions() throws {
        let c = try TrainCommand.parse(train + ["--lr", "1e-4", "--ema", "0.9999", "--snr-gamma", "5", "--noise-offset", "0.05",
                                                "--caption-dropout", "0.2", "--kl-weight", "0", "--sample-guidance", "3",
                                                "--max-grad-norm", "0.5", "--weight-decay", "0", "--batch", "2", "--grad-accum", "1",
                                                "--resolution", "64", "--warmup", "0", "--threads", "2", "--split", "train"])
        #expect(c.loop.lr == 1e-4 && c.ema == 0.9999 && c.snrGamma == 5 && c.noiseOffset == 0.05 && c.captionDropout == 0.2)
        #expect(c.klWeight == 0 && c.sampleGuidance == 3 && c.loop.maxGradNorm == 0.5 && c.loop.weightDecay == 0)
        #expect(c.loop.batch == 2 && c.gradAccum == 1 && c.resolution == 64 && c.loop.warmup == 0 && c.loop.threads == 2
                    && c.split.split == "train")
    }

    @Test func trainRefusesBadValuesBeforeLoading() throws {
        expectNumbersRefused(TrainCommand.self, train, [
            ("--lr", ["0", "-0.5"], "> 0"),
            ("--snr-gamma", ["0"], "> 0"),
            ("--noise-offset", ["-0.1"], ">= 0"),
            ("--caption-dropout", ["1.5"], "in [0, 1]"),
            ("--kl-weight", ["-1"], ">= 0"),
            ("--ema", ["1", "-0.5"], "in [0, 1)"),
            ("--sample-guidance", ["-2"], ">= 0"),
            ("--max-grad-norm", ["0"], "> 0"),
            ("--weight-decay", ["-0.01"], ">= 0"),
            ("--ground-attention", ["0", "-1"], "> 0"),
            ("--detail-dropout", ["-0.1", "1.5"], "in [0, 1]"),
            ("--phrase-detail-dropout", ["-0.1", "1.5"], "in [0, 1]"),
        ])
        expectCountsRefused(TrainCommand.self, train, [
            ("--batch", "0", "1 or more"), ("--grad-accum", "0", "1 or more"), ("--resolution", "4", "8 or more"),
            ("--warmup", "-1", "0 or more"), ("--checkpoint-every", "0", "1 or more"), ("--keep-checkpoints", "0", "1 or more"),
            ("--sample-every", "0", "1 or more"), ("--sample-steps", "0", "1 or more"), ("--loader-threads", "0", "1 or more"),
            ("--threads", "0", "1 or more"),
        ])
        expectRefused(TrainCommand.self, Array(train.dropLast(2)) + ["--epochs", "0"], saying: "--epochs 0")
        expectRefused(TrainCommand.self, train + ["--dtype", "fp16"], saying: "--dtype fp16", "fp32 or bf16")
        expectRefused(TrainCommand.self, train + ["--save-dtype", "bf16"], saying: "--save-dtype bf16", "fp32 or fp16")
        expectRefused(TrainCommand.self, train + ["--split", "dev"], saying: "--split dev")
        expectRefused(TrainCommand.self, train + ["--config", "configs/smoke"], saying: "--base", "--config")
        expectRefused(TrainCommand.self, train + ["--ground-attention", "0.05"], saying: "--grounding-masks")
        expectRefused(TrainCommand.self, train + ["--grounding-masks", "/nonexistent/masks"], saying: "--ground-attention")
        let fromConfig = Array(train.prefix(4)) + ["--config", "configs/smoke", "--output", "/nonexistent/out", "--steps", "10", "--train", "vae"]
        expectRefused(TrainCommand.self, fromConfig + ["--detail-dropout", "0.5"], saying: "--detail-dropout", "VAE")
        expectRefused(TrainCommand.self, fromConfig + ["--phrase-detail-dropout", "0.5"], saying: "--phrase-detail-dropout", "VAE")
        expectRefused(TrainCommand.self, Array(fromConfig.dropLast()) + ["vae-decoder"], saying: "--train vae-decoder", "--base")
        expectRefused(TrainCommand.self, train + ["--train", "vae"], saying: "--train vae", "--train vae-decoder")
        expectRefused(TrainCommand.self, train + ["--train", "vae-decoder", "--detail-dropout", "0.5"], saying: "--detail-dropout", "VAE")
        let decoder = try TrainCommand.parse(train + ["--train", "vae-decoder"])
        #expect(decoder.train == .vaeDecoder && decoder.base != nil)
    }

    // MARK: caption, tokenize, inspect

    @Test func captionParsesAndRefusesBadRows() throws {
        let c = try CaptionCommand.parse(["--data", "/nonexistent/labels.csv", "--row", "3", "--state-absent"])
        #expect(c.row == 3 && c.captions.stateAbsent && c.data.data == "/nonexistent/labels.csv")
        expectRefused(CaptionCommand.self, ["--data", "x.csv", "--row", "0"], saying: "--row 0", "from 1")
        expectRefused(CaptionCommand.self, ["--data", "x.csv"], saying: "--row N or --all")
        expectRefused(CaptionCommand.self, ["--data", "x.csv", "--format", "dicom", "--all"], saying: "dicom")
    }

    @Test func tokenizeParsesAndRefusesAShortMaximum() throws {
        let c = try TokenizeCommand.parse(["--model", missingModel, "--max-length", "10", "--no-padding", "no findings"])
        #expect(c.maxLength == 10 && c.noPadding && c.text == "no findings")
        expectRefused(TokenizeCommand.self, ["--model", missingModel, "--max-length", "1", "x"], saying: "--max-length", "at least 2")
    }

    @Test func inspectParsesAndNamesAPathThatIsNotThere() throws {
        let c = try InspectCommand.parse(["/nonexistent/unet", "--summary"])
        #expect(c.path == "/nonexistent/unet" && c.summary)
        let refused = try #require(failure { try c.run() })
        #expect(refused.message.contains("/nonexistent/unet: no such file or folder"))
    }

    // MARK: phantom

    @Test func phantomGenerateParsesAndRefusesBadValues() throws {
        let base = ["--output", "/nonexistent/phantoms", "--count", "10"]
        let c = try PhantomCommand.Generate.parse(base + ["--size", "128", "--bit-depth", "16", "--spurious", "0.8",
                                                          "--counterfactuals", "cardiomegaly=0;pacemaker=1,ctr=0.6"])
        #expect(c.count == 10 && c.size == 128 && c.bitDepth == 16 && c.spurious == 0.8)
        expectNumbersRefused(PhantomCommand.Generate.self, base, [("--spurious", ["1.5", "-0.2"], "in [0, 1]")])
        expectCountsRefused(PhantomCommand.Generate.self, base, [("--count", "0", "1 or more"), ("--size", "8", "from 16 to 4096")])
        expectRefused(PhantomCommand.Generate.self, base + ["--bit-depth", "12"], saying: "--bit-depth 12", "8 or 16")
        expectRefused(PhantomCommand.Generate.self, base + ["--counterfactuals", "cardiomegaly=0;wings=1"],
                      saying: "--counterfactuals", "wings")
    }

    @Test func phantomCounterfactualParsesAndRefusesBadInterventions() throws {
        let base = ["--case", "/nonexistent/case.json", "--output", "/nonexistent/cf.png"]
        let c = try PhantomCommand.Counterfactual.parse(base + ["--do", "cardiomegaly=0,ctr=0.6", "--size", "64"])
        #expect(c.interventions == "cardiomegaly=0,ctr=0.6" && c.size == 64)
        for bad in ["wings=1", "severity=nan", "ctr=inf", "cardiomegaly=2", "age"] {
            expectRefused(PhantomCommand.Counterfactual.self, base + ["--do", bad], saying: "--do \(bad)")
        }
        expectRefused(PhantomCommand.Counterfactual.self, base + ["--do", "pacemaker=1", "--size", "4"], saying: "--size 4")
    }

    // MARK: evaluate, demo

    @Test func evaluateVAEParsesAndRefusesBadValues() throws {
        let base = ["--model", missingModel]
        let c = try EvaluateCommand.VAE.parse(base + ["--count", "3", "--resolution", "64", "--seed", "5"])
        #expect(c.count == 3 && c.resolution == 64 && c.seed == 5)
        expectCountsRefused(EvaluateCommand.VAE.self, base, [("--count", "0", "1 or more")])
        expectRefused(EvaluateCommand.VAE.self, base + ["--resolution", "60"], saying: "--resolution 60", "multiple of 8")
    }

    @Test func evaluateLossParsesAndRefusesBadValues() throws {
        let base = ["--model", missingModel]
        let c = try EvaluateCommand.Loss.parse(base + ["--count", "3", "--steps", "4", "--seed", "5", "--noise-seed", "7"])
        #expect(c.count == 3 && c.steps == 4 && c.seed == 5 && c.noiseSeed == 7)
        expectCountsRefused(EvaluateCommand.Loss.self, base, [("--count", "0", "1 or more"), ("--steps", "2", "3 or more")])
        // The model is the first thing the run reads: a missing one is named.
        guard let (message, status) = failure({ var command = try EvaluateCommand.Loss.parse(base); try command.run() }) else {
            Issue.record("a missing model was accepted")
            return
        }
        #expect(message.contains(missingModel) && status == 1, "\(message)")
    }

    @Test func evaluateEditsParsesAndRefusesBadValues() throws {
        let base = ["--model", missingModel, "--output", "/nonexistent/eval"]
        let c = try EvaluateCommand.Edits.parse(base + ["--count", "2", "--mask", "none", "--guidance", "3", "--steps", "5"])
        #expect(c.count == 2 && c.editing.masking.mask == "none" && c.editing.guidance == 3 && c.editing.denoising.steps == 5)
        expectRefused(EvaluateCommand.Edits.self, base + ["--mask", "nonee"], saying: "--mask nonee", "auto or none")
        expectRefused(EvaluateCommand.Edits.self, base + ["--without-detail", "edema"], saying: "--without-detail edema",
                      "cardiomegaly, pleural effusion, support devices")
        let mixed = try EvaluateCommand.Edits.parse(base + ["--without-detail", "Cardiomegaly", "--without-detail", "support devices"])
        #expect(try mixed.plainFindings() == ["Cardiomegaly", "Support Devices"])
        // A template that says no detail has none to leave out: refused before the model loads.
        let plain = FileManager.default.temporaryDirectory.appendingPathComponent("plain-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: plain) }
        try Data(#"{"template": "Chest X-ray of {a} {sex} with {findings}"}"#.utf8).write(to: plain)
        let noDetail = try EvaluateCommand.Edits.parse(base + ["--template", plain.path, "--without-detail", "cardiomegaly",
                                                               "--model", "/nonexistent/model"])
        let refused = #expect(throws: ValidationError.self) { try noDetail.run() }
        #expect(refused?.message.contains("\"detail\": true") == true)
        expectCountsRefused(EvaluateCommand.Edits.self, base, [("--count", "0", "1 or more")])
        expectNumbersRefused(EvaluateCommand.Edits.self, base, [("--guidance", ["-3"], ">= 0"),
                                                                ("--emphasis", ["0", "-2"], "> 0"),
                                                                ("--mask-threshold", ["2"], "in (0, 1)")])
    }

    @Test func demoParsesAndRefusesBadValues() throws {
        let base = ["--model", missingModel, "--output", "/nonexistent/demo"]
        let c = try DemoCommand.parse(base + ["--cases", "2", "--steps", "10", "--guidance", "4", "--inversion", "direct"])
        #expect(c.cases == 2 && c.denoising.steps == 10 && c.guidance == 4 && c.inversion == .direct)
        expectNumbersRefused(DemoCommand.self, base, [("--guidance", ["-1"], ">= 0")])
        expectCountsRefused(DemoCommand.self, base, [("--cases", "0", "1 or more"), ("--steps", "0", "1 or more")])
    }

    // MARK: bench

    @Test func benchComponentsParseAndRefuseBadValues() throws {
        let base = ["--model", missingModel]
        let unet = try BenchCommand.UNet.parse(base + ["--latent-size", "8", "--batch", "4", "--repeat", "2", "--dtype", "bf16",
                                                       "--device", "cpu"])
        #expect(unet.latentSize == 8 && unet.batch == 4 && unet.common.repeatCount == 2 && unet.common.loading.device == "cpu")
        #expect(try unet.common.precision.value() == .bfloat16)
        func checkLatentBenchmark<C: ParsableCommand>(_ type: C.Type) {
            let withSize = base + ["--latent-size", "8"]
            expectCountsRefused(type, withSize, [("--batch", "0", "1 or more"), ("--repeat", "0", "1 or more")])
            expectCountsRefused(type, base, [("--latent-size", "0", "1 or more")])
            expectRefused(type, withSize + ["--dtype", "fp8"], saying: "--dtype fp8")
            expectRefused(type, withSize + ["--device", "npu"], saying: "--device npu")
        }
        checkLatentBenchmark(BenchCommand.UNet.self)
        checkLatentBenchmark(BenchCommand.VAEDecode.self)
        checkLatentBenchmark(BenchCommand.VAEEncode.self)
        expectCountsRefused(BenchCommand.TextEncoder.self, base, [("--batch", "0", "1 or more")])
        let edit = try BenchCommand.Edit.parse(base + ["--steps", "5", "--resolution", "64", "--image", "x.png"])
        #expect(edit.steps == 5 && edit.resolution == 64 && edit.image == "x.png")
        expectCountsRefused(BenchCommand.Edit.self, base, [("--steps", "0", "1 or more")])
        expectRefused(BenchCommand.Edit.self, base + ["--resolution", "30"], saying: "--resolution 30", "multiple of 8")
        let classifier = try BenchCommand.Classifier.parse(["--arch", "densenet121", "--batch", "4", "--resolution", "64",
                                                            "--channels", "1", "--threads", "2"])
        #expect(classifier.arch == .densenet121 && classifier.batch == 4 && classifier.resolution == 64
                && classifier.channels == 1 && classifier.threads == 2)
        expectCountsRefused(BenchCommand.Classifier.self, [], [("--batch", "0", "1 or more"), ("--repeat", "0", "1 or more"),
                                                              ("--threads", "0", "1 or more"), ("--resolution", "16", "32 or more")])
        expectRefused(BenchCommand.Classifier.self, ["--channels", "2"], saying: "--channels 2", "1 or 3")
        expectRefused(BenchCommand.Classifier.self, ["--arch", "vgg16"], saying: "vgg16")
    }
}
