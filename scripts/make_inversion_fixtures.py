#!/usr/bin/env python3
"""Reference values for Prism's DDIM and null-text inversion (dev-only).

Runs the notebook's own `NullInversion` (google/prompt-to-prompt null_text_w_ptp.ipynb; see scripts/ptp_reference.py:
a checkout given by PTP_DIR or --ptp, checked against the recorded commit and hashes): `ddim_loop` (DDIM inversion
with `next_step`) and `null_optimization` (Adam on the unconditional embedding, `prev_step`, early stop, the guided
step with `get_noise_pred`), with NUM_DDIM_STEPS = 5 and the notebook's GUIDANCE_SCALE (7.5). Two models:

  tiny.*  the tiny Stable Diffusion of scripts/make_pipeline_fixtures.py (Tests/DiffusionTests/Fixtures/
          pipeline-tiny, loaded in fp32 by diffusers' StableDiffusionPipeline): the whole path of
          `NullInversion.invert` but `load_512` and `register_attention_control(model, None)`, i.e. `init_prompt`
          (its text encoder), `ddim_inversion` (`image2latent`: the VAE's posterior mean × 0.18215, then
          `ddim_loop`) and `null_optimization`. The image is 64×64 (the tiny VAE's size) instead of load_512's
          512×512, so that the latents are 8×8.
  (no prefix)  a closed-form stand-in for the UNet, which Prism's test computes identically,
          eps(x, t, context) = tanh(0.5 x + 0.3 mean(context)) + t / 2000 (the mean per batch row),
          on a 4×4×4 latent with 8-wide embeddings; the context (normally init_prompt's) is set directly, and the
          scheduler is the notebook's DDIMScheduler with steps_offset=1, which diffusers' StableDiffusionPipeline
          forces on the scheduler the notebook hands it.

Glue only: the progress bar (ptp_reference.notebook), and recording, not recomputing, what null_optimization does
not return: each outer step's last loss (the `nnf.mse_loss` values, split at the step's closing `get_noise_pred`)
and the latent after each guided step.

Writes Tests/CounterfactualTests/Fixtures/inversion.safetensors (the reference's provenance in its metadata).

    PTP_DIR=/path/to/prompt-to-prompt /work/venv/bin/python scripts/make_inversion_fixtures.py
"""
import types

import numpy as np
import torch
from diffusers import DDIMScheduler, StableDiffusionPipeline
from safetensors.torch import save_file

import ptp_reference

STEPS, INNER, EPSILON, EARLY_EPSILON = 5, 10, 1e-5, 0.45
PROMPT = "Chest X-ray of a 70-year-old female with cardiomegaly"
TINY = ptp_reference.ROOT / "Tests/DiffusionTests/Fixtures/pipeline-tiny"

args = ptp_reference.arguments(__doc__)
ptp_reference.verify(args.ptp)
tokenizer = ptp_reference.tokenizer(args.vocab)
nb = ptp_reference.notebook(args.ptp, tokenizer, NUM_DDIM_STEPS=STEPS)
torch.set_num_threads(1)


def run_null_optimization(inversion, latents, epsilon=EPSILON):
    """null_optimization, recording each outer step's losses and resulting latent (it returns the embeddings only)."""
    losses, steps = [[]], []

    class RecordingFunctional:
        def __getattr__(self, name):
            return getattr(torch.nn.functional, name)

        def mse_loss(self, *a, **k):
            loss = torch.nn.functional.mse_loss(*a, **k)
            losses[-1].append(loss.item())
            return loss

    get_noise_pred = inversion.get_noise_pred

    def closing_step(latents, t, is_forward=True, context=None):
        out = get_noise_pred(latents, t, is_forward, context)
        assert not is_forward
        steps.append(out.detach().clone())
        losses.append([])
        return out

    nb["nnf"] = RecordingFunctional()
    inversion.get_noise_pred = closing_step
    try:
        embeddings = inversion.null_optimization(latents, INNER, epsilon)
    finally:
        nb["nnf"] = torch.nn.functional
        del inversion.get_noise_pred
    assert len(steps) == STEPS and losses[-1] == []
    inner = [len(l) for l in losses[:-1]]
    print(f"  inner iterations per step {inner}, last losses {[l[-1] for l in losses[:-1]]}")
    return embeddings, [l[-1] for l in losses[:-1]], steps[-1], inner


