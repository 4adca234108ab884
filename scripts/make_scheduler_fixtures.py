#!/usr/bin/env python3
"""Reference values for Prism's scheduler parity tests, from diffusers' DDIMScheduler, DDIMInverseScheduler,
DDPMScheduler and DPMSolverMultistepScheduler (dev-only).

Run: /work/venv/bin/python scripts/make_scheduler_fixtures.py

Writes Tests/DiffusionTests/Fixtures/schedulers/:
  sd15/scheduler_config.json, sd21/scheduler_config.json  the Stable Diffusion 1.5 (PNDMScheduler) and 2.1
      (DDIMScheduler, v_prediction) scheduler configs, made by diffusers' from_config + save_config and cut to
      the keys the published files have (so that absent keys take each scheduler's own defaults)
  cases/<name>/scheduler_config.json  each case's scheduler, as diffusers' save_config writes it
  cases.json      per case: kind, config folder, step count, eta, seed, diffusers' timesteps, add_noise timesteps;
                  and per base config and kind the config diffusers resolves (its defaults filled in)
  tensors.safetensors  the input sample and noise, and per case ᾱ (alphas_cumprod), DPM-Solver's sigmas,
                  every step's prev_sample and
                  pred_original_sample (for DPM-Solver: the converted x0 prediction), add_noise and get_velocity

The fake model output is a fixed function of the sample and the timestep that the Swift tests compute the same
way: model_output = tanh(sample) * 0.6 + noise * (0.4 + t / 2000) (for learned_range, the predicted variance
tanh(noise * 0.7 - sample * 0.2) is appended along the channels).
"""
import json
import pathlib
import shutil

import torch
from safetensors.torch import save_file
from diffusers import (
    DDIMInverseScheduler,
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    PNDMScheduler,
)

torch.set_num_threads(1)
ROOT = pathlib.Path(__file__).resolve().parent.parent / "Tests" / "DiffusionTests" / "Fixtures" / "schedulers"

CLASSES = {
    "ddim": DDIMScheduler,
    "ddim_inverse": DDIMInverseScheduler,
    "ddpm": DDPMScheduler,
    "dpmpp": DPMSolverMultistepScheduler,
}

# The keys of the published scheduler_config.json of runwayml/stable-diffusion-v1-5 and
# stabilityai/stable-diffusion-2-1 (values are set below through diffusers).
SD15_KEYS = ["_class_name", "_diffusers_version", "beta_end", "beta_schedule", "beta_start", "clip_sample",
             "num_train_timesteps", "set_alpha_to_one", "skip_prk_steps", "steps_offset", "trained_betas"]
SD21_KEYS = SD15_KEYS + ["prediction_type"]


def write_base_configs():
    common = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
                  set_alpha_to_one=False, skip_prk_steps=True, steps_offset=1, trained_betas=None,
                  clip_sample=False)
    bases = {
        "sd15": (PNDMScheduler.from_config(common), SD15_KEYS),
        "sd21": (DDIMScheduler.from_config(dict(common, prediction_type="v_prediction")), SD21_KEYS),
    }
    for name, (scheduler, keys) in bases.items():
        folder = ROOT / name
        scheduler.save_config(folder)
        path = folder / "scheduler_config.json"
        saved = json.loads(path.read_text())
        path.write_text(json.dumps({k: saved[k] for k in keys if k in saved}, indent=2, sort_keys=True) + "\n")


def load_base(name):
    return DDIMScheduler.load_config(ROOT / name)


def model_output(sample, noise, t, learned_range=False):
    out = torch.tanh(sample) * 0.6 + noise * (0.4 + t / 2000)
    if learned_range:
        out = torch.cat([out, torch.tanh(noise * 0.7 - sample * 0.2)], dim=1)
    return out


