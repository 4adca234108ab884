#!/usr/bin/env python3
"""Reference models and outputs for Prism's classifier parity tests, made by torchvision (dev-only).

Writes Tests/ClassifiersTests/Fixtures/:
    keys.json                  (key, shape, dtype) of model.state_dict() for densenet121 / resnet18 / resnet50
                               (num_classes 3, 3 input channels), the full-size models' names and shapes
    cases.json                 one entry per parity case: the torchvision constructor, input channels, classes,
                               the seed of its weights and of the perturbation of its batch-norm layers
    <case>.safetensors         input, eval-mode logits, train-mode logits and every buffer after one train-mode
                               forward (`after_train.<key>`); for seeded cases also `fingerprint.<key>`
                               (float64: sum, sum of squares, first four values) of every entry before the forward
    <case>-weights.safetensors model.state_dict() (num_batches_tracked int64), for the cases whose weights are stored

Two kinds of case keep the folder small:
    stored  a narrow DenseNet (the same class as densenet121, growth 8, blocks 2-2-2-2): its weights are stored
    seeded  full-size densenet121 / resnet18 / resnet50. torchvision's ResNet has fixed widths (64..512 channels):
            even ResNet(BasicBlock, [1,1,1,1]) holds 4.9 M parameters (20 MB), so instead the weights are those of
            `torch.manual_seed(seed); resnet18(num_classes=3)`, which Prism's seeded initialisation reproduces
            draw for draw (same libtorch, same mt19937 stream, same order of draws); the fingerprints check it.

Every batch-norm layer is perturbed after initialisation (weight, bias, running mean and variance, drawn in the
order of the sorted layer names from torch.Generator().manual_seed(perturb_seed)), so that eval mode uses running
statistics that differ from the identity; Prism's test repeats the same draws.

torchvision's PyPI wheel is a CUDA build whose compiled ops do not load beside the CPU torch of /work/venv; the model
classes need none of them, so an empty module stands in for torchvision._meta_registrations (docs/ARCHITECTURE.md).

Run: /work/venv/bin/python scripts/make_classifier_fixtures.py
Check a classifier folder written by Prism (model.safetensors, config.json, check.safetensors with `input` and
Prism's `logits`) loads strictly in torchvision and gives the same logits:
     /work/venv/bin/python scripts/make_classifier_fixtures.py --check-prism-folder FOLDER
"""
import argparse
import json
import pathlib
import sys
import types

sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")

import torch  # noqa: E402
import torchvision  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from torchvision.models import DenseNet, densenet121, resnet18, resnet50  # noqa: E402

torch.set_num_threads(1)
ROOT = pathlib.Path(__file__).resolve().parent.parent / "Tests" / "ClassifiersTests" / "Fixtures"
FULL_SIZE = {"densenet121": densenet121, "resnet18": resnet18, "resnet50": resnet50}


def build(spec):
    """The torchvision model a case describes, before perturbation."""
    torch.manual_seed(spec["seed"])
    if spec["arch"] == "densenet":
        model = DenseNet(growth_rate=spec["growth_rate"], block_config=tuple(spec["block_config"]),
                         num_init_features=spec["num_init_features"], bn_size=spec["bn_size"],
                         num_classes=spec["num_classes"])
        if spec["in_channels"] != 3:
            # How a one-channel DenseNet is made with torchvision: a new first convolution, initialised as the others.
            conv = torch.nn.Conv2d(spec["in_channels"], spec["num_init_features"], 7, 2, 3, bias=False)
            torch.nn.init.kaiming_normal_(conv.weight)
            model.features.conv0 = conv
        return model
    assert spec["in_channels"] == 3, "seeded cases are torchvision's own constructors"
    return FULL_SIZE[spec["arch"]](num_classes=spec["num_classes"])


def perturb_batch_norms(model, seed):
    g = torch.Generator().manual_seed(seed)
    norms = sorted((n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d))
    with torch.no_grad():
        for _, m in norms:
            c = m.num_features
            m.weight.add_(torch.randn(c, generator=g) * 0.1)
            m.bias.add_(torch.randn(c, generator=g) * 0.1)
            m.running_mean.add_(torch.randn(c, generator=g) * 0.1)
            m.running_var.mul_(torch.exp(torch.randn(c, generator=g) * 0.2))
    return model


