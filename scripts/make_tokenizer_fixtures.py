#!/usr/bin/env python3
"""Reference token ids for Prism's CLIP tokenizer tests, from transformers' CLIPTokenizer (dev-only).

transformers 5.x has a single CLIPTokenizer, backed by the `tokenizers` library (the former slow Python
tokenizer is gone); it is what `CLIPTokenizer.from_pretrained(model / "tokenizer")` returns and what diffusers'
StableDiffusionPipeline calls, with padding="max_length", max_length=77, truncation=True.

The vocabulary is the real CLIP one in shared/data/clip-vocab (PRISM_SHARED overrides the shared folder).
Tokenizer configurations are written beside the ids, as Stable Diffusion checkpoints ship them: `sd1/` pads
with <|endoftext|> (49407), `sd2/` pads with "!" (id 0), both in the older layout of special_tokens_map.json +
tokenizer_config.json; `added/` is tokenizer_config.json as transformers >= 4.34 writes it, with
added_tokens_decoder (whose flags decide whether special tokens are matched before or after lower-casing).

`transformers5/` is the `sd1/` tokenizer as transformers 5's save_pretrained writes it (what diffusers 0.42 puts
under a saved pipeline's tokenizer/): tokenizer.json + tokenizer_config.json, no vocab.json or merges.txt. Its
ids ("saved" in clip_tokenizer.json) come from CLIPTokenizer.from_pretrained on that folder itself. tokenizers
>= 0.20 writes merges as pairs ["a", "b"]; the older string form "a b" is not committed a second time (the file
holds the whole vocabulary): the script checks that the same file with string merges gives the same ids through
transformers and tokenizers, and the Swift tests make that form the same way.
Writes Tests/TokenizerTests/Fixtures/.

    /work/venv/bin/python scripts/make_tokenizer_fixtures.py

Checks a tokenizer folder written by Prism (CLIPTokenizer.save) against the committed ids of a configuration
(sd1, sd2, added or saved), through transformers' CLIPTokenizer and through tokenizers.Tokenizer.from_file:

    /work/venv/bin/python scripts/make_tokenizer_fixtures.py --check FOLDER CONFIG
"""
import json
import os
import pathlib
import random
import shutil
import sys
import tempfile

import tokenizers
import transformers
from transformers import CLIPTokenizer

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "TokenizerTests" / "Fixtures"


def shared_folder():
    candidates = [os.environ.get("PRISM_SHARED"), ROOT.parent / "shared", "/work/shared"]
    for c in candidates:
        if c and (pathlib.Path(c) / "data" / "clip-vocab" / "vocab.json").exists():
            return pathlib.Path(c)
    raise SystemExit("shared/data/clip-vocab not found (set PRISM_SHARED)")


def added_token(content):
    return {"content": content, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False}


