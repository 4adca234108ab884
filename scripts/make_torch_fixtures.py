#!/usr/bin/env python3
"""Reference values for Prism's Torch tests, computed by PyTorch (dev-only; the tests never need Python).

Writes Tests/TorchTests/Fixtures/ops.json: each case names an op, its inputs (shape + values), its
parameters and PyTorch's output. Run from the repository root with a venv that has torch:
    python scripts/make_torch_fixtures.py
"""
import json
import pathlib

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
g = torch.Generator().manual_seed(1234)


def rnd(*shape, positive=False):
    t = torch.randn(*shape, generator=g)
    return t.abs() + 0.1 if positive else t


def enc(t):
    t = t.detach()
    if t.dtype == torch.bool:
        return {"shape": list(t.shape), "dtype": "bool", "data": [bool(v) for v in t.flatten().tolist()]}
    if t.dtype in (torch.int64, torch.int32):
        return {"shape": list(t.shape), "dtype": "int64", "data": [int(v) for v in t.flatten().tolist()]}
    return {"shape": list(t.shape), "dtype": "float32", "data": [float(v) for v in t.float().flatten().tolist()]}


cases = []


def case(op, inputs, output, **params):
    outs = output if isinstance(output, (list, tuple)) else [output]
    cases.append({"op": op, "inputs": [enc(t) for t in inputs], "params": params, "outputs": [enc(o) for o in outs]})


a, b, v = rnd(2, 3, 4), rnd(2, 3, 4), rnd(4)
p = rnd(2, 3, 4, positive=True)
case("add_broadcast", [a, v], a + v)
case("sub", [a, b], a - b)
case("mul", [a, b], a * b)
case("div", [a, p], a / p)
case("rsub_scalar", [a], 2.5 - a, scalar=2.5)
case("div_scalar_reversed", [p], 3.0 / p, scalar=3.0)
case("pow_scalar", [p], p.pow(1.5), exponent=1.5)
case("maximum", [a, b], torch.maximum(a, b))
for name in ["exp", "tanh", "sigmoid", "sin", "cos", "abs", "neg", "erf"]:
    case(name, [a], getattr(torch, name)(a))
case("log", [p], p.log())
case("sqrt", [p], p.sqrt())
case("rsqrt", [p], p.rsqrt())
case("silu", [a], F.silu(a))
case("relu", [a], F.relu(a))
case("gelu", [a], F.gelu(a))
case("gelu_tanh", [a], F.gelu(a, approximate="tanh"))
case("clamp", [a], a.clamp(-0.5, 0.7), min=-0.5, max=0.7)
case("softmax", [a], a.softmax(-1), dim=-1)
case("log_softmax", [a], a.log_softmax(1), dim=1)
case("lt", [a, b], a < b)
case("where", [a > 0, a, b], torch.where(a > 0, a, b))
case("sum_dims", [a], a.sum(dim=[1], keepdim=True), dims=[1], keepdim=True)
case("sum_all", [a], a.sum())
case("mean_dims", [a], a.mean(dim=[0, 2]), dims=[0, 2])
case("var_dims", [a], a.var(dim=[2]), dims=[2])
case("var_all_biased", [a], a.var(correction=0))
case("std_dims", [a], a.std(dim=[1]), dims=[1])
case("max_all", [a], a.max())
case("max_dim", [a], list(a.max(dim=1)), dim=1)
case("argmax_dim", [a], a.argmax(dim=2), dim=2)
case("norm_all", [a], a.norm())
case("norm_dims", [a], a.norm(p=2, dim=[1, 2]), dims=[1, 2])
case("cumsum", [a], a.cumsum(dim=2), dim=2)

m1, m2 = rnd(2, 3, 4), rnd(2, 4, 5)
w45 = rnd(4, 5)
case("matmul", [m1, w45], m1 @ w45)
case("bmm", [m1, m2], torch.bmm(m1, m2))
inp = rnd(2, 3, 5)
case("baddbmm", [inp, m1, m2], torch.baddbmm(inp, m1, m2, beta=0.5, alpha=2.0), beta=0.5, alpha=2.0)
lw, lb = rnd(6, 4), rnd(6)
case("linear", [a, lw, lb], F.linear(a, lw, lb))

