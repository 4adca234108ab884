#!/usr/bin/env python3
"""Throughput of one UNet fine-tuning step, diffusers against `prism train`, on the same model in one run.

Run (after `swift build -c release --product prism`):
    /work/venv/bin/python scripts/bench_training.py [--prism .build/release/prism] [--config configs/smoke]
        [--data /work/shared/data/nih-cxr14-sample] [--batch 8] [--steps 30] [--resolution 128] [--threads N]

1. Builds a model folder from --config (random weights, seeded) with diffusers' save_pretrained.
2. diffusers: the training step of examples/text_to_image/train_text_to_image.py on that UNet (noise, timesteps,
   add_noise, frozen text encoder under no_grad, UNet forward, MSE, backward, clip_grad_norm_(1.0), AdamW step,
   zero_grad) on fixed latents and captions; 2 warm-up steps, then --steps timed steps.
3. Prism: `prism train --base MODEL --train unet --batch B --grad-accum 1` on --batch*2 images, so that every
   image's latents are cached after the first two steps; the time of the later steps is read from log.csv.
Prints samples/s of both and their ratio. Both use --threads compute threads (default: torch's default, one per
core); on a shared machine run it when it is quiet, and read the numbers as a ratio.
"""

import argparse
import csv
import os
import shutil
import subprocess
import tempfile
import time

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDIMScheduler, DDPMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer


def build_model(config, folder):
    torch.manual_seed(0)
    unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(os.path.join(config, "unet")))
    vae = AutoencoderKL.from_config(AutoencoderKL.load_config(os.path.join(config, "vae")))
    text_encoder = CLIPTextModel(CLIPTextConfig.from_pretrained(os.path.join(config, "text_encoder")))
    tokenizer = CLIPTokenizer.from_pretrained(os.path.join(config, "tokenizer"))
    scheduler = DDIMScheduler.from_config(DDIMScheduler.load_config(os.path.join(config, "scheduler")))
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder)
    # transformers 5 saves only tokenizer.json; Prism reads the vocab.json + merges.txt pair.
    shutil.copytree(os.path.join(config, "tokenizer"), os.path.join(folder, "tokenizer"), dirs_exist_ok=True)
    return pipe


def diffusers_step_rate(pipe, batch, steps, resolution):
    unet, text_encoder, tokenizer = pipe.unet, pipe.text_encoder, pipe.tokenizer
    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    unet.train()
    text_encoder.requires_grad_(False)
    optimizer = torch.optim.AdamW(unet.parameters(), lr=1e-5, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8)
    f = pipe.vae_scale_factor
    g = torch.Generator().manual_seed(0)
    latents = torch.randn(batch, unet.config.in_channels, resolution // f, resolution // f, generator=g)
    ids = tokenizer(["Chest X-ray of a 60-year-old woman with cardiomegaly"] * batch, padding="max_length",
                    max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt").input_ids

    def step():
        noise = torch.randn_like(latents)
        timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (batch,)).long()
        noisy = noise_scheduler.add_noise(latents, noise, timesteps)
        with torch.no_grad():
            hidden = text_encoder(ids, return_dict=False)[0]
        pred = unet(noisy, timesteps, hidden, return_dict=False)[0]
        loss = F.mse_loss(pred.float(), noise.float(), reduction="mean")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()

    for _ in range(2):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - start)


def prism_step_rate(prism, model, data, batch, steps, resolution, work, threads):
    rows = list(csv.reader(open(os.path.join(data, "labels.csv"))))
    labels = os.path.join(work, "labels.csv")
    with open(labels, "w", newline="") as f:
        csv.writer(f).writerows(rows[: 1 + 2 * batch])
    output = os.path.join(work, "prism-run")
    command = [prism, "train", "--data", labels, "--images", os.path.join(data, "images-256"), "--base", model,
               "--train", "unet", "--output", output, "--resolution", str(resolution), "--batch", str(batch),
               "--grad-accum", "1", "--lr", "1e-5", "--warmup", "0", "--steps", str(steps + 2),
               "--checkpoint-every", "100000", "--caption-dropout", "0", "--threads", str(threads)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = list(csv.DictReader(open(os.path.join(output, "log.csv"))))
    # Steps 3.. see cached latents only; elapsed_seconds is rounded to 0.1 s, so time many steps.
    seconds = float(log[-1]["elapsed_seconds"]) - float(log[1]["elapsed_seconds"])
    return batch * (len(log) - 2) / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prism", default=".build/release/prism")
    parser.add_argument("--config", default="configs/smoke")
    parser.add_argument("--data", default="/work/shared/data/nih-cxr14-sample")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = tempfile.mkdtemp(prefix="prism-bench-train-")
    try:
        model = os.path.join(work, "model")
        pipe = build_model(args.config, model)
        params = sum(p.numel() for p in pipe.unet.parameters())
        print(f"UNet of {args.config}: {params:,} parameters; batch {args.batch} at {args.resolution} px "
              f"(latents {args.resolution // pipe.vae_scale_factor}²); torch threads {torch.get_num_threads()}")
        ours = prism_step_rate(args.prism, model, args.data, args.batch, args.steps, args.resolution, work, args.threads)
        print(f"prism train : {ours:7.2f} samples/s")
        theirs = diffusers_step_rate(pipe, args.batch, args.steps, args.resolution)
        print(f"diffusers   : {theirs:7.2f} samples/s")
        print(f"ratio prism/diffusers: {ours / theirs:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