def write_config(folder, pad):
    """special_tokens_map.json and tokenizer_config.json as in runwayml/stable-diffusion-v1-5 (pad
    <|endoftext|>) and stabilityai/stable-diffusion-2-1 (pad "!")."""
    folder.mkdir(parents=True, exist_ok=True)
    specials = {"bos_token": added_token("<|startoftext|>"), "eos_token": added_token("<|endoftext|>"),
                "pad_token": pad, "unk_token": added_token("<|endoftext|>")}
    (folder / "special_tokens_map.json").write_text(json.dumps(specials, indent=2) + "\n")
    config = {
        "add_prefix_space": False,
        "bos_token": {"__type": "AddedToken", **added_token("<|startoftext|>")},
        "do_lower_case": True,
        "eos_token": {"__type": "AddedToken", **added_token("<|endoftext|>")},
        "errors": "replace",
        "model_max_length": 77,
        "name_or_path": "openai/clip-vit-large-patch14",
        "pad_token": pad,
        "special_tokens_map_file": "./special_tokens_map.json",
        "tokenizer_class": "CLIPTokenizer",
        "unk_token": {"__type": "AddedToken", **added_token("<|endoftext|>")},
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")


def write_added_tokens_config(folder):
    folder.mkdir(parents=True, exist_ok=True)
    token = lambda content: {"content": content, "lstrip": False, "normalized": True, "rstrip": False,
                             "single_word": False, "special": True}
    config = {
        "add_prefix_space": False,
        "added_tokens_decoder": {"49406": token("<|startoftext|>"), "49407": token("<|endoftext|>")},
        "bos_token": "<|startoftext|>", "clean_up_tokenization_spaces": True, "do_lower_case": True,
        "eos_token": "<|endoftext|>", "errors": "replace", "model_max_length": 77, "pad_token": "<|endoftext|>",
        "tokenizer_class": "CLIPTokenizer", "unk_token": "<|endoftext|>",
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")


def prompts():
    findings = ["cardiomegaly", "pleural effusion", "pneumothorax", "atelectasis", "consolidation", "edema",
                "lung opacity", "lung lesion", "fracture", "pneumonia", "enlarged cardiomediastinum",
                "support devices", "pleural other", "no findings"]
    texts = []
    for i, f in enumerate(findings):
        age = 18 + (i * 7) % 75
        sex = ["female", "male"][i % 2]
        texts.append(f"Chest X-ray of a {age}-year-old {sex} with {f}")
        texts.append(f"Chest X-ray of a {age}-year-old {sex} without {f}")
        texts.append(f"chest x-ray, {f}, {sex}, age {age}")
    texts += [
        "Chest X-ray of a 73-year-old female with cardiomegaly and support devices",
        "Chest X-ray of a 73-year-old female with no findings",
        "Chest X-ray of a 45-year-old male without pleural effusion",
        "CHEST X-RAY OF A 60 YEAR OLD MALE WITH LEFT LOWER LOBE CONSOLIDATION",
        "PA and lateral views of the chest: no acute cardiopulmonary process.",
        "AP portable chest radiograph; ET tube 4.5 cm above the carina; NG tube in the stomach.",
        "Interval increase in bilateral pleural effusions (R>L) with bibasilar atelectasis.",
        "Moderate cardiomegaly. Pulmonary vascular congestion. No pneumothorax.",
        "Right PICC line terminates in the mid SVC.",
        "Left-sided pacemaker/ICD with leads in the RA and RV.",
        "Status post median sternotomy and CABG.",
        "Nodule measuring 3.5cm in the RUL; follow-up CT recommended in 3-6 months.",
        "a 73-year-old", "3.5cm", "1/2", "1/2 inch", "0.5 mm", "10%", "100 mg/dL", "T7-T8", "C3–C4 (en dash)",
        "1,234,567", "3.14159", "12:30 pm", "2024-05-01", "#1", "No. 2", "x2", "5x5x5 cm", "~3 cm", "≥ 50%",
        "°C", "37.5°C", "±2", "½ of the lung", "²³", "①②③", "Ⅻ", "٣٤٥ arabic digits", "१२३ devanagari digits",
        "it's", "don't", "we're", "they've", "I'm", "you'll", "he'd", "IT'S", "DON'T", "patient's heart",
        "rock 'n' roll", "'quoted'", "\"double quoted\"", "o'clock", "it’s (curly apostrophe)", "'s", "''s",
        "hello!! world!", "wait...", "what?!", "(a) [b] {c}", "a,b;c:d", "foo@bar.com", "https://example.org/x?y=1",
        "#hashtag @mention", "C++ and C#", "a&b", "a|b", "<html>", "$100", "€50", "£20", "¥1000", "a_b_c",
        "snake_case_name", "CamelCaseWord", "--flag", "==>", "***", "!!!", "?!?!", "…", "—", "–", "·", "•",
        "<|startoftext|>", "<|endoftext|>", "a <|endoftext|> b", "A <|ENDOFTEXT|> b", "x<|startoftext|>y",
        "<|STARTOFTEXT|>", "<|endoftext|><|endoftext|>", "<|ENDOFTEXT|>x", "word<|EndOfText|>word", "!<|endoftext|>",
        "<|endoftext|>'s", "< |endoftext| >", "<|endoftext", "<<|endoftext|>>", "hi!<|endoftext|>!",
        "café", "naïve", "résumé", "Ångström", "São Paulo", "Zürich", "façade", "jalapeño", "Dvořák", "Łódź",
        "e\u0301 (combining acute)", "n\u0303o", "ΟΔΟΣ Σ σ ς", "İstanbul", "ß STRASSE", "ǅ ǈ ǋ", "ﬁ ligature",
        "Ⅷ", "ＡＢＣ fullwidth", "Ｈｅｌｌｏ", "日本語のテキスト", "胸部X線写真", "中文 测试", "한국어 텍스트",
        "Привет мир", "Ελληνικά", "עברית", "العربية", "हिन्दी", "ไทย", "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️",
        "chest 🫁 x-ray", "a\u00a0b", "a\u2009b", "a\u3000b", "a\u200bb", "a\ufeffb", "a\u180eb", "a\u2028b",
        "a\u0085b", "a\x1cb", "a\x00b", "a\tb\nc\rd", "a\x0bb\x0cc", "a\u202fb", "a\u205fb", "a\u1680b",
        "\u00ad soft hyphen", "tab\tseparated\tvalues", "  leading and trailing  ", "many     spaces    here",
        "line\n\nbreaks\n", "", " ", "\n\t ", "a", "A", "I", "x-ray", "X-Ray", "xray", "a photo of a cat",
        "an astronaut riding a horse on the moon, highly detailed, 8k, trending on artstation",
        "masterpiece, best quality, (detailed:1.2), [background]", "lowres, bad anatomy, worst quality",
    ]
    # Very long prompts: cut at 77 tokens with the end token kept.
    texts.append("Chest X-ray of a 73-year-old female with " + ", ".join(findings * 4))
    texts.append(" ".join(["cardiomegaly"] * 80))
    texts.append("a " * 75 + "b")
    texts.append("a " * 74 + "b c")
    texts.append("word " * 300)
    texts.append("1234567890" * 10)
    # Seeded random strings over letters, marks, digits, punctuation, symbols, emoji and odd spaces.
    rng = random.Random(1234)
    pool = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") * 3
            + list(" .,;:!?'\"-_/\\()[]{}<>@#$%^&*+=|~`") + list("éèêëàçñöüßÆøåłžİıΣς")
            + list("\u0301\u0308\u0327") + list("日本語中文한국어") + list("😀👍🏽❤️") + list("\u00a0\u2009\u3000\u200b\t\n")
            + list("½²①Ⅻ٣१"))
    for n in range(60):
        length = rng.randint(1, 40)
        texts.append("".join(rng.choice(pool) for _ in range(length)))
    return texts


def save_with_transformers(source, tmp):
    """The tokenizer of `source` saved by transformers 5 into Fixtures/transformers5/, keeping what Prism reads
    (tokenizer.json, tokenizer_config.json and special_tokens_map.json when written) and nothing else."""
    saved = tmp / "saved-by-transformers"
    CLIPTokenizer.from_pretrained(source).save_pretrained(saved)
    names = sorted(p.name for p in saved.iterdir())
    assert "tokenizer.json" in names and "vocab.json" not in names and "merges.txt" not in names, names
    out = OUT / "transformers5"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]:
        if (saved / name).exists():
            shutil.copy(saved / name, out / name)
    (out / "NOTICE.md").write_text(
        "tokenizer.json: the CLIP BPE vocabulary of openai/CLIP (MIT licence), as transformers "
        f"{transformers.__version__} (tokenizers {tokenizers.__version__}) saves it.\n")
    return out


