#!/usr/bin/env python3
"""Reference values for Prism's prompt-to-prompt token alignment (dev-only; the tests never need Python).

Runs google/prompt-to-prompt's own code (see scripts/ptp_reference.py: a checkout given by PTP_DIR or --ptp, checked
against the recorded commit and hashes): `ptp_utils.get_word_inds`, `ptp_utils.get_time_words_attention_alpha`,
`seq_aligner.get_replacement_mapper`, `seq_aligner.get_refinement_mapper` and the notebook's `get_equalizer`, with
transformers' CLIPTokenizer on the real CLIP vocabulary (Stable Diffusion v1-4's tokenizer, which the notebook
uses). Writes Tests/CounterfactualTests/Fixtures/alignment.json: for every prompt its token ids and the text of
each token (so that the Swift test needs no tokenizer), the reference's outputs, and the reference's provenance.

    PTP_DIR=/path/to/prompt-to-prompt /work/venv/bin/python scripts/make_alignment_fixtures.py
"""
import json
import pathlib

import numpy as np

import ptp_reference

args = ptp_reference.arguments(__doc__)
provenance = ptp_reference.verify(args.ptp)
ptp_utils, seq_aligner = ptp_reference.modules(args.ptp)
tokenizer = ptp_reference.tokenizer(args.vocab)
nb = ptp_reference.notebook(args.ptp, tokenizer)

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
    inds = ptp_utils.get_word_inds(text, word, tokenizer)
    # seq_aligner carries the same function; the two must agree.
    assert np.array_equal(inds, seq_aligner.get_word_inds(text, word, tokenizer))
    cases["word_indices"].append({"text": text, "word": word, "indices": [int(i) for i in inds]})

for x, y in [(base, base.replace("female", "male")), (base, base.replace("cardiomegaly", "pneumothorax")),
             ("a photo of a cat", "a photo of a hippopotamus"),
             ("Chest X-ray of a 70-year-old female", "Chest X-ray of a 85-year-old female")]:
    remember(x); remember(y)
    m = seq_aligner.get_replacement_mapper([x, y], tokenizer)[0]
    nz = m.nonzero().tolist()
    cases["replace"].append({"source": x, "target": y, "nonzero": [[a, b, float(m[a, b])] for a, b in nz]})

for x, y in [(base, "Chest X-ray of a 70-year-old female with cardiomegaly"),
             ("Chest X-ray of a 70-year-old female with cardiomegaly", base),
             (base, "Chest X-ray of a 70-year-old female with cardiomegaly, pleural effusion and support devices"),
             ("Chest X-ray of a 45-year-old male with no findings", "Chest X-ray of a 45-year-old male with pleural effusion"),
             ("a cat", "a cat")]:
    remember(x); remember(y)
    mapper, alphas = seq_aligner.get_refinement_mapper([x, y], tokenizer)
    cases["refine"].append({"source": x, "target": y, "mapper": mapper[0].tolist(), "alphas": alphas[0].tolist()})

# get_time_words_attention_alpha takes a float (0 to that fraction), or a dict with "default_" and words; the JSON
# spells the default as [start, end] and the words apart, as Prism's API takes them.
for ps, steps, bounds in [([base, base.replace("female", "male")], 10, 0.8),
                          ([base, "Chest X-ray of a 70-year-old female with cardiomegaly", base.replace("and", "or")], 7,
                           (0.2, 0.6)),
                          ([base, base.replace("cardiomegaly", "edema")], 12, {"default_": (0.0, 0.8), "edema": (0.0, 0.3)})]:
    for p in ps:
        remember(p)
    a = ptp_utils.get_time_words_attention_alpha(ps, steps, dict(bounds) if isinstance(bounds, dict) else bounds,
                                                 tokenizer)
    a = a.reshape(steps + 1, len(ps) - 1, 77)
    default = list(bounds["default_"]) if isinstance(bounds, dict) else list(bounds) if isinstance(bounds, tuple) \
        else [0.0, bounds]
    words = {k: list(v) for k, v in bounds.items() if k != "default_"} if isinstance(bounds, dict) else {}
    cases["alphas"].append({"prompts": ps, "steps": steps, "default": default, "words": words, "alpha": a.tolist()})

for text, words, values in [(base, ("cardiomegaly",), (2.0,)), (base, ("support", "devices"), (0.5, 3.0))]:
    remember(text)
    eq = nb["get_equalizer"](text, words, values)
    cases["equalizer"].append({"text": text, "words": list(words), "values": list(values), "equalizer": eq[0].tolist()})

out = ptp_reference.ROOT / "Tests/CounterfactualTests/Fixtures/alignment.json"
out.write_text(json.dumps({"reference": provenance, "script": "scripts/make_alignment_fixtures.py",
                           "prompts": prompts, "cases": cases}, indent=1))
print(f"wrote {out}")