def fingerprint(t):
    d = t.detach().double().flatten()
    return torch.cat([torch.stack([d.sum(), (d * d).sum()]), d[:4]])


def make_case(spec):
    model = perturb_batch_norms(build(spec), spec["perturb_seed"])
    g = torch.Generator().manual_seed(spec["seed"] + 1)
    h, w = spec["input_size"]
    x = torch.randn(2, spec["in_channels"], h, w, generator=g)
    out = {"input": x}
    state = {k: v.clone() for k, v in model.state_dict().items()}
    if spec["weights"] == "stored":
        save_file(state, ROOT / f"{spec['name']}-weights.safetensors")
    else:
        out.update({f"fingerprint.{k}": fingerprint(v) for k, v in state.items()})
    with torch.no_grad():
        out["logits_eval"] = model.eval()(x)
        out["logits_train"] = model.train()(x)
    for name, buffer in model.named_buffers():
        out[f"after_train.{name}"] = buffer.clone()
    save_file(out, ROOT / f"{spec['name']}.safetensors")


CASES = [
    {"name": "densenet-small", "arch": "densenet", "weights": "stored", "growth_rate": 8, "block_config": [2, 2, 2, 2],
     "num_init_features": 16, "bn_size": 4, "in_channels": 3, "num_classes": 3, "input_size": [64, 64],
     "seed": 11, "perturb_seed": 12},
    {"name": "densenet-small-1ch", "arch": "densenet", "weights": "stored", "growth_rate": 8,
     "block_config": [2, 2, 2, 2], "num_init_features": 16, "bn_size": 4, "in_channels": 1, "num_classes": 3,
     "input_size": [48, 40], "seed": 21, "perturb_seed": 22},
    {"name": "densenet121", "arch": "densenet121", "weights": "seeded", "in_channels": 3, "num_classes": 3,
     "input_size": [64, 64], "seed": 31, "perturb_seed": 32},
    {"name": "resnet18", "arch": "resnet18", "weights": "seeded", "in_channels": 3, "num_classes": 3,
     "input_size": [64, 64], "seed": 41, "perturb_seed": 42},
    {"name": "resnet50", "arch": "resnet50", "weights": "seeded", "in_channels": 3, "num_classes": 3,
     "input_size": [64, 64], "seed": 51, "perturb_seed": 52},
]


def make_fixtures():
    ROOT.mkdir(parents=True, exist_ok=True)
    keys = {}
    for arch, make in FULL_SIZE.items():
        keys[arch] = [[k, list(v.shape), str(v.dtype).removeprefix("torch.")]
                      for k, v in make(num_classes=3).state_dict().items()]
    (ROOT / "keys.json").write_text(json.dumps({"torchvision": torchvision.__version__, "models": keys}) + "\n")
    for spec in CASES:
        make_case(spec)
    (ROOT / "cases.json").write_text(json.dumps({"torchvision": torchvision.__version__, "cases": CASES}, indent=1) + "\n")
    for f in sorted(ROOT.iterdir()):
        print(f"{f.stat().st_size / 1024:9.1f} KiB  {f.name}")


def check_prism_folder(folder):
    folder = pathlib.Path(folder)
    config = json.loads((folder / "config.json").read_text())
    model = FULL_SIZE[config["architecture"]](num_classes=len(config["labels"]))
    if config["in_channels"] != 3:
        first = model.features.conv0 if config["architecture"].startswith("densenet") else model.conv1
        conv = torch.nn.Conv2d(config["in_channels"], first.out_channels, 7, 2, 3, bias=False)
        if config["architecture"].startswith("densenet"):
            model.features.conv0 = conv
        else:
            model.conv1 = conv
    state = load_file(folder / "model.safetensors")
    model.load_state_dict(state, strict=True)
    assert all(state[k].dtype == v.dtype for k, v in model.state_dict().items()), "dtypes differ"
    check = load_file(folder / "check.safetensors")
    with torch.no_grad():
        logits = model.eval()(check["input"])
    err = ((logits - check["logits"]).norm() / check["logits"].norm()).item()
    print(f"{folder}: {config['architecture']}, {len(state)} keys loaded strictly; "
          f"relative error of Prism's logits {err:.3g}")
    assert err < 1e-4


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--check-prism-folder")
    args = parser.parse_args()
    if args.check_prism_folder:
        check_prism_folder(args.check_prism_folder)
    else:
        make_fixtures()
