#!/usr/bin/env python3
"""Reference values for Prism's prompt-to-prompt attention control and attention mask (dev-only).

The formulas are those of google/prompt-to-prompt's `null_text_w_ptp.ipynb` (AttentionReplace / AttentionRefine /
AttentionReweight `replace_cross_attention`, AttentionControlEdit.forward, LocalBlend.get_mask), written out here
in PyTorch on random attention inputs; the mappers come from its seq_aligner on the real CLIP vocabulary.

    python scripts/make_p2p_fixtures.py --seq-aligner /path/to/prompt-to-prompt/seq_aligner.py
"""
import argparse
import importlib.util
import pathlib

import torch
import torch.nn.functional as nnf
from safetensors.torch import save_file
from transformers import CLIPTokenizer

ap = argparse.ArgumentParser()
ap.add_argument("--seq-aligner", required=True)
ap.add_argument("--vocab", default=str(pathlib.Path(__file__).resolve().parents[1].parent / "shared/data/clip-vocab"))
args = ap.parse_args()
spec = importlib.util.spec_from_file_location("seq_aligner", args.seq_aligner)
seq_aligner = importlib.util.module_from_spec(spec)
spec.loader.exec_module(seq_aligner)
tokenizer = CLIPTokenizer(str(pathlib.Path(args.vocab) / "vocab.json"), str(pathlib.Path(args.vocab) / "merges.txt"))

g = torch.Generator().manual_seed(7)
out = {}
heads, n, d = 2, 16, 8  # a 4x4 layer
src = "Chest X-ray of a 70-year-old female with cardiomegaly and support devices"
swap = src.replace("female", "male")
shorter = "Chest X-ray of a 70-year-old female with cardiomegaly"

# Replace: one edit.
replace_mapper = seq_aligner.get_replacement_mapper([src, swap], tokenizer)  # [1, 77, 77]
base = torch.rand(heads, n, 77, generator=g).softmax(-1)
edited = torch.rand(1, heads, n, 77, generator=g).softmax(-1)
out["replace.mapper"] = replace_mapper
out["replace.base"] = base
out["replace.edited"] = edited
out["replace.result"] = torch.einsum('hpw,bwn->bhpn', base, replace_mapper)

# Refine: two edits.
refine_mapper, refine_alphas = seq_aligner.get_refinement_mapper([src, shorter, swap], tokenizer)
refine_alphas = refine_alphas.reshape(refine_alphas.shape[0], 1, 1, refine_alphas.shape[1])
edited2 = torch.rand(2, heads, n, 77, generator=g).softmax(-1)
out["refine.mapper"] = refine_mapper
out["refine.alphas"] = refine_alphas
out["refine.edited"] = edited2
attn_base_replace = base[:, :, refine_mapper].permute(2, 0, 1, 3)
out["refine.result"] = attn_base_replace * refine_alphas + edited2 * (1 - refine_alphas)

# Reweight after refine.
equalizer = torch.ones(2, 77)
equalizer[:, 9] = 2.5
equalizer[1, 11] = 0.3
out["reweight.equalizer"] = equalizer
prev = attn_base_replace * refine_alphas + edited2 * (1 - refine_alphas)
out["reweight.result"] = (prev[None, :, :, :] * equalizer[:, None, None, :])[0]

# AttentionControlEdit.forward on a batch: rows [uncond_src, uncond_edit, cond_src, cond_edit], group = cond rows.
steps = 4
alpha = torch.zeros(steps + 1, 1, 1, 1, 77)
alpha[:3] = 1  # cross-attention taken from the source for the first 3 of 5 schedule entries
alpha[1, 0, 0, 0, 5:9] = 0.0
out["control.cross_schedule"] = alpha
q = torch.randn(4, heads, n, d, generator=g)
k_cross = torch.randn(4, heads, 77, d, generator=g)
v_cross = torch.randn(4, heads, 77, d, generator=g)
k_self = torch.randn(4, heads, n, d, generator=g)
v_self = torch.randn(4, heads, n, d, generator=g)
for name, t in [("q", q), ("k_cross", k_cross), ("v_cross", v_cross), ("k_self", k_self), ("v_self", v_self)]:
    out[f"control.{name}"] = t


def reference_control(q, k, v, is_cross, cur_step, self_range):
    scale = d ** -0.5
    probs = (q @ k.transpose(-1, -2) * scale).softmax(-1)
    group = probs[2:].clone()
    if is_cross or (self_range[0] <= cur_step < self_range[1]):
        attn_base, attn_replace = group[0], group[1:]
        if is_cross:
            alpha_words = alpha[cur_step]
            new = torch.einsum('hpw,bwn->bhpn', attn_base, replace_mapper) * alpha_words + (1 - alpha_words) * attn_replace
            group[1:] = new
        else:
            if attn_replace.shape[2] <= 32 ** 2:
                group[1:] = attn_base.unsqueeze(0).expand(attn_replace.shape[0], *attn_base.shape)
    probs = torch.cat([probs[:2], group])
    return probs @ v, group


for step in [0, 1, 3]:
    o, group = reference_control(q, k_cross, v_cross, True, step, (0, 2))
    out[f"control.cross.step{step}"] = o
    out[f"control.cross.group{step}"] = group
    o, _ = reference_control(q, k_self, v_self, False, step, (0, 2))
    out[f"control.self.step{step}"] = o

# LocalBlend.get_mask on summed maps: prompts [source, edit], 4x4 maps, latents 8x8.
maps = torch.rand(2, 4, 4, 77, generator=g)
alpha_layers = torch.zeros(2, 77)
alpha_layers[0, [9, 10, 11]] = 1
alpha_layers[1, [7]] = 1
m = (maps * alpha_layers[:, None, None, :]).sum(-1).unsqueeze(1)
m = nnf.max_pool2d(m, (3, 3), (1, 1), padding=(1, 1))
m = nnf.interpolate(m, size=(8, 8))
m = m / m.max(2, keepdims=True)[0].max(3, keepdims=True)[0]
mask = m.gt(0.3)
mask = (mask[:1] + mask)[1:].float()
out["mask.maps"] = maps
out["mask.result"] = mask
out["mask.soft"] = m

target = pathlib.Path(__file__).resolve().parents[1] / "Tests/CounterfactualTests/Fixtures/p2p.safetensors"
save_file({k: v.contiguous().float() if v.dtype != torch.int64 else v.contiguous() for k, v in out.items()}, str(target))
print(f"wrote {target} ({target.stat().st_size} bytes)")