x = rnd(1, 4, 5, 6)
cw, cb = rnd(8, 4, 3, 3), rnd(8)
case("conv2d", [x, cw, cb], F.conv2d(x, cw, cb, stride=2, padding=1), stride=2, padding=1, groups=1)
gw = rnd(6, 2, 3, 3)
case("conv2d_groups", [x, gw], F.conv2d(x, gw, None, stride=1, padding=1, groups=2), stride=1, padding=1, groups=2)
nw, nb = rnd(4), rnd(4)
case("group_norm", [x, nw, nb], F.group_norm(x, 2, nw, nb, eps=1e-6), groups=2, eps=1e-6)
lnw, lnb = rnd(4), rnd(4)
case("layer_norm", [a, lnw, lnb], F.layer_norm(a, (4,), lnw, lnb, eps=1e-5), eps=1e-5)
emb = rnd(10, 3)
idx = torch.tensor([[1, 0, 9], [4, 4, 2]])
case("embedding", [emb, idx], F.embedding(idx, emb))

q, k, vv = rnd(2, 2, 5, 4), rnd(2, 2, 7, 4), rnd(2, 2, 7, 4)
case("sdpa", [q, k, vv], F.scaled_dot_product_attention(q, k, vv))
qc = rnd(2, 2, 5, 4)
case("sdpa_causal", [qc, qc, qc], F.scaled_dot_product_attention(qc, qc, qc, is_causal=True), is_causal=True)
case("sdpa_scale", [q, k, vv], F.scaled_dot_product_attention(q, k, vv, scale=0.3), scale=0.3)

case("upsample_nearest_scale2", [x], F.interpolate(x, scale_factor=2.0, mode="nearest"))
case("interpolate_bilinear", [x], F.interpolate(x, size=(5, 9), mode="bilinear", align_corners=False), h=5, w=9)
case("avg_pool2d", [x], F.avg_pool2d(x, kernel_size=2, stride=2), kernel=2, stride=2)
case("max_pool2d", [x], F.max_pool2d(x, kernel_size=3, stride=1, padding=1), kernel=3, stride=1, padding=1)
case("pad_constant", [x], F.pad(x, (1, 2, 0, 1), value=0.5), pads=[1, 2, 0, 1], value=0.5)
case("pad_reflect", [x], F.pad(x, (1, 1, 2, 2), mode="reflect"), pads=[1, 1, 2, 2])

case("cat", [a, b], torch.cat([a, b], dim=1), dim=1)
case("stack", [a, b], torch.stack([a, b], dim=0), dim=0)
case("chunk", [a], list(a.chunk(2, dim=2)), chunks=2, dim=2)
case("split", [a], list(a.split([1, 2], dim=1)), sizes=[1, 2], dim=1)
case("permute", [a], a.permute(2, 0, 1).contiguous(), dims=[2, 0, 1])
case("transpose", [a], a.transpose(0, 2).contiguous(), d0=0, d1=2)
case("slice", [a], a[:, 1:3:1, ::2].contiguous())
case("index_select", [a, torch.tensor([3, 0])], a.index_select(2, torch.tensor([3, 0])), dim=2)

logits, target = rnd(4, 5), torch.tensor([0, 3, 4, 1])
case("cross_entropy", [logits, target], F.cross_entropy(logits, target))
bt = (rnd(4, 5) > 0).float()
case("bce_with_logits", [logits, bt], F.binary_cross_entropy_with_logits(logits, bt))
case("mse_loss", [a, b], F.mse_loss(a, b))

# Random streams: torch.manual_seed(s) + torch.randn(...) on the CPU.
torch.manual_seed(0)
case("randn_seed0", [], torch.randn(2, 4, 3), shape=[2, 4, 3], seed=0)
case("randn_generator42", [], torch.randn(1, 4, 4, 4, generator=torch.Generator().manual_seed(42)), shape=[1, 4, 4, 4], seed=42)
case("rand_generator7", [], torch.rand(3, 5, generator=torch.Generator().manual_seed(7)), shape=[3, 5], seed=7)

# Gradient of a small composite function.
gx = rnd(3, 4).requires_grad_()
gw = rnd(4, 5).requires_grad_()
gb = rnd(5).requires_grad_()
y = F.silu(gx @ gw + gb)
loss = (y.softmax(-1) * y).sum() + gw.pow(2).mean()
loss.backward()
case("grad_composite", [gx.detach(), gw.detach(), gb.detach()], [loss, gx.grad, gw.grad, gb.grad])

# backward with an explicit gradient argument.
hx = rnd(2, 3).requires_grad_()
out = hx.tanh() * 3
upstream = rnd(2, 3)
out.backward(upstream)
case("grad_with_argument", [hx.detach(), upstream], [hx.grad])

path = pathlib.Path(__file__).resolve().parent.parent / "Tests/TorchTests/Fixtures/ops.json"
path.write_text(json.dumps({"torch": torch.__version__, "cases": cases}))
print(f"wrote {len(cases)} cases to {path} ({path.stat().st_size} bytes)")
