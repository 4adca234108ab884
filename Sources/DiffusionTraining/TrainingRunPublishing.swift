import Core
import Datasets
import Diffusion
import Foundation
import Imaging
import NN
import Tokenizer
import Torch
import Training

extension TrainingRun {
    /// The components the run does not train, written once into the published folder.
    public func publishFrozenComponents() throws {
        let fm = FileManager.default
        try fm.createDirectory(at: output, withIntermediateDirectories: true)
        let root: URL
        switch options.source {
        case .base(let url): root = url
        case .config(let url, _): root = url
        }
        // The source's files (a NOTICE, say), then the tokenizer in both forms, tokenizer.json and vocab.json +
        // merges.txt, whichever the source had: every reader, old or new, loads the published folder.
        try replaceFolder("tokenizer") { folder in
            for name in try fm.contentsOfDirectory(atPath: root.appendingPathComponent("tokenizer").path) where !name.hasPrefix(".") {
                try fm.copyItem(at: root.appendingPathComponent("tokenizer").appendingPathComponent(name),
                                to: folder.appendingPathComponent(name))
            }
            try tokenizer.save(to: folder)
        }
        try DiffusersFolderWriter.write(.scheduler(schedulerConfig), in: output)
        switch options.component {
        case .vae, .vaeDecoder:
            try saveUNet()
            try saveTextEncoder()
        case .unet:
            try saveVAE()
            try saveTextEncoder()
        case .unetText:
            try saveVAE()
        }
        try DiffusersFolderWriter.writeIndex(Self.modelIndex(schedulerConfig), in: output)
        try publishCaptionTemplate()
        if options.component == .vaeDecoder, case .base(let base) = options.source { try copyModelDefaults(from: base) }
    }

    /// A new decoder leaves the base's UNet as it was, and with it the captions it reads and the settings its
    /// author recommends: the base's prism.json (less the name messages call the base by) and the template it names
    /// come along.
    func copyModelDefaults(from base: URL) throws {
        var defaults = try ModelDefaults.load(from: base)
        defaults.name = nil
        guard defaults != ModelDefaults() else { return }
        if let captions = defaults.captions {
            try writeAtomically(Data(contentsOf: base.appendingPathComponent(captions)), to: output.appendingPathComponent(captions))
        }
        try writeAtomically(JSONFile.encode(value: defaults), to: output.appendingPathComponent(ModelDefaults.fileName))
    }

    /// A UNet trained with other captions than the default ones says so: the template goes into the published
    /// folder as captions.json and prism.json names it, so that `prism edit` and the other captioning commands
    /// caption for this model as it was trained. diffusers ignores both files.
    func publishCaptionTemplate() throws {
        guard !options.component.trainsVAE, options.template != CaptionTemplate() else { return }
        try writeAtomically(JSONFile.encode(value: options.template), to: output.appendingPathComponent(Self.captionsFileName))
        try writeAtomically(JSONFile.encode(value: ModelDefaults(captions: Self.captionsFileName)),
                           to: output.appendingPathComponent(ModelDefaults.fileName))
    }

    static let captionsFileName = "captions.json"

    /// Writes the trained components (EMA weights when there is an EMA) into the published folder.
    public func publish() throws {
        try trainer.withPublishedWeights {
            switch options.component {
            case .vae, .vaeDecoder: try saveVAE()
            case .unet: try saveUNet()
            case .unetText:
                try saveUNet()
                try saveTextEncoder()
            }
        }
        try DiffusersFolderWriter.writeIndex(Self.modelIndex(schedulerConfig), in: output)
    }

    func saveUNet() throws {
        try DiffusersFolderWriter.write(.unet(unet), in: output, dtype: options.saveDType)
    }

    func saveTextEncoder() throws {
        try DiffusersFolderWriter.write(.textEncoder(textEncoder), in: output, dtype: options.saveDType)
    }

    func saveVAE() throws {
        try DiffusersFolderWriter.write(.vae(vae, config: vaeTask?.calibratedConfig()), in: output, dtype: options.saveDType)
    }

    /// Fills a temporary folder beside `output/name`, then swaps it in: a reader sees the old or the new component.
    func replaceFolder(_ name: String, _ write: (URL) throws -> Void) throws {
        try StagedFolder.write(output.appendingPathComponent(name), write)
    }
}
