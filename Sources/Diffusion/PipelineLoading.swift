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
        _ = try CLIPTokenizer(folder: folder.tokenizer)
        _ = try SchedulerConfig.load(from: folder.scheduler)
        throw PipelineError("\(folder.unet.path): UNet2DConditionModel and AutoencoderKL are not part of this build yet")
    }
}
