#!/usr/bin/env python3
"""Writes configs/default-model: the component configs of Prism's bundled phantom chest X-ray model, made by diffusers
and transformers themselves (so that their from_pretrained reads the trained folder), and the CLIP tokenizer files
from ../shared/data/clip-vocab (openai/CLIP, MIT). No weights: `prism train --config configs/default-model` makes them.

    python scripts/make_default_model_config.py [--latent-channels 4] [--downsample 4]
"""
import argparse
import json
import pathlib
import shutil

from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTokenizer

ap = argparse.ArgumentParser()
ap.add_argument("--latent-channels", type=int, default=4)
ap.add_argument("--downsample", type=int, choices=[4, 8], default=4)
ap.add_argument("--vocab", default=str(pathlib.Path(__file__).resolve().parents[1].parent / "shared/data/clip-vocab"))
args = ap.parse_args()
out = pathlib.Path(__file__).resolve().parents[1] / "configs/default-model"
shutil.rmtree(out, ignore_errors=True)
out.mkdir(parents=True)

RESOLUTION = 128
TEXT_DIM = 64
if args.downsample == 4:
    # 128 px images, 32x32 latents: thin devices, rib edges and the burned-in markers survive the VAE (at 8x they
    # did not, and a device the VAE cannot reproduce cannot be edited away). The UNet's extra 32x32 level is narrow
    # and has no attention, so it costs about as much as one more 16x16 level.
    vae_blocks = [16, 32, 64]
    unet_blocks = [32, 64, 128, 128]
    down = ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
    up = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"]
    unet_groups = 16
else:
    # 128 px images, 16x16 latents (the VAE downsamples 8x, as Stable Diffusion's).
    vae_blocks = [16, 32, 64, 64]
    unet_blocks = [64, 128, 128]
    down = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
    up = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
    unet_groups = 32
vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * len(vae_blocks),
                    up_block_types=["UpDecoderBlock2D"] * len(vae_blocks), block_out_channels=vae_blocks,
                    layers_per_block=1, latent_channels=args.latent_channels, norm_num_groups=16,
                    sample_size=RESOLUTION)
vae.save_config(out / "vae")
unet = UNet2DConditionModel(sample_size=RESOLUTION // args.downsample, in_channels=args.latent_channels,
                            out_channels=args.latent_channels, block_out_channels=unet_blocks, layers_per_block=1,
                            attention_head_dim=8, cross_attention_dim=TEXT_DIM, norm_num_groups=unet_groups,
                            down_block_types=down, up_block_types=up)
unet.save_config(out / "unet")
text = CLIPTextConfig(vocab_size=49408, hidden_size=TEXT_DIM, intermediate_size=4 * TEXT_DIM, num_hidden_layers=3,
                      num_attention_heads=4, max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=TEXT_DIM,
                      bos_token_id=49406, eos_token_id=49407, pad_token_id=49407)
text.architectures = ["CLIPTextModel"]
text.save_pretrained(out / "text_encoder")
# Stable Diffusion 1.x's training schedule.
DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
              clip_sample=False, steps_offset=1).save_config(out / "scheduler")
vocab = pathlib.Path(args.vocab)
CLIPTokenizer(str(vocab / "vocab.json"), str(vocab / "merges.txt"), pad_token="<|endoftext|>",
              model_max_length=77).save_pretrained(out / "tokenizer")
# Stable Diffusion checkpoints carry the BPE files themselves (what every CLIP tokenizer reads); the 3.6 MB fast-
# tokenizer file transformers 5 adds is rebuilt from them on load.
(out / "tokenizer/tokenizer.json").unlink()
for name in ["vocab.json", "merges.txt"]:
    shutil.copy(vocab / name, out / "tokenizer" / name)
(out / "model_index.json").write_text(json.dumps({
    "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.42.1",
    "feature_extractor": [None, None], "safety_checker": [None, None], "requires_safety_checker": False,
    "scheduler": ["diffusers", "DDPMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"], "image_encoder": [None, None]}, indent=2) + "\n")
(out / "README.md").write_text(
    "Component configs of Prism's bundled phantom chest X-ray model (no weights). Made by\n"
    "scripts/make_default_model_config.py with diffusers and transformers; tokenizer files from\n"
    "openai/CLIP's BPE vocabulary (MIT licence), via ../shared/data/clip-vocab. See docs/default-model.md.\n")
n = lambda m: sum(p.numel() for p in m.parameters())
from transformers import CLIPTextModel
params = {"unet": n(unet), "vae": n(vae), "text_encoder": n(CLIPTextModel(text))}
print(json.dumps(params), "total fp16 MB:", 2 * sum(params.values()) / 1e6)
reloaded = CLIPTokenizer.from_pretrained(out / "tokenizer")
print("tokenizer reloads:", reloaded("Chest X-ray of a 70-year-old female with cardiomegaly").input_ids)