out = {}

# --- The stand-in UNet. ---
def standin_unet(latents, t, encoder_hidden_states):
    c = encoder_hidden_states.mean(dim=(1, 2))[:, None, None, None]
    return {"sample": torch.tanh(0.5 * latents + 0.3 * c) + float(t) / 2000}


scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                          set_alpha_to_one=False, steps_offset=1)
g = torch.Generator().manual_seed(3)
z0 = torch.randn(1, 4, 4, 4, generator=g)
cond = torch.randn(1, 77, 8, generator=g) * 0.5 + 0.2
uncond = torch.randn(1, 77, 8, generator=g) * 0.5 - 0.1
inversion = nb["NullInversion"](types.SimpleNamespace(unet=standin_unet, scheduler=scheduler, tokenizer=tokenizer))
inversion.context = torch.cat([uncond, cond])
print("stand-in:")
trajectory = inversion.ddim_loop(z0)
embeddings, losses, final, _ = run_null_optimization(inversion, trajectory)
out.update({"z0": z0, "cond": cond, "uncond": uncond, "trajectory": torch.cat(trajectory),
            "null_embeddings": torch.cat(embeddings), "losses": torch.tensor(losses), "final": final,
            "timesteps": scheduler.timesteps.clone().to(torch.int64)})
# The same with a loose early stop (epsilon + i·2e-5), which ends some steps' optimisation early.
print(f"stand-in, epsilon {EARLY_EPSILON}:")
embeddings, losses, final, inner = run_null_optimization(inversion, trajectory, EARLY_EPSILON)
assert 1 < min(inner) < INNER and max(inner) == INNER, inner
out.update({"early.null_embeddings": torch.cat(embeddings), "early.losses": torch.tensor(losses),
            "early.inner_steps": torch.tensor(inner, dtype=torch.int64)})

# --- The tiny Stable Diffusion. ---
pipe = StableDiffusionPipeline.from_pretrained(TINY, torch_dtype=torch.float32, variant="fp16", safety_checker=None,
                                               requires_safety_checker=False)
y, x = np.meshgrid(np.linspace(0, 1, 64), np.linspace(0, 1, 64), indexing="ij")
image = np.stack([np.sin(6 * x) * y, x * x, (x + y) / 2], -1)
image = np.clip(np.round(255 * (image - image.min()) / (image.max() - image.min())), 0, 255).astype(np.uint8)
inversion = nb["NullInversion"](pipe)
inversion.init_prompt(PROMPT)
print("tiny Stable Diffusion:")
with torch.no_grad():
    _, trajectory = inversion.ddim_inversion(image)
embeddings, losses, final, _ = run_null_optimization(inversion, trajectory)
uncond, cond = inversion.context.chunk(2)
out.update({"tiny.image": torch.from_numpy(image), "tiny.cond": cond, "tiny.uncond": uncond,
            "tiny.trajectory": torch.cat(trajectory), "tiny.null_embeddings": torch.cat(embeddings),
            "tiny.losses": torch.tensor(losses), "tiny.final": final,
            "tiny.timesteps": pipe.scheduler.timesteps.clone().to(torch.int64)})

target = ptp_reference.ROOT / "Tests/CounterfactualTests/Fixtures/inversion.safetensors"
save_file({k: v.detach().contiguous() for k, v in out.items()}, str(target),
          metadata=ptp_reference.metadata(script="scripts/make_inversion_fixtures.py", prompt=PROMPT, steps=STEPS,
                                          inner_steps=INNER, epsilon=EPSILON, early_epsilon=EARLY_EPSILON,
                                          guidance=nb["GUIDANCE_SCALE"]))
target.chmod(0o644)
print(f"wrote {target} ({target.stat().st_size} bytes)")
