#!/usr/bin/env python3
"""Reference values for Prism's DDIM and null-text inversion (dev-only).

The algorithm is google/prompt-to-prompt's `NullInversion` (null_text_w_ptp.ipynb: `next_step`, `prev_step`,
`ddim_loop`, `null_optimization`), with diffusers' DDIMScheduler for the schedule, run on a small differentiable
stand-in for the UNet that Prism's test computes identically:
    eps(x, t, context) = tanh(0.5 x + 0.3 mean(context)) + t / 2000
Writes Tests/CounterfactualTests/Fixtures/inversion.safetensors.
"""
import pathlib

import torch
import torch.nn.functional as nnf
from diffusers import DDIMScheduler
from safetensors.torch import save_file
from torch.optim.adam import Adam

STEPS, GUIDANCE, INNER, EPSILON = 5, 7.5, 10, 1e-5
scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                          set_alpha_to_one=False, steps_offset=1)
scheduler.set_timesteps(STEPS)


def model(x, t, context):
    return torch.tanh(0.5 * x + 0.3 * context.mean()) + float(t) / 2000


def prev_step(model_output, timestep, sample):
    prev_timestep = timestep - scheduler.config.num_train_timesteps // scheduler.num_inference_steps
    alpha_prod_t = scheduler.alphas_cumprod[timestep]
    alpha_prod_t_prev = scheduler.alphas_cumprod[prev_timestep] if prev_timestep >= 0 else scheduler.final_alpha_cumprod
    beta_prod_t = 1 - alpha_prod_t
    pred_original_sample = (sample - beta_prod_t ** 0.5 * model_output) / alpha_prod_t ** 0.5
    pred_sample_direction = (1 - alpha_prod_t_prev) ** 0.5 * model_output
    return alpha_prod_t_prev ** 0.5 * pred_original_sample + pred_sample_direction


def next_step(model_output, timestep, sample):
    timestep, next_timestep = min(timestep - scheduler.config.num_train_timesteps // scheduler.num_inference_steps, 999), timestep
    alpha_prod_t = scheduler.alphas_cumprod[timestep] if timestep >= 0 else scheduler.final_alpha_cumprod
    alpha_prod_t_next = scheduler.alphas_cumprod[next_timestep]
    beta_prod_t = 1 - alpha_prod_t
    next_original_sample = (sample - beta_prod_t ** 0.5 * model_output) / alpha_prod_t ** 0.5
    next_sample_direction = (1 - alpha_prod_t_next) ** 0.5 * model_output
    return alpha_prod_t_next ** 0.5 * next_original_sample + next_sample_direction


g = torch.Generator().manual_seed(3)
z0 = torch.randn(1, 4, 4, 4, generator=g)
cond = torch.randn(1, 77, 8, generator=g) * 0.5 + 0.2
uncond = torch.randn(1, 77, 8, generator=g) * 0.5 - 0.1

with torch.no_grad():
    latents = [z0]
    latent = z0.clone()
    for i in range(STEPS):
        t = scheduler.timesteps[len(scheduler.timesteps) - i - 1]
        latent = next_step(model(latent, t, cond), t, latent)
        latents.append(latent)

uncond_embeddings = uncond
embeddings, losses = [], []
latent_cur = latents[-1]
for i in range(STEPS):
    uncond_embeddings = uncond_embeddings.clone().detach()
    uncond_embeddings.requires_grad = True
    optimizer = Adam([uncond_embeddings], lr=1e-2 * (1. - i / 100.))
    latent_prev = latents[len(latents) - i - 2]
    t = scheduler.timesteps[i]
    with torch.no_grad():
        noise_pred_cond = model(latent_cur, t, cond)
    for j in range(INNER):
        noise_pred_uncond = model(latent_cur, t, uncond_embeddings)
        noise_pred = noise_pred_uncond + GUIDANCE * (noise_pred_cond - noise_pred_uncond)
        latents_prev_rec = prev_step(noise_pred, t, latent_cur)
        loss = nnf.mse_loss(latents_prev_rec, latent_prev)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss_item = loss.item()
        if loss_item < EPSILON + i * 2e-5:
            break
    embeddings.append(uncond_embeddings[:1].detach())
    losses.append(loss_item)
    with torch.no_grad():
        u = model(latent_cur, t, uncond_embeddings)
        latent_cur = prev_step(u + GUIDANCE * (noise_pred_cond - u), t, latent_cur)

out = {"z0": z0, "cond": cond, "uncond": uncond, "trajectory": torch.cat(latents), "null_embeddings": torch.cat(embeddings),
       "losses": torch.tensor(losses), "final": latent_cur, "timesteps": scheduler.timesteps.clone().to(torch.int64)}
target = pathlib.Path(__file__).resolve().parents[1] / "Tests/CounterfactualTests/Fixtures/inversion.safetensors"
save_file({k: v.contiguous() for k, v in out.items()}, str(target))
print(f"wrote {target}; losses {losses}")
