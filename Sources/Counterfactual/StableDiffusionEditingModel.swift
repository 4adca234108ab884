import Diffusion
import Foundation
import Torch

/// A Stable Diffusion model folder as the editing engine uses it.
public final class StableDiffusionEditingModel {
    public static func load(from folder: URL, dtype: DType = .float32, device: Device = .cpu) throws -> EditingModel {
        throw PipelineError("\(folder.path): editing needs UNet2DConditionModel and AutoencoderKL, which are not part of this build yet")
    }
}
