#!/usr/bin/env python3
"""Prism's UNet forward against diffusers' on the same SD 1.5-sized weights, on this machine's CPU (dev-only).

Builds an SD 1.5-architecture UNet2DConditionModel with random weights (diffusers' default config, which is SD
1.5's except cross_attention_dim=768 and sample_size=64, set here as in runwayml/stable-diffusion-v1-5) and saves
it once as a diffusers folder (default /tmp/prism-bench/sd15-unet, reused when present). Then, for each latent
size and dtype, times diffusers' forward and `prism bench unet` on those weights: batch 2, as one
classifier-free-guidance step (uncond + cond), 77 text tokens, warm-up first, inference mode, median of --repeat
runs. It measures this CPU's fp32 and bf16 matmul throughput with torch and the UNet's FLOPs with torch's
FlopCounterMode, and prints a table: seconds per forward, the ratio Prism/diffusers, and the fraction of the
matmul throughput each reaches.

    swift build -c release --product prism        # with LIBTORCH set
    /work/venv/bin/python scripts/bench_unet.py --prism .build/release/prism --repeat 3

Options: --sizes 32 64, --dtypes fp32 bf16, --batch 2, --rounds K (interleaved; medians over rounds), --folder DIR,
--skip-prism, --markdown (table for docs).

With --sd15-pipeline DIR it instead writes a complete SD 1.5-architecture pipeline folder with random weights
(UNet, VAE, CLIP ViT-L/14 text encoder, the CLIP tokenizer from /work/shared/data/clip-vocab, SD 1.5's PNDM
scheduler config) with StableDiffusionPipeline.save_pretrained(safe_serialization=True), for checking that
`prism generate` reads such folders unchanged (and, with --reference, runs diffusers' 2-step DDIM generation at
256×256 from seed 0 and saves its latents to DIR/../sd15-reference.safetensors for comparison):

    /work/venv/bin/python scripts/bench_unet.py --sd15-pipeline /tmp/prism-bench/sd15 --reference
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import time

import torch
from diffusers import UNet2DConditionModel
from torch.utils.flop_counter import FlopCounterMode

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prism", default=".build/release/prism", help="the prism binary (a release build)")
    p.add_argument("--folder", default="/tmp/prism-bench/sd15-unet", help="where the random-weight UNet is saved")
    p.add_argument("--sizes", type=int, nargs="+", default=[32, 64], help="latent sizes (64 = 512×512 pixels)")
    p.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=list(DTYPES))
    p.add_argument("--batch", type=int, default=2, help="UNet batch (2 = one image with classifier-free guidance)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs after the warm-up (median reported)")
    p.add_argument("--rounds", type=int, default=1,
                   help="interleaved rounds of matmul, diffusers and Prism (medians over rounds; use 3 on a shared machine)")
    p.add_argument("--skip-prism", action="store_true", help="time diffusers and matmul only")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--sd15-pipeline", metavar="DIR", help="write a random-weight SD 1.5 pipeline folder and stop")
    p.add_argument("--reference", action="store_true", help="with --sd15-pipeline: also a diffusers reference run")
    return p.parse_args()


SD15_PROMPT = "a chest x-ray"


def write_sd15_pipeline(folder: pathlib.Path, reference: bool):
    """SD 1.5's architecture and configs (runwayml/stable-diffusion-v1-5) with seeded random weights."""
    import shutil
    from diffusers import AutoencoderKL, DDIMScheduler, PNDMScheduler, StableDiffusionPipeline
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    vocab = pathlib.Path("/work/shared/data/clip-vocab")
    if not (folder / "model_index.json").exists():
        torch.manual_seed(0)
        pipe = StableDiffusionPipeline(
            unet=UNet2DConditionModel(sample_size=64, cross_attention_dim=768),
            vae=AutoencoderKL(block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
                              up_block_types=("UpDecoderBlock2D",) * 4, latent_channels=4, layers_per_block=2,
                              sample_size=512),
            text_encoder=CLIPTextModel(CLIPTextConfig(
                vocab_size=49408, hidden_size=768, intermediate_size=3072, num_attention_heads=12,
                num_hidden_layers=12, projection_dim=768, max_position_embeddings=77, hidden_act="quick_gelu",
                bos_token_id=49406, eos_token_id=49407, pad_token_id=1)),
            tokenizer=CLIPTokenizer(str(vocab / "vocab.json"), str(vocab / "merges.txt"), model_max_length=77),
            scheduler=PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                    skip_prk_steps=True, set_alpha_to_one=False, steps_offset=1),
            safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        pipe.save_pretrained(folder, safe_serialization=True)
        (folder / "tokenizer" / "tokenizer.json").unlink(missing_ok=True)
        for name in ("vocab.json", "merges.txt"):
            shutil.copyfile(vocab / name, folder / "tokenizer" / name)
        print(f"wrote {folder}")
    if reference:
        pipe = StableDiffusionPipeline.from_pretrained(folder, safety_checker=None, requires_safety_checker=False)
        pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
        start = time.perf_counter()
        with torch.inference_mode():
            latents = pipe(SD15_PROMPT, num_inference_steps=2, height=256, width=256,
                           generator=torch.Generator().manual_seed(0), output_type="latent").images
        seconds = time.perf_counter() - start
        from safetensors.torch import save_file
        out = folder.parent / "sd15-reference.safetensors"
        save_file({"latents": latents.contiguous()}, out)
        print(f"diffusers: 2 DDIM steps at 256×256 in {seconds:.1f} s; latents written to {out}")


