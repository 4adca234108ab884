#!/usr/bin/env python3
"""Reference Fréchet distances for Prism's realism metric, computed as pytorch-fid computes them (dev-only).

Writes Tests/ClassifierMetricsTests/Fixtures/frechet.json: a list of cases, each two fixed synthetic feature sets
(rows are vectors) and the distance of pytorch-fid's `calculate_frechet_distance` (mu = mean over rows, sigma =
np.cov(rowvar=False), the trace of scipy.linalg.sqrtm(sigma1 @ sigma2), its real part, the eps offset where sqrtm is
not finite), copied here so that only numpy and scipy are needed:

    full_rank     40 vectors of width 6 against 50, shifted and stretched
    low_rank      12 vectors of width 30 against 15 (the covariances are singular, as in a small counterfactual set)
    same          a set against itself (0)
    mean_shift    a set against itself plus a constant (the squared shift)

Run: /work/venv/bin/python scripts/make_frechet_fixtures.py   (needs numpy and scipy from PyPI)
"""
import json
import pathlib

import numpy as np
from scipy import linalg

OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests/ClassifierMetricsTests/Fixtures"


def calculate_frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def distance(a, b):
    return calculate_frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def main():
    rng = np.random.default_rng(20261207)
    cases = []
    a = rng.normal(0, 1, (40, 6))
    b = rng.normal(0.3, 1.5, (50, 6)) @ rng.normal(0, 1, (6, 6)) * 0.5
    cases.append(("full_rank", a, b))
    a = rng.normal(0, 1, (12, 30))
    b = rng.normal(0.2, 0.8, (15, 30))
    cases.append(("low_rank", a, b))
    a = rng.normal(0, 1, (20, 5))
    cases.append(("same", a, a.copy()))
    cases.append(("mean_shift", a, a + np.array([0.5, -1.0, 0.0, 2.0, 0.25])))
    out = [{"name": n, "a": x.tolist(), "b": y.tolist(), "distance": distance(x, y)} for n, x, y in cases]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "frechet.json").write_text(json.dumps(out, indent=1) + "\n")
    for c in out:
        print(c["name"], c["distance"])


if __name__ == "__main__":
    main()