def run_case(case, sample0, noise, tensors):
    cls = CLASSES[case["kind"]]
    base = load_base(case["base"])
    scheduler = cls.from_config(base, **case.get("overrides", {}))
    folder = ROOT / "cases" / case["name"]
    if case.get("overrides"):
        scheduler.save_config(folder)
        case["config"] = f"cases/{case['name']}"
    else:
        case["config"] = case["base"]  # the published file itself: absent keys take this scheduler's defaults
    scheduler = cls.from_config(cls.load_config(ROOT / case["config"]))
    scheduler.set_timesteps(case["steps"])
    case["timesteps"] = [int(t) for t in scheduler.timesteps]
    tensors[f"{case['name']}.alphas_cumprod"] = scheduler.alphas_cumprod.clone()
    if case["kind"] == "dpmpp":
        tensors[f"{case['name']}.sigmas"] = scheduler.sigmas.clone()
    generator = torch.Generator().manual_seed(case["seed"]) if "seed" in case else None
    learned = case["kind"] == "ddpm" and scheduler.config.variance_type in ("learned", "learned_range")
    sample = sample0.clone()
    for i, t in enumerate(scheduler.timesteps):
        out = model_output(sample, noise, int(t), learned)
        if case["kind"] == "ddim":
            result = scheduler.step(out, t, sample, eta=case.get("eta", 0.0), generator=generator,
                                    use_clipped_model_output=case.get("use_clipped_model_output", False))
            pred = result.pred_original_sample
        elif case["kind"] == "ddpm":
            result = scheduler.step(out, t, sample, generator=generator)
            pred = result.pred_original_sample
        elif case["kind"] == "ddim_inverse":
            result = scheduler.step(out, t, sample)
            pred = result.pred_original_sample
        else:
            result = scheduler.step(out, t, sample)
            pred = scheduler.model_outputs[-1]
        sample = result.prev_sample
        tensors[f"{case['name']}.prev.{i}"] = sample.clone()
        tensors[f"{case['name']}.pred.{i}"] = pred.clone()
    if case["kind"] != "ddim_inverse":
        ts = case["timesteps"]
        chosen = [ts[1], ts[-1]]
        case["add_noise_timesteps"] = chosen
        tensors[f"{case['name']}.add_noise"] = scheduler.add_noise(sample0, noise, torch.tensor(chosen))
        if hasattr(scheduler, "get_velocity"):
            tensors[f"{case['name']}.velocity"] = scheduler.get_velocity(sample0, noise, torch.tensor(chosen))
    return case


