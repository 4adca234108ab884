#!/usr/bin/env python3
"""Reference runs for Prism's StableDiffusionPipeline tests, from diffusers (dev-only).

Builds a tiny random-weight Stable Diffusion (UNet2DConditionModel, AutoencoderKL and CLIPTextModel with tiny
configs, the real CLIP tokenizer files from /work/shared/data/clip-vocab, an SD 1.5-style DDIM scheduler config)
and saves it with save_pretrained(safe_serialization=True, variant="fp16") into
Tests/DiffusionTests/Fixtures/pipeline-tiny/. The weights are rounded to fp16 and stored as fp16 (the
`*.fp16.safetensors` variant names, half the bytes); the reference runs load them back in fp32, so Prism and
diffusers compute from the same values.

pipeline-tiny/reference.safetensors holds:
  prompt_embeds, negative_prompt_embeds   text encoder outputs (1 × 77 × 8) of PROMPT and NEGATIVE
  empty_prompt_embeds                     the unconditional embedding of "" (used when no negative prompt)
  input_latents                           the fixed starting latents of the text-to-image run (1 × 4 × 8 × 8)
  txt2img_latents, txt2img_image          4 guided DDIM steps (guidance 7.5) from input_latents; the image is
                                          diffusers' postprocessed output in [0, 1] (1 × 3 × 64 × 64)
  seed_noise                              torch.manual_seed(SEED); torch.randn(2, 4, 8, 8)
  seeded_latents                          text-to-image from the seed with num_images_per_prompt=2, no negative
                                          prompt (initial noise drawn by the pipeline's generator)
  init_image                              the img2img input in [-1, 1] (1 × 3 × 64 × 64)
  img2img_latents, img2img_image          StableDiffusionImg2ImgPipeline, strength 0.5, 4 steps, the seed
                                          generator (VAE encoder sample, then the noise, from one generator)

pipeline-tiny/standin.safetensors holds the same pipelines' final latents with closed-form stand-ins for the UNet
and the VAE encoder (standin_unet, standin_encode below, mirrored in the Swift test), which check the pipeline's
own logic: txt2img, seeded (2 images), unguided, img2img, img2img_batch2, ddpm_seeded, dpmpp_img2img.

    /work/venv/bin/python scripts/make_pipeline_fixtures.py
"""
import json
import pathlib
import shutil

import torch
from diffusers import (AutoencoderKL, DDIMScheduler, StableDiffusionImg2ImgPipeline, StableDiffusionPipeline,
                       UNet2DConditionModel)
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "DiffusionTests" / "Fixtures" / "pipeline-tiny"
VOCAB = pathlib.Path("/work/shared/data/clip-vocab")

PROMPT = "Chest X-ray, small left pleural effusion; heart size normal (age 73)."
NEGATIVE = "blurry, low contrast"
SEED = 1234
GUIDANCE = 7.5
STEPS = 4
STRENGTH = 0.5

torch.manual_seed(0)
torch.set_num_threads(1)


def perturb(model, scale=0.05):
    """Random init leaves zero-initialised layers (conv_out, biases, norms); seeded noise makes every weight count."""
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)
    return model


def build():
    text_config = CLIPTextConfig(vocab_size=49408, hidden_size=8, intermediate_size=16, num_attention_heads=2,
                                 num_hidden_layers=2, max_position_embeddings=77, hidden_act="quick_gelu",
                                 pad_token_id=1, bos_token_id=49406, eos_token_id=49407, projection_dim=8)
    text_encoder = perturb(CLIPTextModel(text_config).eval())
    tokenizer = CLIPTokenizer(str(VOCAB / "vocab.json"), str(VOCAB / "merges.txt"), model_max_length=77)
    unet = perturb(UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(8, 16),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=8, attention_head_dim=4, norm_num_groups=4).eval())
    vae = perturb(AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1, norm_num_groups=4,
        block_out_channels=(4, 8, 8, 8), down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, sample_size=64).eval(), scale=0.02)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1, num_train_timesteps=1000,
                              timestep_spacing="leading")
    for m in (text_encoder, unet, vae):  # fp16-representable values, so the fp16 files hold them exactly
        with torch.no_grad():
            for p in m.parameters():
                p.copy_(p.half().float())
    return StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    build().to(torch.float16).save_pretrained(OUT, safe_serialization=True, variant="fp16")
    # transformers 5 writes tokenizer.json; Stable Diffusion folders (and Prism) carry vocab.json and merges.txt.
    (OUT / "tokenizer" / "tokenizer.json").unlink()
    for name in ("vocab.json", "merges.txt"):
        shutil.copyfile(VOCAB / name, OUT / "tokenizer" / name)
    (OUT / "tokenizer" / "NOTICE.md").write_text(
        "vocab.json and merges.txt: the CLIP BPE vocabulary of openai/CLIP (MIT licence), as Stable Diffusion 1.x "
        "ships it.\n")

    pipe = StableDiffusionPipeline.from_pretrained(OUT, torch_dtype=torch.float32, variant="fp16",
                                                   safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    ref = {}
    with torch.no_grad():
        ref["prompt_embeds"], ref["negative_prompt_embeds"] = pipe.encode_prompt(PROMPT, "cpu", 1, True, NEGATIVE)
        _, ref["empty_prompt_embeds"] = pipe.encode_prompt(PROMPT, "cpu", 1, True, None)

        latents = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(99))
        ref["input_latents"] = latents
        out = pipe(PROMPT, negative_prompt=NEGATIVE, num_inference_steps=STEPS, guidance_scale=GUIDANCE,
                   height=64, width=64, latents=latents.clone(), output_type="latent").images
        ref["txt2img_latents"] = out
        ref["txt2img_image"] = decode(pipe, out)

        torch.manual_seed(SEED)
        ref["seed_noise"] = torch.randn(2, 4, 8, 8)
        ref["seeded_latents"] = pipe(PROMPT, num_inference_steps=STEPS, guidance_scale=GUIDANCE, height=64, width=64,
                                     num_images_per_prompt=2, generator=torch.Generator().manual_seed(SEED),
                                     output_type="latent").images

        img2img = StableDiffusionImg2ImgPipeline(**pipe.components)
        img2img.set_progress_bar_config(disable=True)
        y, x = torch.meshgrid(torch.linspace(-1, 1, 64), torch.linspace(-1, 1, 64), indexing="ij")
        init = torch.stack([x * y, (x * x + y * y) - 1, torch.sin(3 * x)]).clamp(-1, 1).unsqueeze(0)
        ref["init_image"] = init
        out = img2img(PROMPT, image=init.clone(), strength=STRENGTH, negative_prompt=NEGATIVE,
                      num_inference_steps=STEPS, guidance_scale=GUIDANCE,
                      generator=torch.Generator().manual_seed(SEED), output_type="latent").images
        ref["img2img_latents"] = out
        ref["img2img_image"] = decode(pipe, out)

        standin = standin_runs(pipe, img2img, init)
    save_file({k: v.contiguous() for k, v in standin.items()}, OUT / "standin.safetensors")
    save_file({k: v.contiguous() for k, v in ref.items()}, OUT / "reference.safetensors",
              metadata={"prompt": PROMPT, "negative_prompt": NEGATIVE, "seed": str(SEED), "guidance": str(GUIDANCE),
                        "steps": str(STEPS), "strength": str(STRENGTH)})
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")
    print(json.dumps({k: list(v.shape) for k, v in ref.items()}))