def ensure_unet(folder: pathlib.Path):
    if (folder / "config.json").exists() and (folder / "diffusion_pytorch_model.safetensors").exists():
        return
    print(f"saving a random-weight SD 1.5 UNet to {folder} (once)", flush=True)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768)
    unet.save_pretrained(folder, safe_serialization=True)


def matmul_gflops(dtype, n=2048, repeat=5):
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    return 2 * n ** 3 / min(times) / 1e9


def time_diffusers(unet, size, batch, dtype, repeat):
    g = torch.Generator().manual_seed(0)
    sample = torch.randn(batch, 4, size, size, generator=g).to(dtype)
    context = torch.randn(batch, 77, unet.config.cross_attention_dim, generator=g).to(dtype)
    t = torch.tensor(500)
    with torch.inference_mode():
        with FlopCounterMode(display=False) as counter:  # the warm-up run, counted
            unet(sample, t, encoder_hidden_states=context)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            unet(sample, t, encoder_hidden_states=context)
            times.append(time.perf_counter() - start)
    return statistics.median(times), counter.get_total_flops()


def time_prism(binary, folder, size, batch, dtype, repeat):
    cmd = [binary, "bench", "unet", "--model", str(folder), "--latent-size", str(size), "--batch", str(batch),
           "--dtype", dtype, "--repeat", str(repeat), "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    args = parse()
    if args.sd15_pipeline:
        write_sd15_pipeline(pathlib.Path(args.sd15_pipeline), args.reference)
        return
    folder = pathlib.Path(args.folder)
    ensure_unet(folder)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)

    # Each round measures, per dtype, the matmul rate, diffusers and Prism one after the other, so that a machine
    # whose speed drifts (a shared VM's does, by tens of percent) affects both sides of each ratio alike; the table
    # gives the median over rounds of each round's own ratio and fractions.
    results = {}  # (dtype, size) -> list of per-round dicts
    for round_index in range(args.rounds):
        for name in args.dtypes:
            peak = matmul_gflops(DTYPES[name])
            print(f"round {round_index + 1}/{args.rounds}: matmul 2048² {name} {peak:.0f} GFLOP/s", flush=True)
            unet = UNet2DConditionModel.from_pretrained(folder, torch_dtype=DTYPES[name]).eval()
            measured = {}
            for size in args.sizes:
                seconds, flops = time_diffusers(unet, size, args.batch, DTYPES[name], args.repeat)
                measured[size] = (seconds, flops)
                print(f"diffusers {name} {size}×{size}: {seconds:.3f} s ({flops / 1e9:.0f} GFLOP)", flush=True)
            del unet  # free its memory before Prism loads its own copy
            for size in args.sizes:
                seconds, flops = measured[size]
                row = dict(flops=flops, peak=peak, diffusers=seconds, prism=None, rss=None)
                if not args.skip_prism:
                    result = time_prism(args.prism, folder, size, args.batch, name, args.repeat)
                    row["prism"], row["rss"] = result["median_s"], result.get("peak_rss_mb")
                    print(f"prism     {name} {size}×{size}: {row['prism']:.3f} s, peak RSS {row['rss']:.0f} MB", flush=True)
                results.setdefault((name, size), []).append(row)
    print()
    print(table(results, args.batch, args.markdown))


def table(results, batch, markdown):
    head = ["latents", "dtype", "GFLOP", "diffusers s", "Prism s", "Prism/diffusers", "range over rounds",
            "diffusers % matmul", "Prism % matmul", "Prism peak RSS MB"]
    median = statistics.median
    lines = []
    for (name, size), rounds in results.items():
        gflop = rounds[0]["flops"] / 1e9
        frac = lambda key: f"{100 * median(gflop / r[key] / r['peak'] for r in rounds):.0f}%"
        timed = all(r["prism"] for r in rounds)
        ratios = [r["prism"] / r["diffusers"] for r in rounds] if timed else []
        lines.append([f"{size}×{size} ×{batch}", name, f"{gflop:.0f}", f"{median(r['diffusers'] for r in rounds):.3f}",
                      f"{median(r['prism'] for r in rounds):.3f}" if timed else "–",
                      f"{median(ratios):.2f}" if timed else "–",
                      f"{min(ratios):.2f}–{max(ratios):.2f}" if timed else "–",
                      frac("diffusers"), frac("prism") if timed else "–",
                      f"{max(r['rss'] for r in rounds):.0f}" if timed else "–"])
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(line) + " |" for line in lines]
        return "\n".join(out)
    widths = [max(len(x) for x in col) for col in zip(head, *lines)]
    fmt = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))
    return "\n".join([fmt(head)] + [fmt(line) for line in lines])


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