def with_string_merges(tokenizer_json):
    """tokenizer.json text with its merges in the string form "a b" of tokenizers < 0.20."""
    data = json.loads(tokenizer_json)
    merges = data["model"]["merges"]
    assert all(isinstance(m, list) and len(m) == 2 for m in merges), "expected transformers 5 to write pairs"
    data["model"]["merges"] = [" ".join(m) for m in merges]
    return json.dumps(data, ensure_ascii=False, indent=2)


def check_string_merges(folder, texts, tmp):
    """The same tokenizer with merges written as strings gives the same ids, in tokenizers and in transformers."""
    text = (folder / "tokenizer.json").read_text()
    as_pairs = tokenizers.Tokenizer.from_str(text)
    as_strings = tokenizers.Tokenizer.from_str(with_string_merges(text))
    converted = tmp / "string-merges"
    shutil.copytree(folder, converted)
    (converted / "tokenizer.json").write_text(with_string_merges(text))
    reference, other = CLIPTokenizer.from_pretrained(folder), CLIPTokenizer.from_pretrained(converted)
    for t in texts:
        assert as_pairs.encode(t).ids == as_strings.encode(t).ids, t
        assert reference(t).input_ids == other(t).input_ids, t


def reference_case(tok, text):
    full = tok(text).input_ids
    padded = tok(text, padding="max_length", max_length=77, truncation=True).input_ids
    assert len(padded) == 77
    return {"ids": full, "padded": padded, "truncated": len(full) > 77}


