#!/usr/bin/env python3
"""Prism's classifiers against torchvision's on this machine's CPU, in the same run (dev-only).

For each architecture, times torchvision's model (random weights, one logit per label, a 1-channel first
convolution with --channels 1 as Prism builds it) and `prism bench classifier` with the same batch, resolution,
channels, labels and threads: (a) a training step in train mode (forward, BCEWithLogits, backward, AdamW step
with lr 1e-4 and weight decay 1e-2, zero_grad(set_to_none=True)) and (b) an eval-mode forward under
inference_mode. Warm-up runs first, then --repeat timed runs; medians. --rounds K interleaves torchvision and
Prism K times and reports the median of the per-round ratios (a shared VM's speed drifts). Each time is also taken
as the process's CPU seconds (all threads): with --threads 1 on a loaded machine that ratio is the steadier one,
since other processes stretch the wall clock but not the work.

The ratio is Prism seconds / torchvision seconds (as scripts/bench_unet.py): 1.00 is parity, below 1.0 means
Prism is faster; it equals torchvision's throughput / Prism's.

torchvision comes from its own venv (it breaks transformers in /work/venv):

    python3 -m venv /work/venv-tv
    /work/venv-tv/bin/pip install "torch==2.13.0+cpu" numpy safetensors pillow   # torchvision imports PIL
    /work/venv-tv/bin/pip install --no-deps "torchvision==0.28.*"
    swift build -c release --product prism
    /work/venv-tv/bin/python scripts/bench_classifier.py --archs resnet18 densenet121 --threads 2 --rounds 2

Options: --batch 16, --resolution 224, --channels 3, --labels 2, --repeat 5, --warmup 2, --markdown.
"""
import argparse
import json
import statistics
import subprocess
import sys
import time
import types

# torchvision's PyPI wheel is a CUDA build whose C++ ops do not register beside the CPU torch; the model classes need
# none of them (docs: ARCHITECTURE.md, "Tests").
sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")

import torch  # noqa: E402
import torchvision  # noqa: E402


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prism", default=".build/release/prism", help="the prism binary (a release build)")
    p.add_argument("--archs", nargs="+", default=["resnet18", "densenet121"],
                   choices=["resnet18", "densenet121", "resnet50"])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--resolution", type=int, default=224)
    p.add_argument("--channels", type=int, default=3, choices=[1, 3])
    p.add_argument("--labels", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--skip-prism", action="store_true")
    p.add_argument("--markdown", action="store_true")
    return p.parse_args()


def build(arch, labels, channels):
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(num_classes=labels)
    if channels == 1:  # as Prism's ClassifierConfig(inChannels: 1): the first convolution takes one channel
        if arch.startswith("densenet"):
            model.features.conv0 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
        else:
            model.conv1 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    return model


def median_time(fn, warmup, repeat):
    """Median wall-clock and median process CPU seconds (all threads) of the timed runs."""
    for _ in range(warmup):
        fn()
    times, cpu = [], []
    for _ in range(repeat):
        start, cpu_start = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    return statistics.median(times), statistics.median(cpu)


def time_torchvision(args, arch):
    model = build(arch, args.labels, args.channels)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, args.channels, args.resolution, args.resolution, generator=g)
    y = torch.randint(0, 2, (args.batch, args.labels), generator=g).float()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-2)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step():
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()

    def infer():
        with torch.inference_mode():
            model(x)

    model.train()
    train, train_cpu = median_time(step, args.warmup, args.repeat)
    model.eval()
    inference, inference_cpu = median_time(infer, args.warmup, args.repeat)
    return train, inference, train_cpu, inference_cpu


def time_prism(args, arch):
    cmd = [args.prism, "bench", "classifier", "--arch", arch, "--batch", str(args.batch), "--resolution",
           str(args.resolution), "--channels", str(args.channels), "--labels", str(args.labels), "--threads",
           str(args.threads), "--repeat", str(args.repeat), "--warmup", str(args.warmup), "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    report = json.loads(out.strip().splitlines()[-1])
    return (report["train_step_median_s"], report["inference_median_s"], report["train_step_cpu_median_s"],
            report["inference_cpu_median_s"])


def main():
    args = parse()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {torch.get_num_threads()} threads; "
          f"batch {args.batch}, {args.channels}×{args.resolution}², {args.labels} labels", flush=True)
    rows = {}
    for r in range(args.rounds):
        for arch in args.archs:
            tv = time_torchvision(args, arch)
            print(f"round {r + 1} torchvision {arch}: train step {tv[0]:.3f} s (CPU {tv[2]:.3f} s), "
                  f"inference {tv[1]:.3f} s (CPU {tv[3]:.3f} s)", flush=True)
            pr = None if args.skip_prism else time_prism(args, arch)
            if pr:
                print(f"round {r + 1} prism       {arch}: train step {pr[0]:.3f} s (CPU {pr[2]:.3f} s), "
                      f"inference {pr[1]:.3f} s (CPU {pr[3]:.3f} s)", flush=True)
            rows.setdefault(arch, []).append((tv, pr))
    print()
    print(table(rows, args))


def table(rows, args):
    med = statistics.median
    head = ["arch", "torchvision train steps/s", "Prism train steps/s", "train Prism/torchvision (time)",
            "torchvision inference img/s", "Prism inference img/s", "inference Prism/torchvision (time)",
            "train Prism/torchvision (CPU time)", "inference Prism/torchvision (CPU time)"]
    lines = []
    for arch, rounds in rows.items():
        tv_train, tv_inf = med(t[0] for t, _ in rounds), med(t[1] for t, _ in rounds)
        line = [arch, f"{1 / tv_train:.2f}"]
        if all(p for _, p in rounds):
            pr_train, pr_inf = med(p[0] for _, p in rounds), med(p[1] for _, p in rounds)
            train_ratios = [p[0] / t[0] for t, p in rounds]
            inf_ratios = [p[1] / t[1] for t, p in rounds]
            rng = lambda xs: f" ({min(xs):.2f}–{max(xs):.2f})" if len(xs) > 1 else ""
            cpu_train = [p[2] / t[2] for t, p in rounds]
            cpu_inf = [p[3] / t[3] for t, p in rounds]
            line += [f"{1 / pr_train:.2f}", f"{med(train_ratios):.2f}{rng(train_ratios)}",
                     f"{args.batch / tv_inf:.1f}", f"{args.batch / pr_inf:.1f}", f"{med(inf_ratios):.2f}{rng(inf_ratios)}",
                     f"{med(cpu_train):.2f}{rng(cpu_train)}", f"{med(cpu_inf):.2f}{rng(cpu_inf)}"]
        else:
            line += ["–", "–", f"{args.batch / tv_inf:.1f}", "–", "–", "–", "–"]
        lines.append(line)
    if args.markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(out + ["| " + " | ".join(line) + " |" for line in lines])
    widths = [max(len(x) for x in col) for col in zip(head, *lines)]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(cells, widths)) for cells in [head] + lines)


if __name__ == "__main__":
    main()
