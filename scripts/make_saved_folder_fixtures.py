#!/usr/bin/env python3
"""A Stable Diffusion folder exactly as diffusers 0.42 + transformers 5 save it, with a reference run (dev-only).

Today's save_pretrained writes the tokenizer as `tokenizer/tokenizer.json` + `tokenizer_config.json` only (no
vocab.json / merges.txt), and DPMSolverMultistepScheduler's config holds `"lambda_min_clipped": -Infinity`. This
script saves the tiny random-weight pipeline of make_pipeline_fixtures.py that way, with the DPM-Solver++ scheduler,
in fp16 (plain file names), and leaves the folder as written, into Tests/DiffusionTests/Fixtures/saved-diffusers-0.42/.

reference.safetensors holds:
  input_latents     the fixed starting latents (1 × 4 × 8 × 8)
  txt2img_latents   5 DPM-Solver++ steps, guidance 7.5, from input_latents, the pipeline loaded back in fp32
  prompt_ids        the tokenizer's ids of PROMPT (padded to 77), from the folder's own tokenizer
and its metadata the library versions.

    /work/venv/bin/python scripts/make_saved_folder_fixtures.py
"""
import json
import pathlib
import shutil
import sys

import diffusers
import torch
import transformers
from diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline
from safetensors.torch import save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_pipeline_fixtures import GUIDANCE, PROMPT, build  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "DiffusionTests" / "Fixtures" / "saved-diffusers-0.42"
STEPS = 5


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    if OUT.exists():
        shutil.rmtree(OUT)
    pipe = build()
    pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    pipe.to(torch.float16).save_pretrained(OUT, safe_serialization=True)
    names = sorted(p.name for p in (OUT / "tokenizer").iterdir())
    assert "vocab.json" not in names and "tokenizer.json" in names, names
    scheduler_text = (OUT / "scheduler" / "scheduler_config.json").read_text()
    assert "-Infinity" in scheduler_text, scheduler_text
    (OUT / "tokenizer" / "NOTICE.md").write_text(
        "tokenizer.json: the CLIP BPE vocabulary of openai/CLIP (MIT licence), as transformers 5 saves it.\n")

    pipe = StableDiffusionPipeline.from_pretrained(OUT, torch_dtype=torch.float32, safety_checker=None,
                                                   requires_safety_checker=False)
    assert isinstance(pipe.scheduler, DPMSolverMultistepScheduler)
    pipe.set_progress_bar_config(disable=True)
    ref = {}
    with torch.no_grad():
        latents = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(99))
        ref["input_latents"] = latents
        ref["txt2img_latents"] = pipe(PROMPT, num_inference_steps=STEPS, guidance_scale=GUIDANCE, height=64,
                                      width=64, latents=latents.clone(), output_type="latent").images
    ids = pipe.tokenizer(PROMPT, padding="max_length", max_length=77, truncation=True).input_ids
    ref["prompt_ids"] = torch.tensor(ids, dtype=torch.int64)
    save_file({k: v.contiguous() for k, v in ref.items()}, OUT / "reference.safetensors",
              metadata={"prompt": PROMPT, "guidance": str(GUIDANCE), "steps": str(STEPS),
                        "diffusers": diffusers.__version__, "transformers": transformers.__version__,
                        "torch": torch.__version__})
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB) with diffusers {diffusers.__version__}, "
          f"transformers {transformers.__version__}")
    print(json.dumps(sorted(str(p.relative_to(OUT)) for p in OUT.rglob("*") if p.is_file())))


if __name__ == "__main__":
    main()