CASES = [
    # DDIM
    dict(name="ddim_sd15", kind="ddim", base="sd15", steps=10),
    dict(name="ddim_sd15_eta", kind="ddim", base="sd15", steps=6, eta=0.7, seed=42),
    dict(name="ddim_sd21_v_leading", kind="ddim", base="sd21", steps=8),
    dict(name="ddim_sd21_v_trailing", kind="ddim", base="sd21", steps=7, overrides=dict(timestep_spacing="trailing")),
    dict(name="ddim_zero_snr", kind="ddim", base="sd21", steps=6,
         overrides=dict(timestep_spacing="trailing", rescale_betas_zero_snr=True)),
    dict(name="ddim_linspace_sample_clip", kind="ddim", base="sd15", steps=9,
         overrides=dict(timestep_spacing="linspace", prediction_type="sample", clip_sample=True,
                        clip_sample_range=0.8, set_alpha_to_one=True, beta_schedule="linear",
                        beta_start=0.0001, beta_end=0.02)),
    dict(name="ddim_cosine_eta1", kind="ddim", base="sd15", steps=5, eta=1.0, seed=3,
         overrides=dict(beta_schedule="squaredcos_cap_v2", clip_sample=True)),
    dict(name="ddim_clipped_model_output", kind="ddim", base="sd15", steps=5, eta=0.5, seed=8,
         use_clipped_model_output=True, overrides=dict(clip_sample=True, clip_sample_range=1.2)),
    dict(name="ddim_trained_betas", kind="ddim", base="sd15", steps=5,
         overrides=dict(num_train_timesteps=100, steps_offset=0,
                        trained_betas=[0.0001 + i * (0.05 - 0.0001) / 99 for i in range(100)])),
    # DDIM inversion
    dict(name="ddim_inverse_sd15", kind="ddim_inverse", base="sd15", steps=10),
    dict(name="ddim_inverse_sd21_trailing", kind="ddim_inverse", base="sd21", steps=7,
         overrides=dict(timestep_spacing="trailing")),
    dict(name="ddim_inverse_alpha_one", kind="ddim_inverse", base="sd15", steps=5,
         overrides=dict(set_alpha_to_one=True, steps_offset=0)),
    # DDPM
    dict(name="ddpm_sd15", kind="ddpm", base="sd15", steps=8, seed=7),
    dict(name="ddpm_small_log_v", kind="ddpm", base="sd21", steps=6, seed=11,
         overrides=dict(variance_type="fixed_small_log", clip_sample=True, timestep_spacing="linspace")),
    dict(name="ddpm_learned_range", kind="ddpm", base="sd15", steps=5, seed=5,
         overrides=dict(variance_type="learned_range", beta_schedule="squaredcos_cap_v2",
                        timestep_spacing="trailing")),
    dict(name="ddpm_sample_zero_snr", kind="ddpm", base="sd21", steps=4, seed=9,
         overrides=dict(prediction_type="sample", rescale_betas_zero_snr=True, timestep_spacing="trailing")),
    dict(name="ddpm_fixed_large", kind="ddpm", base="sd15", steps=5, seed=13,
         overrides=dict(variance_type="fixed_large")),
    # DPM-Solver++
    dict(name="dpmpp_sd15", kind="dpmpp", base="sd15", steps=10),
    dict(name="dpmpp_sd15_leading", kind="dpmpp", base="sd15", steps=8, overrides=dict(timestep_spacing="leading")),
    dict(name="dpmpp_order1", kind="dpmpp", base="sd15", steps=6, overrides=dict(solver_order=1)),
    dict(name="dpmpp_sd21_v_trailing", kind="dpmpp", base="sd21", steps=7,
         overrides=dict(timestep_spacing="trailing")),
    dict(name="dpmpp_order3_heun", kind="dpmpp", base="sd15", steps=16,
         overrides=dict(solver_order=3, solver_type="heun")),
    dict(name="dpmpp_sigma_min_long", kind="dpmpp", base="sd15", steps=16,
         overrides=dict(final_sigmas_type="sigma_min")),
    dict(name="dpmpp_karras", kind="dpmpp", base="sd15", steps=9, overrides=dict(use_karras_sigmas=True)),
    dict(name="dpmpp_lambda_clipped", kind="dpmpp", base="sd15", steps=8,
         overrides=dict(beta_schedule="squaredcos_cap_v2", lambda_min_clipped=-5.1)),
    dict(name="dpmpp_zero_snr_v", kind="dpmpp", base="sd21", steps=6,
         overrides=dict(rescale_betas_zero_snr=True, timestep_spacing="trailing")),
]

RESOLVED_FIELDS = ["num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "clip_sample",
                   "clip_sample_range", "set_alpha_to_one", "steps_offset", "prediction_type", "timestep_spacing",
                   "rescale_betas_zero_snr", "variance_type", "solver_order", "algorithm_type", "solver_type",
                   "lower_order_final", "final_sigmas_type", "use_karras_sigmas"]


def main():
    if ROOT.exists():
        shutil.rmtree(ROOT)
    ROOT.mkdir(parents=True)
    write_base_configs()
    g = torch.Generator().manual_seed(1234)
    sample0 = torch.randn(2, 4, 8, 8, generator=g)
    noise = torch.randn(2, 4, 8, 8, generator=g)
    tensors = {"sample": sample0, "noise": noise}
    cases = [run_case(dict(c), sample0, noise, tensors) for c in CASES]
    resolved = []
    for base in ["sd15", "sd21"]:
        for kind, cls in CLASSES.items():
            config = cls.from_config(load_base(base)).config
            resolved.append(dict(base=base, kind=kind,
                                 config={k: config[k] for k in RESOLVED_FIELDS if k in config}))
    (ROOT / "cases.json").write_text(json.dumps(dict(cases=cases, resolved=resolved), indent=1) + "\n")
    save_file({k: v.contiguous().float() for k, v in tensors.items()}, ROOT / "tensors.safetensors")
    print(f"{len(cases)} cases, {len(tensors)} tensors -> {ROOT}")


if __name__ == "__main__":
    main()