def check_folder(folder, name):
    """Exits non-zero unless transformers and tokenizers give FOLDER's tokenizer the committed ids of NAME."""
    folder = pathlib.Path(folder)
    reference = json.loads((OUT / "clip_tokenizer.json").read_text())
    tok = CLIPTokenizer.from_pretrained(folder)
    backend = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    failures, checked = [], 0
    for case in reference["cases"]:
        want = case.get(name)
        if want is None:
            continue
        checked += 1
        if name == "added":
            got = {"ids": tok(case["text"]).input_ids}
        else:
            got = reference_case(tok, case["text"])
        if got != want:
            failures.append(f"transformers {case['text']!r}: {got['ids']} vs {want['ids']}")
        if backend.encode(case["text"]).ids != want["ids"]:
            failures.append(f"tokenizers {case['text']!r}: {backend.encode(case['text']).ids} vs {want['ids']}")
    print(f"{folder}: {checked} texts against {name!r}, {len(failures)} differ "
          f"(transformers {transformers.__version__}, tokenizers {tokenizers.__version__})")
    for f in failures[:10]:
        print("  " + f)
    return not failures


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--check":
        sys.exit(0 if check_folder(sys.argv[2], sys.argv[3]) else 1)
    vocab = shared_folder() / "data" / "clip-vocab"
    write_config(OUT / "sd1", "<|endoftext|>")
    write_config(OUT / "sd2", "!")
    write_added_tokens_config(OUT / "added")
    texts = prompts()
    result = {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
              "class": "transformers.CLIPTokenizer", "cases": []}
    loaded = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for name in ["sd1", "sd2", "added"]:
            folder = tmp / name
            shutil.copytree(OUT / name, folder)
            for f in ["vocab.json", "merges.txt"]:
                shutil.copy(vocab / f, folder / f)
            loaded[name] = CLIPTokenizer.from_pretrained(folder)
            assert loaded[name].model_max_length == 77
        assert loaded["sd1"].pad_token_id == 49407 and loaded["sd2"].pad_token_id == 0
        saved = save_with_transformers(tmp / "sd1", tmp)
        loaded["saved"] = CLIPTokenizer.from_pretrained(saved)
        assert loaded["saved"].model_max_length == 77 and loaded["saved"].pad_token_id == 49407
        check_string_merges(saved, texts, tmp)
        for text in texts:
            case = {"text": text}
            for name, tok in loaded.items():
                if name == "added":  # only where special tokens are written out
                    if "<|" in text:
                        case[name] = {"ids": tok(text).input_ids}
                    continue
                case[name] = reference_case(tok, text)
            result["cases"].append(case)
    assert len(result["cases"]) >= 200
    (OUT / "clip_tokenizer.json").write_text(json.dumps(result, ensure_ascii=True, indent=None) + "\n")
    print(f"{len(result['cases'])} cases, "
          f"{sum(c['sd1']['truncated'] for c in result['cases'])} truncated, written to {OUT}")


if __name__ == "__main__":
    main()