def standin_unet(sample, timestep, encoder_hidden_states, **kwargs):
    """A closed-form stand-in for the UNet (mirrored in PipelineParityTests.swift), so that the pipeline's own logic
    (guidance batching, scheduler loop, seeds, img2img) is checked whatever the UNet's state."""
    tf = timestep.float() / 1000
    c = encoder_hidden_states.mean(dim=(1, 2))
    eps = 0.5 * sample * torch.cos(tf) + torch.tanh(4 * c)[:, None, None, None] + 0.1 * torch.sin(3 * sample)
    return (eps,)


def standin_encode(image, **kwargs):
    """A closed-form stand-in for the VAE encoder: 8× average pooling as the posterior's mean and log-variance."""
    from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
    from diffusers.models.modeling_outputs import AutoencoderKLOutput
    p = torch.nn.functional.avg_pool2d(image, 8)
    mean = torch.cat([p, p.mean(dim=1, keepdim=True)], dim=1)
    logvar = (0.5 * p.sum(dim=1, keepdim=True) - 2).repeat(1, 4, 1, 1)
    return AutoencoderKLOutput(latent_dist=DiagonalGaussianDistribution(torch.cat([mean, logvar], dim=1)))


def standin_runs(pipe, img2img, init):
    """The pipelines' loops over the stand-in UNet and VAE encoder, with each scheduler kind."""
    from diffusers import DDPMScheduler, DPMSolverMultistepScheduler
    pipe.unet.forward = standin_unet
    pipe.vae.encode = standin_encode
    config = pipe.scheduler.config
    ref = {}
    latents = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(99))
    common = dict(num_inference_steps=STEPS, guidance_scale=GUIDANCE, height=64, width=64, output_type="latent")
    ref["txt2img"] = pipe(PROMPT, negative_prompt=NEGATIVE, latents=latents.clone(), **common).images
    ref["seeded"] = pipe(PROMPT, num_images_per_prompt=2, generator=torch.Generator().manual_seed(SEED),
                         **common).images
    ref["unguided"] = pipe(PROMPT, latents=latents.clone(), **{**common, "guidance_scale": 1.0}).images
    ref["img2img"] = img2img(PROMPT, image=init.clone(), strength=STRENGTH, negative_prompt=NEGATIVE,
                             generator=torch.Generator().manual_seed(SEED), **{k: v for k, v in common.items()
                                                                               if k not in ("height", "width")}).images
    ref["img2img_batch2"] = img2img(PROMPT, image=init.clone(), strength=0.75, num_images_per_prompt=2,
                                    generator=torch.Generator().manual_seed(SEED), num_inference_steps=STEPS,
                                    guidance_scale=GUIDANCE, output_type="latent").images
    pipe.scheduler = DDPMScheduler.from_config(config)
    ref["ddpm_seeded"] = pipe(PROMPT, generator=torch.Generator().manual_seed(SEED), **common).images
    img2img.scheduler = DPMSolverMultistepScheduler.from_config(config)
    ref["dpmpp_img2img"] = img2img(PROMPT, image=init.clone(), strength=0.8, negative_prompt=NEGATIVE,
                                   generator=torch.Generator().manual_seed(SEED), num_inference_steps=5,
                                   guidance_scale=GUIDANCE, output_type="latent").images
    pipe.scheduler = img2img.scheduler = DDIMScheduler.from_config(config)
    return ref


def decode(pipe, latents):
    """diffusers' decode and postprocess (output_type="pt"): VAE decode of latents / scaling_factor, to [0, 1]."""
    image = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
    return pipe.image_processor.postprocess(image, output_type="pt")


if __name__ == "__main__":
    main()
