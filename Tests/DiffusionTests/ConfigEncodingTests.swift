import Core
import Diffusion
import Foundation
import Testing

/// Configs go back to JSON with the keys diffusers writes: a config diffusers wrote decodes, encodes and decodes
/// again to the same values, keeps every key diffusers wrote, and model_index.json keeps its components and flags.
@Suite struct ConfigEncodingTests {
    /// Folders whose configs diffusers and transformers wrote (scripts/make_*_fixtures.py).
    static let folders = ["saved-diffusers-0.42", "pipeline-tiny"]
    static let schedulerFolders = ["schedulers/sd15", "schedulers/sd21", "schedulers/cases/ddim_trained_betas",
                                   "schedulers/cases/dpmpp_lambda_clipped", "schedulers/cases/ddpm_learned_range"]

    func roundTrip<T: Codable & Equatable>(_ type: T.Type, _ url: URL) throws {
        let original = try JSONFile.read(url)
        let decoded = try ConfigFile.decode(T.self, from: original, source: url.path)
        let written = try ConfigFile.encode(decoded)
        #expect(try ConfigFile.decode(T.self, from: written, source: "written") == decoded, "\(url.path)")
        let before = Set(try JSONFile.object(from: original, source: url.path).keys)
        let after = Set(try JSONFile.object(from: written, source: "written").keys)
        #expect(before.subtracting(after).isEmpty, "\(url.path) loses \(before.subtracting(after).sorted())")
    }

    @Test(arguments: folders + ["unet-sd2", "unet-options"])
    func unetConfigs(_ folder: String) throws {
        try roundTrip(UNet2DConditionConfig.self, fixtureURL(folder.hasPrefix("unet") ? folder : folder + "/unet")
            .appendingPathComponent("config.json"))
    }

    @Test(arguments: folders + ["vae", "vae-legacy"])
    func vaeConfigs(_ folder: String) throws {
        try roundTrip(AutoencoderKLConfig.self, fixtureURL(folder.hasPrefix("vae") ? folder : folder + "/vae")
            .appendingPathComponent("config.json"))
    }

    @Test(arguments: folders + ["text_encoder-sd1", "text_encoder-sd2"])
    func textEncoderConfigs(_ folder: String) throws {
        try roundTrip(CLIPTextConfig.self, fixtureURL(folder.hasPrefix("text_encoder") ? folder : folder + "/text_encoder")
            .appendingPathComponent("config.json"))
    }

    @Test(arguments: folders.map { $0 + "/scheduler" } + schedulerFolders)
    func schedulerConfigs(_ folder: String) throws {
        try roundTrip(SchedulerConfig.self, fixtureURL(folder).appendingPathComponent(SchedulerConfig.fileName))
    }

    /// Values diffusers reads differently when written another way: a square sample size stays one int (the
    /// pipeline multiplies it), non-finite numbers stay Python's tokens, unmodelled fields keep their values.
    @Test func valuesKeepDiffusersForm() throws {
        let unet = try DiffusersFolder.config(UNet2DConditionConfig.self, in: fixtureURL("saved-diffusers-0.42/unet"))
        let written = try JSONFile.object(from: ConfigFile.encode(unet), source: "unet")
        #expect(written["sample_size"] as? Int == unet.sampleSize?[0])
        #expect(written["_class_name"] as? String == "UNet2DConditionModel")
        #expect(written["addition_embed_type_num_heads"] as? Int == 64)
        var scheduler = SchedulerConfig(className: "DPMSolverMultistepScheduler")
        scheduler.lambdaMinClipped = -.infinity
        let text = String(decoding: try ConfigFile.encode(scheduler), as: UTF8.self)
        #expect(text.contains("\"lambda_min_clipped\" : -Infinity"), "\(text)")
    }

    @Test(arguments: folders)
    func modelIndex(_ folder: String) throws {
        let index = try ModelIndex.load(from: fixtureURL(folder))
        let again = try ModelIndex.decode(try ConfigFile.encode(index))
        #expect(again == index)
        #expect(again.otherFields["requires_safety_checker"] == .bool(false))
        #expect(again.components["safety_checker"]?.isPresent == false)
    }

    /// What Prism writes for its own Stable Diffusion folders is what diffusers 0.42 wrote for the saved fixture.
    @Test func stableDiffusionIndexIsDiffusers() throws {
        let saved = try ModelIndex.load(from: fixtureURL("saved-diffusers-0.42"))
        var ours = ModelIndex.stableDiffusion(schedulerClass: "DPMSolverMultistepScheduler")
        ours = try ModelIndex.decode(try ConfigFile.encode(ours))
        #expect(ours.components == saved.components)
        #expect(ours.otherFields == saved.otherFields)
        #expect(ours.className == saved.className && ours.diffusersVersion == saved.diffusersVersion)
    }
}
