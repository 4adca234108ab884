#!/usr/bin/env python3
"""Reference numbers for Prism's classifier metrics, computed by scikit-learn (dev-only).

Writes Tests/ClassifierMetricsTests/Fixtures/classifier_metrics.json: a list of cases, each a fixed synthetic
set of binary labels and scores (continuous, heavy ties, ties on the calibration bin edges, all-equal, perfect
separation, perfectly inverted, a single class), with what scikit-learn gives for it:

    auroc                    roc_auc_score (null where sklearn raises: one class only)
    roc / roc_full           roc_curve with drop_intermediate True (sklearn's default) / False
    youden_threshold         the threshold of roc_curve(drop_intermediate=False) maximising tpr - fpr (first
                             maximum; null with one class)
    f1_threshold             among the distinct scores (high to low), the first maximising f1_score(y, s >= t)
                             (null without a positive label)
    at_thresholds            per threshold t: accuracy_score, f1_score, recall_score (sensitivity) and
                             recall_score(pos_label=0) (specificity) of the prediction s >= t
    calibration              per number of bins: calibration_curve(strategy="uniform") and the ECE built from it,
                             sum over non-empty bins of |B|/n * |prob_true - prob_pred|, |B| counted with the same
                             binning calibration_curve uses (np.searchsorted(bins[1:-1], p), bins = linspace(0, 1, M+1))

Run: /work/venv/bin/python scripts/make_classifier_metric_fixtures.py   (needs scikit-learn from PyPI)
"""
import json
import pathlib
import warnings

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import accuracy_score, f1_score, recall_score, roc_auc_score, roc_curve

OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests/ClassifierMetricsTests/Fixtures"


def cases():
    rng = np.random.default_rng(20240518)
    yield "hand", [0, 0, 1, 1, 0, 1, 1, 0], [0.1, 0.4, 0.35, 0.8, 0.4, 0.9, 0.4, 0.05]
    y = rng.integers(0, 2, 200)
    yield "continuous", y, np.clip(0.3 * y + rng.normal(0.35, 0.2, 200), 0, 1)
    y = rng.integers(0, 2, 300)
    yield "heavy_ties", y, np.round(np.clip(0.25 * y + rng.uniform(0, 0.75, 300), 0, 1), 1)
    # Scores exactly on the 15- and 10-bin edges as numpy's linspace computes them (3 * 0.1 is 0.30000000000000004,
    # not 0.3), and 0 and 1 themselves.
    edges = np.concatenate([np.linspace(0, 1, 16), np.linspace(0, 1, 11)])
    y = rng.integers(0, 2, 160)
    yield "bin_edges", y, edges[rng.integers(0, len(edges), 160)]
    p = rng.uniform(0, 1, 500)
    yield "calibrated", (rng.uniform(0, 1, 500) < p).astype(int), p
    yield "all_equal", [0, 1, 1, 0, 1, 0, 0, 1, 1, 1], [0.5] * 10
    yield "perfect", [0, 0, 0, 1, 1, 1, 1], [0.1, 0.2, 0.3, 0.6, 0.7, 0.7, 0.95]
    yield "inverted", [1, 1, 1, 0, 0, 0], [0.1, 0.2, 0.3, 0.6, 0.7, 0.8]
    yield "single_class", [1, 1, 1, 1, 1], [0.2, 0.9, 0.6, 0.6, 0.75]


def at_threshold(y, s, t):
    pred = (s >= t).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "threshold": float(t),
            "accuracy": accuracy_score(y, pred),
            "f1": f1_score(y, pred, zero_division=np.nan),
            "sensitivity": recall_score(y, pred, zero_division=np.nan),
            "specificity": recall_score(y, pred, pos_label=0, zero_division=np.nan),
        }


def curve(fpr, tpr, thresholds):
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": thresholds.tolist()}


def calibration(y, s, bins):
    prob_true, prob_pred = calibration_curve(y, s, n_bins=bins, strategy="uniform")
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], s), minlength=bins)
    counts = counts[counts > 0]
    ece = float(np.sum(counts / len(s) * np.abs(prob_true - prob_pred)))
    return {"bins": bins, "ece": ece, "counts": counts.tolist(),
            "prob_true": prob_true.tolist(), "prob_pred": prob_pred.tolist()}


def case(name, y, s):
    y, s = np.asarray(y, dtype=int), np.asarray(s, dtype=float)
    two_classes = len(np.unique(y)) == 2
    out = {"name": name, "labels": y.tolist(), "scores": s.tolist()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # roc_curve warns (and gives NaN rates) for one class
        out["roc"] = curve(*roc_curve(y, s))
        fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
        out["roc_full"] = curve(fpr, tpr, thr)
    out["auroc"] = roc_auc_score(y, s) if two_classes else None
    thresholds = [0.5]
    if two_classes:
        out["youden_threshold"] = float(thr[np.argmax(tpr - fpr)])
        thresholds.append(out["youden_threshold"])
    if y.sum() > 0:  # F1 needs a positive label (a single positive class still has a best threshold)
        distinct = np.unique(s)[::-1]
        f1s = [f1_score(y, (s >= t).astype(int)) for t in distinct]
        out["f1_threshold"] = float(distinct[int(np.argmax(f1s))])
        thresholds.append(out["f1_threshold"])
    out["at_thresholds"] = [at_threshold(y, s, t) for t in thresholds]
    # calibration_curve needs both classes present (it checks y_true is binary with two labels).
    out["calibration"] = [calibration(y, s, b) for b in (15, 10)] if two_classes else []
    return out


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    data = [case(*c) for c in cases()]
    path = OUT / "classifier_metrics.json"
    path.write_text("[\n" + ",\n".join(json.dumps(c) for c in data) + "\n]\n")  # one line per case
    print(f"wrote {path} ({path.stat().st_size} bytes, {len(data)} cases)")


if __name__ == "__main__":
    main()
