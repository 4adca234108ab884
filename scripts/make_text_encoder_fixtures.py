#!/usr/bin/env python3
"""Reference outputs for Prism's CLIPTextModel tests, from transformers' CLIPTextModel (dev-only).

Two tiny random-weight text encoders shaped like Stable Diffusion's: SD 1.x style (quick_gelu, 3 layers) and
SD 2.x style (gelu, 2 layers, other widths), saved with save_pretrained(safe_serialization=True) into
Tests/DiffusionTests/Fixtures/text_encoder-sd1/ and text_encoder-sd2/. Beside each model, reference.safetensors
holds `input_ids` (2 × 77, int64, start/end/pad tokens placed as the tokenizer does), `last_hidden_state`
(through final_layer_norm, what Stable Diffusion uses), `clip_skip_1` (the penultimate layer's output through
final_layer_norm, diffusers' clip_skip=1) and `pooler_output`.

    /work/venv/bin/python scripts/make_text_encoder_fixtures.py
"""
import pathlib

import torch
from safetensors.torch import load_file, save_file
from transformers import CLIPTextConfig, CLIPTextModel

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "DiffusionTests" / "Fixtures"

torch.manual_seed(0)
torch.set_num_threads(1)

# sd1 is rewritten in the layout of checkpoints saved by transformers 4.x (as Stable Diffusion's are): keys under
# `text_model.` and the `text_model.embeddings.position_ids` buffer; sd2 keeps transformers 5's layout.
VARIANTS = {
    "sd1": dict(hidden_size=32, intermediate_size=64, num_attention_heads=4, num_hidden_layers=3, hidden_act="quick_gelu",
                pad=None, legacy=True),
    "sd2": dict(hidden_size=48, intermediate_size=96, num_attention_heads=3, num_hidden_layers=2, hidden_act="gelu",
                pad=0, legacy=False),
}
VOCAB = 1000  # the real 49408 rows would make the fixture large; ids stay below this


def input_ids(pad, generator):
    """Two prompts of 9 and 30 tokens between start (VOCAB-2) and end (VOCAB-1) tokens, padded to 77."""
    bos, eos = VOCAB - 2, VOCAB - 1
    pad_id = eos if pad is None else pad
    rows = []
    for n in [9, 30]:
        body = torch.randint(1, VOCAB - 2, (n,), generator=generator).tolist()
        row = [bos] + body + [eos]
        rows.append(row + [pad_id] * (77 - len(row)))
    return torch.tensor(rows, dtype=torch.int64)


def main():
    g = torch.Generator().manual_seed(1234)
    for name, spec in VARIANTS.items():
        pad, legacy = spec.pop("pad"), spec.pop("legacy")
        config = CLIPTextConfig(vocab_size=VOCAB, max_position_embeddings=77, layer_norm_eps=1e-5,
                                bos_token_id=VOCAB - 2, eos_token_id=VOCAB - 1, pad_token_id=1, projection_dim=32, **spec)
        model = CLIPTextModel(config).eval()
        # Give the layer norms non-trivial scales and shifts, so that a missing one shows.
        with torch.no_grad():
            for n, p in model.named_parameters():
                if "layer_norm" in n:
                    p.add_(0.1 * torch.randn(p.shape, generator=g))
        folder = OUT / f"text_encoder-{name}"
        model.save_pretrained(folder, safe_serialization=True)
        if legacy:
            weights = folder / "model.safetensors"
            state = {("text_model." + k if not k.startswith("text_model.") else k): v for k, v in load_file(weights).items()}
            state["text_model.embeddings.position_ids"] = torch.arange(77, dtype=torch.int64).unsqueeze(0)
            save_file(state, weights, metadata={"format": "pt"})
            reloaded = CLIPTextModel.from_pretrained(folder).eval()
            for (n, a), b in zip(model.state_dict().items(), reloaded.state_dict().values()):
                assert torch.equal(a, b), n
        ids = input_ids(pad, g)
        with torch.no_grad():
            out = model(input_ids=ids, output_hidden_states=True)
            skip = model.text_model.final_layer_norm(out.hidden_states[-2]) if hasattr(model, "text_model") \
                else model.final_layer_norm(out.hidden_states[-2])
        save_file({
            "input_ids": ids.contiguous(),
            "last_hidden_state": out.last_hidden_state.contiguous(),
            "clip_skip_1": skip.contiguous(),
            "pooler_output": out.pooler_output.contiguous(),
        }, folder / "reference.safetensors")
        print(name, sorted(p.name for p in folder.iterdir()))


if __name__ == "__main__":
    main()
