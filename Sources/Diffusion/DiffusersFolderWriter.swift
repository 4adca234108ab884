import Core
import DiffusersConfig
import Foundation
import NN
import Torch

/// One component folder of a diffusers model as diffusers' `save_pretrained` writes it: the config under its file
/// name, and the weights as safetensors under the name diffusers (or, for the text encoder, transformers) gives them.
public struct DiffusersComponent {
    /// The folder name in the model (`unet`, `vae`, `text_encoder`, `scheduler`).
    public let name: String
    public let configFileName: String
    public let config: any Encodable
    public let weights: ParameterStore?
    public let weightFileName: String

    public init(name: String, config: any Encodable, configFileName: String = "config.json",
                weights: ParameterStore? = nil, weightFileName: String = "diffusion_pytorch_model.safetensors") {
        self.name = name
        self.config = config
        self.configFileName = configFileName
        self.weights = weights
        self.weightFileName = weightFileName
    }

    public static func unet(_ unet: UNet2DConditionModel) -> DiffusersComponent {
        DiffusersComponent(name: "unet", config: unet.config, weights: unet.store)
    }

    /// The VAE, with `config` in place of the model's own where given (say a recalibrated `scaling_factor`).
    public static func vae(_ vae: AutoencoderKL, config: AutoencoderKLConfig? = nil) -> DiffusersComponent {
        DiffusersComponent(name: "vae", config: config ?? vae.config, weights: vae.store)
    }

    public static func textEncoder(_ textEncoder: CLIPTextModel) -> DiffusersComponent {
        DiffusersComponent(name: "text_encoder", config: textEncoder.config, weights: textEncoder.store,
                           weightFileName: "model.safetensors")
    }

    public static func scheduler(_ config: SchedulerConfig) -> DiffusersComponent {
        DiffusersComponent(name: "scheduler", config: config, configFileName: SchedulerConfig.fileName)
    }

    /// Writes the config and the weights (converted to `dtype` where given) into `folder`, which exists.
    public func fill(_ folder: URL, dtype: DType? = nil) throws {
        try AtomicFile.write(try ConfigFile.encode(config), to: folder.appendingPathComponent(configFileName), durability: .synced)
        try weights?.save(to: folder.appendingPathComponent(weightFileName), dtype: dtype)
    }
}

/// Writing a diffusers model folder, the counterpart of `DiffusionPipeline.save_pretrained`: model_index.json
/// from the typed index, each component's config from its typed config, weights as safetensors. Every file and
/// component folder is replaced whole (a reader sees the old one or the new one), so a folder being published
/// stays loadable by Prism and by diffusers' `from_pretrained` at every instant.
public enum DiffusersFolderWriter {
    /// Replaces `root/component.name` with a folder holding the component.
    public static func write(_ component: DiffusersComponent, in root: URL, dtype: DType? = nil) throws {
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try StagedFolder.write(root.appendingPathComponent(component.name)) { try component.fill($0, dtype: dtype) }
    }

    /// Writes the component into `root/component.name` in place, for a folder that is itself being staged (a checkpoint).
    public static func add(_ component: DiffusersComponent, in root: URL, dtype: DType? = nil) throws {
        let folder = root.appendingPathComponent(component.name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try component.fill(folder, dtype: dtype)
    }

    /// Writes `root/model_index.json`.
    public static func writeIndex(_ index: ModelIndex, in root: URL) throws {
        try AtomicFile.write(try ConfigFile.encode(index), to: root.appendingPathComponent(ModelIndex.fileName), durability: .synced)
    }
}
