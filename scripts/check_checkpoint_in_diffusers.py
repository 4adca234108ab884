#!/usr/bin/env python3
"""Checks that a model folder written by `prism train` opens in diffusers and computes what Prism computes.

Run (after a build of the prism executable):
    /work/venv/bin/python scripts/check_checkpoint_in_diffusers.py RUN_OUTPUT [--prism .build/debug/prism]
RUN_OUTPUT is a `prism train --output` folder or a checkpoint's `checkpoints/checkpoint-NNNNNN/model` folder.

1. Every component loads with diffusers / transformers `from_pretrained(..., output_loading_info=True)` with no
   missing, unexpected or mismatched keys, and the safetensors keys and shapes equal the model's state dict.
2. `StableDiffusionPipeline.from_pretrained(RUN_OUTPUT)` generates an image (written next to the script's
   other outputs in --work).
3. Parity: the same starting latents, prompt and DDIM schedule in diffusers and in `prism generate --latents
   ... --save-latents ...`; the final latents' relative error ||prism - diffusers|| / ||diffusers|| must be
   <= --tolerance (default 1e-4, fp32).
Exit status 0 when all checks pass.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from safetensors import safe_open
from safetensors.torch import save_file, load_file
from transformers import CLIPTextModel


def weight_file(folder):
    for name in sorted(os.listdir(folder)):
        if name.endswith(".safetensors"):
            return os.path.join(folder, name)
    raise SystemExit(f"{folder}: no safetensors weight file")


def check_component(name, cls, folder):
    model, info = cls.from_pretrained(folder, output_loading_info=True, torch_dtype=torch.float32)
    problems = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    state = model.state_dict()
    with safe_open(weight_file(folder), "pt") as f:
        saved = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
        dtypes = sorted({str(f.get_slice(k).get_dtype()) for k in f.keys()})
    # transformers keeps CLIP's position_ids as a non-persistent buffer: not in the file, fine. transformers 4
    # names CLIP's weights text_model.*, transformers 5 drops the prefix (and loads either): compare without it.
    def bare(key):
        return key[len("text_model."):] if key.startswith("text_model.") else key
    saved = {bare(k): v for k, v in saved.items()}
    expected = {bare(k): tuple(v.shape) for k, v in state.items() if not k.endswith("position_ids")}
    missing = sorted(set(expected) - set(saved))
    extra = sorted(set(saved) - set(expected))
    shapes = sorted(k for k in set(saved) & set(expected) if saved[k] != expected[k])
    ok = not problems and not missing and not extra and not shapes
    print(f"{name:13s} {type(model).__name__:22s} {len(saved):4d} tensors {','.join(dtypes):8s} "
          f"{sum(v.numel() for v in state.values()):>10,d} parameters  "
          + ("keys and shapes match" if ok else f"PROBLEMS {problems} missing={missing[:5]} unexpected={extra[:5]} shapes={shapes[:5]}"))
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--prism", default=".build/debug/prism")
    parser.add_argument("--prompt", default="Chest X-ray of a 60-year-old woman with cardiomegaly")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--guidance", type=float, default=5.0)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--work", default=None, help="folder for the generated files (default: a temporary one)")
    args = parser.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="prism-ckpt-check-")
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)

    ok = True
    ok &= check_component("unet", UNet2DConditionModel, os.path.join(args.model, "unet"))
    ok &= check_component("vae", AutoencoderKL, os.path.join(args.model, "vae"))
    ok &= check_component("text_encoder", CLIPTextModel, os.path.join(args.model, "text_encoder"))

    pipe = StableDiffusionPipeline.from_pretrained(args.model, torch_dtype=torch.float32, safety_checker=None,
                                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    size = pipe.unet.config.sample_size * pipe.vae_scale_factor
    image = pipe(args.prompt, num_inference_steps=args.steps, guidance_scale=args.guidance, height=size, width=size,
                 generator=torch.Generator().manual_seed(1)).images[0]
    image_path = os.path.join(work, "diffusers.png")
    image.save(image_path)
    print(f"pipeline      StableDiffusionPipeline.from_pretrained generated {image.size} -> {image_path}")

    # The same latents through both implementations.
    shape = (1, pipe.unet.config.in_channels, pipe.unet.config.sample_size, pipe.unet.config.sample_size)
    latents = torch.randn(shape, generator=torch.Generator().manual_seed(7))
    start = os.path.join(work, "start.safetensors")
    save_file({"latents": latents.contiguous()}, start)
    with torch.no_grad():
        reference = pipe(args.prompt, num_inference_steps=args.steps, guidance_scale=args.guidance, latents=latents.clone(),
                         output_type="latent", height=size, width=size).images
    prism_latents = os.path.join(work, "prism.safetensors")
    command = [args.prism, "generate", "--model", args.model, "--prompt", args.prompt, "--steps", str(args.steps),
               "--guidance", str(args.guidance), "--scheduler", "ddim", "--latents", start, "--seed", "1",
               "--save-latents", prism_latents, "--output", os.path.join(work, "prism.png")]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stdout, run.stderr)
        raise SystemExit("prism generate failed")
    ours = load_file(prism_latents)["latents"]
    error = (torch.linalg.norm(ours - reference) / torch.linalg.norm(reference)).item()
    parity = error <= args.tolerance
    print(f"parity        {args.steps} DDIM steps, guidance {args.guidance}, latents {list(shape)}: relative error "
          f"{error:.2e} ({'<=' if parity else '>'} {args.tolerance:g})")
    ok &= parity
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
