#!/usr/bin/env python3
"""Reference values for Prism's prompt-to-prompt token alignment (dev-only; the tests never need Python).

Runs google/prompt-to-prompt's own `seq_aligner.py` and `ptp_utils.get_word_inds` / `get_time_words_attention_alpha`
(a copy of the public file, passed by path; it is not part of Prism) with transformers' CLIPTokenizer on the real CLIP
vocabulary, and writes Tests/CounterfactualTests/Fixtures/alignment.json: for every prompt its token ids and the
text of each token (so the Swift test needs no tokenizer), and the reference's word indices, replacement and
refinement mappers, time-word alphas and equalizers.

    python scripts/make_alignment_fixtures.py --seq-aligner /path/to/prompt-to-prompt/seq_aligner.py \
        --vocab ../shared/data/clip-vocab
"""
import argparse
import importlib.util
import json
import pathlib

import torch
from transformers import CLIPTokenizer

ap = argparse.ArgumentParser()
ap.add_argument("--seq-aligner", required=True)
ap.add_argument("--vocab", default=str(pathlib.Path(__file__).resolve().parents[1].parent / "shared/data/clip-vocab"))
args = ap.parse_args()

spec = importlib.util.spec_from_file_location("seq_aligner", args.seq_aligner)
seq_aligner = importlib.util.module_from_spec(spec)
spec.loader.exec_module(seq_aligner)
vocab = pathlib.Path(args.vocab)
tokenizer = CLIPTokenizer(str(vocab / "vocab.json"), str(vocab / "merges.txt"))


def time_words_alpha(prompts, num_steps, cross_replace_steps):
    # ptp_utils.get_time_words_attention_alpha, which needs only get_word_inds from seq_aligner.
    if type(cross_replace_steps) is not dict:
        cross_replace_steps = {"default_": cross_replace_steps}
    if "default_" not in cross_replace_steps:
        cross_replace_steps["default_"] = (0., 1.)
    alpha = torch.zeros(num_steps + 1, len(prompts) - 1, 77)

    def update(alpha, bounds, prompt_ind, word_inds=None):
        if type(bounds) is float:
            bounds = 0, bounds
        start, end = int(bounds[0] * alpha.shape[0]), int(bounds[1] * alpha.shape[0])
        if word_inds is None:
            word_inds = torch.arange(alpha.shape[2])
        alpha[: start, prompt_ind, word_inds] = 0
        alpha[start: end, prompt_ind, word_inds] = 1
        alpha[end:, prompt_ind, word_inds] = 0
        return alpha

    for i in range(len(prompts) - 1):
        alpha = update(alpha, cross_replace_steps["default_"], i)
    for key, item in cross_replace_steps.items():
        if key != "default_":
            inds = [seq_aligner.get_word_inds(prompts[i], key, tokenizer) for i in range(1, len(prompts))]
            for i, ind in enumerate(inds):
                if len(ind) > 0:
                    alpha = update(alpha, item, i, ind)
    return alpha


prompts = {}


def remember(p):
    ids = tokenizer.encode(p)
    prompts[p] = {"ids": ids, "texts": [tokenizer.decode([i]) for i in ids]}


cases = {"word_indices": [], "replace": [], "refine": [], "alphas": [], "equalizer": []}
base = "Chest X-ray of a 70-year-old female with cardiomegaly and support devices"
for text, word in [(base, "cardiomegaly"), (base, "support"), (base, "70-year-old"), (base, "X-ray"), (base, 9),
                   ("a photo of a cat", "cat"), ("pleural effusion, left-sided (moderate)", "effusion,"),
                   ("an 80-year-old male with pneumothorax", 1), ("no word here", "absent")]:
    remember(text)
    inds = seq_aligner.get_word_inds(text, word, tokenizer)
    cases["word_indices"].append({"text": text, "word": word, "indices": [int(i) for i in inds]})

for x, y in [(base, base.replace("female", "male")), (base, base.replace("cardiomegaly", "pneumothorax")),
             ("a photo of a cat", "a photo of a hippopotamus"), ("Chest X-ray of a 70-year-old female", "Chest X-ray of a 85-year-old female")]:
    remember(x); remember(y)
    m = seq_aligner.get_replacement_mapper([x, y], tokenizer)[0]
    nz = torch.nonzero(m).tolist()
    cases["replace"].append({"source": x, "target": y, "nonzero": [[a, b, float(m[a, b])] for a, b in nz]})

for x, y in [(base, "Chest X-ray of a 70-year-old female with cardiomegaly"),
             ("Chest X-ray of a 70-year-old female with cardiomegaly", base),
             (base, "Chest X-ray of a 70-year-old female with cardiomegaly, pleural effusion and support devices"),
             ("Chest X-ray of a 45-year-old male with no findings", "Chest X-ray of a 45-year-old male with pleural effusion"),
             ("a cat", "a cat")]:
    remember(x); remember(y)
    mapper, alphas = seq_aligner.get_refinement_mapper([x, y], tokenizer)
    cases["refine"].append({"source": x, "target": y, "mapper": mapper[0].tolist(), "alphas": alphas[0].tolist()})

for ps, steps, bounds in [([base, base.replace("female", "male")], 10, 0.8),
                          ([base, "Chest X-ray of a 70-year-old female with cardiomegaly", base.replace("and", "or")], 7, (0.2, 0.6)),
                          ([base, base.replace("cardiomegaly", "edema")], 12, {"default_": (0.0, 0.8), "edema": (0.0, 0.3)})]:
    for p in ps:
        remember(p)
    a = time_words_alpha(ps, steps, dict(bounds) if isinstance(bounds, dict) else bounds)
    b = bounds if not isinstance(bounds, dict) else None
    cases["alphas"].append({
        "prompts": ps, "steps": steps,
        "default": list(b) if isinstance(b, tuple) else [0.0, b] if b is not None else list(bounds["default_"]),
        "words": {k: list(v) for k, v in bounds.items() if k != "default_"} if isinstance(bounds, dict) else {},
        "alpha": a.tolist()})

for text, words, values in [(base, ("cardiomegaly",), (2.0,)), (base, ("support", "devices"), (0.5, 3.0))]:
    remember(text)
    eq = torch.ones(1, 77)
    for word, val in zip(words, values):
        eq[:, seq_aligner.get_word_inds(text, word, tokenizer)] = val
    cases["equalizer"].append({"text": text, "words": list(words), "values": list(values), "equalizer": eq[0].tolist()})

out = pathlib.Path(__file__).resolve().parents[1] / "Tests/CounterfactualTests/Fixtures/alignment.json"
out.write_text(json.dumps({"prompts": prompts, "cases": cases}, indent=1))
print(f"wrote {out}")
