import DiffusersConfig
import Foundation
import Tokenizer
import Torch

extension StableDiffusionPipeline {
    /// Loads a diffusers Stable Diffusion folder (`model_index.json`, `unet/`, `vae/`, `text_encoder/`,
    /// `tokenizer/`, `scheduler/`), checking first that every component folder and file is there.
    public static func load(
        from root: URL, dtype: DType = .float32, device: Device = .cpu, variant: String? = nil
    ) throws -> StableDiffusionPipeline {
        let folder = try StableDiffusionFolder(root, variant: variant)
        let tokenizer = try CLIPTokenizer(folder: folder.tokenizer)
        let schedulerConfig = try SchedulerConfig.load(from: folder.scheduler)
        let textEncoder = try CLIPTextModel.load(from: folder.textEncoder, dtype: dtype, device: device, variant: variant)
        let unet = try PipelineLoader.unet(from: folder.unet, dtype: dtype, device: device, variant: variant)
        let vae = try PipelineLoader.vae(from: folder.vae, dtype: dtype, device: device, variant: variant)
        guard unet.crossAttentionDim == textEncoder.config.hiddenSize else {
            throw ModelFolderError(root.path, "the UNet attends to \(unet.crossAttentionDim)-wide text embeddings but the "
                + "text encoder makes \(textEncoder.config.hiddenSize)-wide ones: components of different models?")
        }
        return StableDiffusionPipeline(tokenizer: tokenizer, textEncoder: textEncoder, unet: unet, vae: vae,
                                       schedulerConfig: schedulerConfig, dtype: dtype, device: device)
    }
}

/// Loads the UNet and VAE component folders as the pipeline's denoiser and autoencoder.
public enum PipelineLoader {
    public static func unet(from folder: URL, dtype: DType, device: Device, variant: String?) throws -> any PipelineDenoiser {
        try UNet2DConditionModel.load(from: folder, dtype: dtype, device: device, variant: variant)
    }

    public static func vae(from folder: URL, dtype: DType, device: Device, variant: String?) throws -> any PipelineAutoencoder {
        try AutoencoderKL.load(from: folder, dtype: dtype, device: device, variant: variant)
    }
}
