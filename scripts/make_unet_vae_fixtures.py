#!/usr/bin/env python3
"""Reference models and outputs for Prism's UNet2DConditionModel and AutoencoderKL parity tests (dev-only).

Builds tiny random-weight diffusers models, perturbs every parameter with seeded noise (diffusers zero-inits
some layers, which would hide bugs), saves each with save_pretrained(..., safe_serialization=True) into
Tests/DiffusionTests/Fixtures/<name>/ and writes reference inputs and outputs to <name>/reference.safetensors.

    unet-sd1/        SD 1.x layout: conv projections, attention_head_dim an int, cross_attention_dim 32;
                     also saved as the fp16 variant (out_fp16_weights = that model upcast to fp32), and the
                     gradient of a weighted output sum with respect to the encoder states
    unet-sd2/        SD 2.x layout: linear projections, per-block attention_head_dim, upcast_attention; also
                     flip_sin_to_cos=False / freq_shift=1 and an odd input size (forwarded upsample sizes)
    unet-options/    less common config fields away from their defaults (per-block lists, no mid block, other
                     activations and kernels, centred input, time embedding options)
    vae/             AutoencoderKL with 2 blocks
    vae-legacy/      the same VAE weights under the old attention names (query/key/value/proj_attn), the
                     encoder's as 1x1-conv-shaped weights

Run: /work/venv/bin/python scripts/make_unet_vae_fixtures.py
"""
import json
import pathlib
import shutil

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from safetensors.torch import load_file, save_file

torch.set_num_threads(1)
ROOT = pathlib.Path(__file__).resolve().parent.parent / "Tests" / "DiffusionTests" / "Fixtures"


def perturb(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters()):
            p.add_(torch.randn(p.shape, generator=g) * 0.05)
    return model.eval()


def fresh(name):
    folder = ROOT / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def unet_case(name, config, seed, sample_hw, seq_len, timesteps, fp16_variant=False, gradient=False):
    torch.manual_seed(seed)
    model = perturb(UNet2DConditionModel(**config), seed + 1)
    folder = fresh(name)
    model.save_pretrained(folder, safe_serialization=True)
    g = torch.Generator().manual_seed(seed + 2)
    sample = torch.randn(2, config["in_channels"], *sample_hw, generator=g)
    cross_dim = config["cross_attention_dim"]
    states = torch.randn(2, seq_len, cross_dim if isinstance(cross_dim, int) else cross_dim[0], generator=g)
    ref = {"sample": sample, "encoder_hidden_states": states, "timesteps": timesteps}
    with torch.no_grad():
        ref["out"] = model(sample, timesteps, encoder_hidden_states=states).sample
        # A scalar timestep is broadcast over the batch.
        ref["timestep_scalar"] = timesteps[0].clone()
        ref["out_scalar_timestep"] = model(sample, timesteps[0], encoder_hidden_states=states).sample
        if fp16_variant:
            half = UNet2DConditionModel(**config)
            half.load_state_dict(model.state_dict())
            half = half.half()
            half.save_pretrained(folder, safe_serialization=True, variant="fp16")
            ref["out_fp16_weights"] = half.float()(sample, timesteps, encoder_hidden_states=states).sample
    if gradient:
        # d/d(encoder states) of sum(out * weights): what null-text inversion back-propagates through.
        ref["grad_weights"] = torch.randn(ref["out"].shape, generator=g)
        leaf = states.clone().requires_grad_()
        (model(sample, timesteps, encoder_hidden_states=leaf).sample * ref["grad_weights"]).sum().backward()
        ref["grad_encoder_hidden_states"] = leaf.grad
    save_file({k: v.contiguous() for k, v in ref.items()}, folder / "reference.safetensors")
    return model


sd1 = dict(
    sample_size=16, in_channels=4, out_channels=4, block_out_channels=(16, 32), layers_per_block=1,
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=32, attention_head_dim=4, norm_num_groups=8,
)
unet_case("unet-sd1", sd1, seed=10, sample_hw=(16, 16), seq_len=7,
          timesteps=torch.tensor([999, 1], dtype=torch.int64), fp16_variant=True, gradient=True)

sd2 = dict(
    sample_size=16, in_channels=4, out_channels=4, block_out_channels=(16, 32), layers_per_block=1,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=24, attention_head_dim=[2, 4], use_linear_projection=True, upcast_attention=True,
    norm_num_groups=4, flip_sin_to_cos=False, freq_shift=1,
)
unet_case("unet-sd2", sd2, seed=20, sample_hw=(15, 11), seq_len=5,
          timesteps=torch.tensor([500.5, 20.0], dtype=torch.float32))

# Less common config fields, each away from its default.
options = dict(
    sample_size=8, in_channels=3, out_channels=5, block_out_channels=(4, 8), layers_per_block=[1, 2],
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=[12, 12], attention_head_dim=2, transformer_layers_per_block=[2, 1], norm_num_groups=2,
    norm_eps=1e-4, act_fn="gelu", center_input_sample=True, mid_block_type=None, time_embedding_dim=24,
    time_embedding_act_fn="mish", timestep_post_act="silu", conv_in_kernel=1, conv_out_kernel=5,
)
unet_case("unet-options", options, seed=40, sample_hw=(8, 8), seq_len=3,
          timesteps=torch.tensor([3, 700], dtype=torch.int64))

# VAE
vae_config = dict(
    in_channels=3, out_channels=3, block_out_channels=(8, 16), layers_per_block=1,
    down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
    up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
    latent_channels=4, norm_num_groups=4, sample_size=32, scaling_factor=0.18215,
)
torch.manual_seed(30)
vae = perturb(AutoencoderKL(**vae_config), 31)
folder = fresh("vae")
vae.save_pretrained(folder, safe_serialization=True)
g = torch.Generator().manual_seed(32)
image = torch.randn(2, 3, 32, 32, generator=g).clamp(-1, 1)
latents = torch.randn(2, 4, 16, 16, generator=g)
with torch.no_grad():
    posterior = vae.encode(image).latent_dist
    ref = {
        "image": image, "mean": posterior.mean, "logvar": posterior.logvar, "std": posterior.std,
        "sample_seed_7": posterior.sample(generator=torch.Generator().manual_seed(7)),
        "latents": latents, "decoded": vae.decode(latents).sample,
    }
save_file({k: v.contiguous() for k, v in ref.items()}, folder / "reference.safetensors")

# The same weights under the attention names diffusers wrote before attention was unified.
legacy = fresh("vae-legacy")
shutil.copy(folder / "config.json", legacy / "config.json")
names = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}
renamed = {}
for key, value in load_file(folder / "diffusion_pytorch_model.safetensors").items():
    for new, old in names.items():
        marker = f".attentions.0.{new}."
        if marker in key:
            key = key.replace(marker, f".attentions.0.{old}.")
            if key.startswith("encoder.") and value.dim() == 2:
                value = value[:, :, None, None]
    renamed[key] = value.contiguous()
save_file(renamed, legacy / "diffusion_pytorch_model.safetensors", metadata={"format": "pt"})

sizes = {p.relative_to(ROOT).as_posix(): p.stat().st_size for p in sorted(ROOT.rglob("*"))
         if p.is_file() and (p.parts[-2].startswith("unet-") or p.parts[-2].startswith("vae"))}
print(json.dumps(sizes, indent=1))
print("total", sum(sizes.values()))
