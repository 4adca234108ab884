#!/usr/bin/env python3
"""Reference values for Prism's prompt-to-prompt attention control and attention mask (dev-only).

Runs google/prompt-to-prompt's own code (see scripts/ptp_reference.py: a checkout given by PTP_DIR or --ptp, checked
against the recorded commit and hashes), on small random attention inputs, and writes
Tests/CounterfactualTests/Fixtures/p2p.safetensors (the reference's provenance in its metadata):

  replace.*, refine.*, reweight*.*  `replace_cross_attention` of the notebook's AttentionReplace, AttentionRefine and
                                    AttentionReweight (after a refinement, and alone), built by their own constructors
                                    (mappers from seq_aligner, equalizers from get_equalizer) on real prompts.
  control.*                         AttentionReplace as a controller inside attention layers, for 4 sampling steps:
                                    the layers are ptp_utils.register_attention_control's own `ca_forward` (it
                                    computes softmax(q kᵀ·scale), calls the controller, multiplies by v), and the
                                    controller's own step counting and self-attention step range (`__call__`,
                                    AttentionControlEdit.forward) decide what each call does. One step is one call
                                    of each of 4 layers: a 4×4 self-attention, a 4×4 cross-attention, and two
                                    self-attentions of 32×32 = 1024 and 33×33 = 1089 queries, on either side of the
                                    reference's "replace self-attention only where att_replace.shape[2] <= 32 ** 2".
                                    control.stored_cross is the controller's AttentionStore sum for the cross layer.
  mask.*                            LocalBlend.__call__(x_t, attention_store) on an attention store of 16×16
                                    cross-attention maps (the layers it reads: down_cross[2:4], up_cross[:3]).

The glue, which is not the reference's logic:
  - register_attention_control looks for modules of class `CrossAttention` with diffusers 0.3's API
    (`reshape_heads_to_batch_dim`, `reshape_batch_dim_to_heads`, `forward(x, context)`). diffusers renamed the class
    `Attention` (0.14) and moved attention into processors, so on diffusers 0.42 it finds no layer in a real UNet
    and the controller is never called. The shim below is diffusers 0.42's `Attention` under the old class name,
    with the two old method names bound to their renamed versions (head_to_batch_dim, batch_to_head_dim), its
    output projection an identity (so a layer's output is the attention output that Prism's control returns),
    inside a module whose children are named down_blocks / up_blocks as the UNet's are.
  - Prism's control takes the projected q, k, v [batch, heads, N, d]; the script hands it the shim's projections.
  - LocalBlend.get_mask sizes its mask by the notebook's *global* `x_t` (the inverted latent the notebook keeps at
    module level), not by its argument; the script sets that global to the latents it blends.
  - LocalBlend's maps are 16×16 with 2 heads; only a few token columns (the blend words and three others) carry
    attention, so the fixture stores those columns (mask.maps, mask.columns), which Prism's test puts back.
  - The reference's intermediate values are recorded, not recomputed: LocalBlend.get_mask's return value (the mask,
    source row first) and the maps it resizes (its `nnf.interpolate` output, before normalising).

    PTP_DIR=/path/to/prompt-to-prompt /work/venv/bin/python scripts/make_p2p_fixtures.py
"""
import types

import torch
from diffusers.models.attention_processor import Attention
from safetensors.torch import save_file

import ptp_reference

args = ptp_reference.arguments(__doc__)
ptp_reference.verify(args.ptp)
ptp_utils, seq_aligner = ptp_reference.modules(args.ptp)
tokenizer = ptp_reference.tokenizer(args.vocab)
# NUM_DDIM_STEPS is read only by LocalBlend (start_blend = int(0.2 * NUM_DDIM_STEPS) = 1: it blends from its second call).
nb = ptp_reference.notebook(args.ptp, tokenizer, NUM_DDIM_STEPS=5)
torch.manual_seed(0)
g = torch.Generator().manual_seed(7)
out = {}
STEPS = 4

