// Diffusion: Stable Diffusion in diffusers' layout — CLIP text encoder, UNet2DConditionModel, AutoencoderKL,
// schedulers and pipelines. One Swift type per diffusers class, with the same name and config fields.
// The configs themselves live in DiffusersConfig (no libtorch), re-exported here.
@_exported import DiffusersConfig
