#!/usr/bin/env python3
"""Reference values for Prism's NN tests from torch.optim.AdamW, clip_grad_norm_ and diffusers' EMAModel and
get_scheduler (dev-only). Writes Tests/NNTests/Fixtures/nn.json. Run: python scripts/make_nn_fixtures.py"""
import json
import pathlib

import torch
from diffusers.optimization import get_scheduler
from diffusers.training_utils import EMAModel

torch.set_num_threads(1)
g = torch.Generator().manual_seed(99)


def enc(t):
    t = t.detach().float()
    return {"shape": list(t.shape), "dtype": "float32", "data": [float(v) for v in t.flatten().tolist()]}


cases = []

# Five AdamW steps on a least-squares loss: loss = mean((x @ w + b - y)^2) + 0.1 * mean(w^2).
x, y = torch.randn(6, 4, generator=g), torch.randn(6, 3, generator=g)
w0, b0 = torch.randn(4, 3, generator=g), torch.randn(3, generator=g)
w, b = w0.clone().requires_grad_(), b0.clone().requires_grad_()
opt = torch.optim.AdamW([w, b], lr=0.05, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
trajectory = []
for _ in range(5):
    opt.zero_grad()
    loss = ((x @ w + b - y) ** 2).mean() + 0.1 * (w ** 2).mean()
    loss.backward()
    opt.step()
    trajectory += [w.detach().clone(), b.detach().clone()]
cases.append({"op": "adamw_5_steps", "inputs": [enc(x), enc(y), enc(w0), enc(b0)],
              "params": {"lr": 0.05, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "weight_decay": 0.1},
              "outputs": [enc(t) for t in trajectory]})

# clip_grad_norm_ with a norm above and below the limit.
for name, scale in [("clip_above", 3.0), ("clip_below", 0.01)]:
    p1, p2 = torch.randn(5, 3, generator=g).requires_grad_(), torch.randn(7, generator=g).requires_grad_()
    g1, g2 = torch.randn(5, 3, generator=g) * scale, torch.randn(7, generator=g) * scale
    p1.grad, p2.grad = g1.clone(), g2.clone()
    total = torch.nn.utils.clip_grad_norm_([p1, p2], max_norm=1.0)
    cases.append({"op": name, "inputs": [enc(g1), enc(g2)], "params": {"max_norm": 1.0},
                  "outputs": [enc(total), enc(p1.grad), enc(p2.grad)]})

# diffusers EMAModel over 4 updates of a parameter that changes every step.
param = torch.nn.Parameter(torch.randn(2, 3, generator=g))
initial = param.detach().clone()
ema = EMAModel([param], decay=0.999, min_decay=0.0, update_after_step=0, use_ema_warmup=False)
updates, shadows, decays = [], [], []
for step in range(4):
    with torch.no_grad():
        param.add_(torch.randn(2, 3, generator=g))
    updates.append(param.detach().clone())
    decays.append(ema.get_decay(ema.optimization_step + 1))
    ema.step([param])
    shadows.append(ema.shadow_params[0].clone())
cases.append({"op": "ema_4_updates", "inputs": [enc(initial)] + [enc(u) for u in updates],
              "params": {"decay": 0.999, "decays": decays}, "outputs": [enc(s) for s in shadows]})
warm = EMAModel([torch.nn.Parameter(torch.zeros(1))], decay=0.9999, use_ema_warmup=True, inv_gamma=1.0, power=0.75)
cases.append({"op": "ema_warmup_decays", "inputs": [], "params": {"decays": [warm.get_decay(s) for s in range(0, 2000, 97)],
              "steps": list(range(0, 2000, 97))}, "outputs": []})

# Learning-rate multipliers of diffusers' schedulers.
for name in ["constant_with_warmup", "linear", "cosine"]:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = get_scheduler(name, optimizer=opt, num_warmup_steps=10, num_training_steps=50)
    lrs = []
    for _ in range(55):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    cases.append({"op": f"lr_{name}", "inputs": [], "params": {"lrs": lrs, "warmup": 10, "total": 50}, "outputs": []})

path = pathlib.Path(__file__).resolve().parent.parent / "Tests/NNTests/Fixtures/nn.json"
path.write_text(json.dumps({"torch": torch.__version__, "cases": cases}))
print(f"wrote {len(cases)} cases to {path} ({path.stat().st_size} bytes)")