src = "Chest X-ray of a 70-year-old female with cardiomegaly and support devices"
swap = src.replace("female", "male")
shorter = "Chest X-ray of a 70-year-old female with cardiomegaly"
other = src.replace("cardiomegaly", "pneumothorax")
# A word swap whose words have different token counts (4 and 2): its mapper is not symmetric (so a transposed
# mapper shows), and it has the reference's diagonal after the swapped word (rows 17…, see seq_aligner).
edema = src.replace("cardiomegaly", "edema")

# --- The cross-attention edits, called directly: base [heads, N, 77], edited [edits, heads, N, 77]. ---
heads, n = 2, 4
base = torch.rand(heads, n, 77, generator=g).softmax(-1)
edited = torch.rand(1, heads, n, 77, generator=g).softmax(-1)
edited2 = torch.rand(2, heads, n, 77, generator=g).softmax(-1)
replace = nb["AttentionReplace"]([src, edema], STEPS, cross_replace_steps={"default_": .6, "edema": .3},
                                 self_replace_steps=.5)
assert not torch.equal(replace.mapper[0], replace.mapper[0].T)
out["replace.mapper"] = replace.mapper
out["replace.base"] = base
out["replace.edited"] = edited
out["replace.result"] = replace.replace_cross_attention(base, edited)

refine = nb["AttentionRefine"]([src, shorter, swap], STEPS, .8, .5)
out["refine.mapper"] = refine.mapper
out["refine.alphas"] = refine.alphas
out["refine.edited"] = edited2
out["refine.result"] = refine.replace_cross_attention(base, edited2)

equalizer = torch.cat([nb["get_equalizer"](shorter, ("cardiomegaly",), (2.5,)),
                       nb["get_equalizer"](swap, ("male", "cardiomegaly"), (0.3, 2.5))])
reweight = nb["AttentionReweight"]([src, shorter, swap], STEPS, .8, .5, equalizer=equalizer, controller=refine)
r = reweight.replace_cross_attention(base, edited2)
assert r.shape[0] == 1, r.shape  # [1, edits, heads, N, 77]: the reference's broadcast
out["reweight.equalizer"] = equalizer
out["reweight.result"] = r[0]

alone_eq = nb["get_equalizer"](edema, ("edema",), (3.0,))
alone = nb["AttentionReweight"]([src, edema], STEPS, .8, .5, equalizer=alone_eq)
out["reweight_alone.equalizer"] = alone_eq
out["reweight_alone.result"] = alone.replace_cross_attention(base, edited)


# --- AttentionReplace controlling 4 attention layers over 4 steps, through ptp_utils' own attention forward. ---
class CrossAttention(Attention):
    """diffusers 0.42's Attention under diffusers 0.3's class name and method names (see the module docstring)."""

    def reshape_heads_to_batch_dim(self, tensor):
        return self.head_to_batch_dim(tensor)

    def reshape_batch_dim_to_heads(self, tensor):
        return self.batch_to_head_dim(tensor)


def layer(query_dim, heads, dim_head, cross_attention_dim=None, weights=None):
    m = CrossAttention(query_dim=query_dim, cross_attention_dim=cross_attention_dim, heads=heads, dim_head=dim_head)
    if weights is not None:
        with torch.no_grad():
            for proj, w in zip((m.to_q, m.to_k, m.to_v), weights):
                proj.weight.fill_(w)
    m.to_out = torch.nn.ModuleList([torch.nn.Identity()])
    return m.eval()


class Blocks(torch.nn.Module):
    def __init__(self, down, up):
        super().__init__()
        self.down_blocks = torch.nn.ModuleList(down)
        self.up_blocks = torch.nn.ModuleList(up)


self4 = layer(8, 2, 4)
cross4 = layer(8, 2, 4, cross_attention_dim=6)
# 1-dimensional heads with power-of-two projections: k = x/2 and v = -2x exactly, so Prism's test makes them from x.
self32 = layer(1, 1, 1, weights=(1.0, 0.5, -2.0))
self33 = layer(1, 1, 1, weights=(1.0, 0.5, -2.0))
control = nb["AttentionReplace"]([src, edema], STEPS, cross_replace_steps={"default_": .6, "edema": .3},
                                 self_replace_steps=.5)
ptp_utils.register_attention_control(types.SimpleNamespace(unet=Blocks([self4, cross4], [self32, self33])), control)
assert control.num_att_layers == 4
assert torch.equal(control.mapper, replace.mapper)  # the test builds Prism's control from replace.mapper

# The UNet batch of one guided step: rows [unconditional source, unconditional edit, source, edit].
x4 = torch.randn(4, 16, 8, generator=g)
context = torch.randn(4, 77, 6, generator=g)
x33 = torch.randn(4, 33 * 33, 1, generator=g)
x32 = x33[:, :32 * 32]


def split_heads(m, t):
    return m.head_to_batch_dim(t).reshape(t.shape[0], m.heads, t.shape[1], -1)


with torch.no_grad():
    out["control.self.q"], out["control.self.k"], out["control.self.v"] = (
        split_heads(self4, p(x4)) for p in (self4.to_q, self4.to_k, self4.to_v))
    out["control.cross.q"] = split_heads(cross4, cross4.to_q(x4))
    out["control.cross.k"] = split_heads(cross4, cross4.to_k(context))
    out["control.cross.v"] = split_heads(cross4, cross4.to_v(context))
    out["control.big.x"] = x33
    out["control.cross_schedule"] = control.cross_replace_alpha
    out["control.self_steps"] = torch.tensor(control.num_self_replace, dtype=torch.int64)
    for step in range(STEPS):
        assert control.cur_step == step and control.cur_att_layer == 0
        out[f"control.self.out{step}"] = self4(x4)
        out[f"control.cross.out{step}"] = cross4(x4, context)
        o32, o33 = self32(x32), self33(x33)
        if step == 0:
            out["control.big.out1024"], out["control.big.out1089"] = o32, o33
    assert control.cur_step == STEPS
    out["control.stored_cross"] = control.attention_store["down_cross"][0].clone()

    # The fixture must exercise both branches: at step 0 (self-attention replaced) the 1024-query layer's edit row is
    # the source's attention over the edit's values, the 1089-query layer's is its own.
    def plain(x):
        q, k, v = x, x * 0.5, x * -2.0
        return (q @ k.transpose(1, 2)).softmax(-1) @ v
    assert torch.allclose(out["control.big.out1089"], plain(x33), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(out["control.big.out1024"][3], plain(x32)[3], rtol=1e-2, atol=1e-3)
    assert torch.allclose(out["control.big.out1024"][:3], plain(x32)[:3], rtol=1e-5, atol=1e-6)

# --- LocalBlend on an attention store. ---
blend_prompts = [src, swap, other]
blend = nb["LocalBlend"](blend_prompts, (("female", "cardiomegaly"), ("male",), ("pneumothorax",)))
alpha = blend.alpha_layers.reshape(len(blend_prompts), 77)
columns = sorted(set(alpha.nonzero()[:, 1].tolist()) | {0, 3, 20})
assert not alpha[:, [0, 3, 20]].any()
bh = 2  # heads


def maps(size, layer_index):
    """Cross-attention of one layer [prompts * heads, size², 77]: a blob per (prompt, column), zero off `columns`."""
    lg = torch.Generator().manual_seed(100 + layer_index)
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    a = torch.zeros(len(blend_prompts), bh, size, size, 77)
    for b in range(len(blend_prompts)):
        for c in columns:
            cy, cx = (torch.rand(2, generator=torch.Generator().manual_seed(1000 * b + c)) * (size - 1)).tolist()
            for h in range(bh):
                jitter = torch.randn(2, generator=lg) * 0.7
                width = 1.5 + 2 * torch.rand(1, generator=lg).item()
                blob = torch.exp(-((yy - cy - jitter[0]) ** 2 + (xx - cx - jitter[1]) ** 2) / (2 * width ** 2))
                a[b, h, :, :, c] = blob * (0.5 + torch.rand(1, generator=lg)) + 0.05 * torch.rand(size, size, generator=lg)
    return a.reshape(len(blend_prompts) * bh, size * size, 77)


store = {"down_cross": [maps(32, 0), maps(32, 1), maps(16, 2), maps(16, 3)], "mid_cross": [maps(8, 4)],
         "up_cross": [maps(16, 5), maps(16, 6), maps(16, 7)],
         "down_self": [], "mid_self": [], "up_self": []}
x_t = torch.randn(len(blend_prompts), 2, 24, 24, generator=g)
nb["x_t"] = x_t  # LocalBlend.get_mask reads the notebook's global x_t for the mask's size
recorded = {"interpolate": [], "get_mask": []}


class RecordingFunctional:
    """The notebook's `nnf` (torch.nn.functional), recording what interpolate returns."""

    def __getattr__(self, name):
        return getattr(torch.nn.functional, name)

    def interpolate(self, *a, **k):
        r = torch.nn.functional.interpolate(*a, **k)
        recorded["interpolate"].append(r.clone())
        return r


nb["nnf"] = RecordingFunctional()
get_mask = blend.get_mask
blend.get_mask = lambda *a, **k: recorded["get_mask"].append(get_mask(*a, **k)) or recorded["get_mask"][-1]
first = blend(x_t.clone(), store)
assert torch.equal(first, x_t) and not recorded["get_mask"], "LocalBlend starts blending at its second call"
blended = blend(x_t.clone(), store)
nb["nnf"] = torch.nn.functional
assert len(recorded["get_mask"]) == 1 and len(recorded["interpolate"]) == 1
mask = recorded["get_mask"][0]
# Prism's input: the maps of the 16×16 layers LocalBlend reads, summed over layers and heads, at the stored columns.
summed = sum(m.reshape(len(blend_prompts), bh, 16, 16, 77).sum(1) for m in store["down_cross"][2:4] + store["up_cross"][:3])
out["mask.maps"] = summed[..., columns]
out["mask.columns"] = torch.tensor(columns, dtype=torch.int64)
out["mask.alpha_layers"] = alpha
out["mask.x_t"] = x_t
out["mask.blended"] = blended
out["mask.result"] = mask.float()  # [prompts, 1, 24, 24]: row 0 the source's own, row e the union with the source's
out["mask.pooled"] = recorded["interpolate"][0]
for e in (1, 2):
    inside = mask[e].float().mean().item()
    assert 0.05 < inside < 0.95, f"edit {e}'s mask covers {inside:.0%}: make the maps less uniform"
# No normalised value lies within rounding of the threshold, so that Prism's mask must be this one to the pixel.
pooled = recorded["interpolate"][0]
margin = (pooled / pooled.amax(dim=(2, 3), keepdim=True) - blend.th[0]).abs().min().item()
assert margin > 1e-4, margin
print(f"LocalBlend: masks cover {[round(mask[e].float().mean().item(), 3) for e in range(3)]}, "
      f"nearest normalised value to the threshold {margin:.2e} away")

target = ptp_reference.ROOT / "Tests/CounterfactualTests/Fixtures/p2p.safetensors"
save_file({k: (v.detach().contiguous().float() if v.dtype != torch.int64 else v.contiguous()) for k, v in out.items()},
          str(target), metadata=ptp_reference.metadata(script="scripts/make_p2p_fixtures.py"))
target.chmod(0o644)
print(f"wrote {target} ({target.stat().st_size} bytes)")
