#!/usr/bin/env python3
"""Writes the safetensors test fixtures of Tests/TorchTests/Fixtures/safetensors with the reference
library (safetensors.torch.save_file) and a JSON sidecar, fixtures.json, describing what each file holds:
metadata, header length and, for every tensor in file order, dtype, shape, data_offsets, its bytes in hex
and its values (as Python repr strings, so inf/nan/-0.0 survive JSON).

Development only: the Swift tests read the committed files and never need Python.

    python scripts/make_safetensors_fixtures.py            # regenerate the fixtures
    python scripts/make_safetensors_fixtures.py --verify F  # load files written by Swift with the reference
"""
import argparse
import json
import pathlib
import struct
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "TorchTests" / "Fixtures" / "safetensors"

DTYPE_NAMES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


def fixtures():
    inf, nan = float("inf"), float("nan")
    all_dtypes = {
        "f64": torch.tensor([1.5, -2.25, 1e300], dtype=torch.float64),
        "f32": torch.tensor([[0.0, -0.0, 3.5], [inf, -inf, nan]], dtype=torch.float32),
        "f16": torch.tensor([1.0, -65504.0, 6.1035e-05, 0.333], dtype=torch.float16),
        "bf16": torch.tensor([[1.0, -3.0e38], [0.0078125, 7.0]], dtype=torch.bfloat16),
        "i64": torch.tensor([-(2**63), 2**63 - 1, 42], dtype=torch.int64),
        "i32": torch.tensor([[-(2**31), 2**31 - 1], [0, -7]], dtype=torch.int32),
        "i16": torch.tensor([-32768, 32767, 5], dtype=torch.int16),
        "i8": torch.tensor([-128, 127, 0, -1], dtype=torch.int8),
        "u8": torch.tensor([0, 1, 128, 255, 7], dtype=torch.uint8),
        "bool": torch.tensor([[True, False, True], [False, False, True]]),
        # Same dtype, names that sort differently by bytes than by "natural" order.
        "a.10": torch.tensor([10.0]),
        "a.9": torch.tensor([9.0]),
        "Z": torch.tensor([26.0]),
        "\u00e9": torch.tensor([233.0]),
    }
    metadata = {"format": "pt", "note": 'Prism fixture \u00e9 "quoted" back\\slash\nnew line\u0001', "a": ""}
    special = {
        "scalar": torch.tensor(3.25, dtype=torch.float32),
        "empty": torch.zeros(0, dtype=torch.float32),
        "empty_3d": torch.zeros(2, 0, 3, dtype=torch.int64),
        "odd": torch.tensor([1, 2, 3], dtype=torch.uint8),
        "after_odd": torch.tensor([True]),
    }
    return [
        ("all_dtypes.safetensors", all_dtypes, metadata),
        ("special.safetensors", special, {}),
        ("no_tensors.safetensors", {}, None),
    ]


def metadata_keys(path):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return list(json.loads(raw[8 : 8 + n]).get("__metadata__") or {})


def describe(path):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    tensors = load_file(str(path))
    entries = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        t = tensors[name]
        assert DTYPE_NAMES[t.dtype] == info["dtype"]
        values = [repr(float(v)) if t.is_floating_point() else repr(int(v)) for v in t.flatten().tolist()]
        entries.append({
            "name": name, "dtype": info["dtype"], "shape": info["shape"], "data_offsets": [begin, end],
            "hex": raw[8 + n + begin : 8 + n + end].hex(), "values": values,
        })
    rank = ["BOOL", "U8", "I8", "I16", "F16", "BF16", "I32", "F32", "F64", "I64"]  # increasing alignment
    entries.sort(key=lambda e: (e["data_offsets"], -rank.index(e["dtype"]), e["name"].encode()))
    return {"header_length": n, "file_size": len(raw), "metadata": header.get("__metadata__"), "tensors": entries}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--verify", nargs="*", help="safetensors files (written by Swift) to load and print")
    args = parser.parse_args()
    if args.verify:
        for f in args.verify:
            with safe_open(f, framework="pt") as handle:
                print(f, "metadata:", handle.metadata())
                for key in handle.keys():
                    t = handle.get_tensor(key)
                    print(f"  {key}: {t.dtype} {list(t.shape)} {t.flatten()[:6].tolist()}")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    sidecar = {}
    for name, tensors, metadata in fixtures():
        path = OUT / name
        # The reference writes __metadata__ in (random) hash-map order; SafetensorsWriter sorts the keys.
        # Save until the order happens to be sorted, so the committed file is the canonical layout that
        # Swift reproduces byte for byte.
        for _ in range(1000):
            save_file(tensors, str(path), metadata=metadata)
            if metadata_keys(path) == sorted(metadata_keys(path), key=str.encode):
                break
        else:
            raise SystemExit(f"{name}: the reference never wrote sorted metadata keys")
        sidecar[name] = describe(path)
    (OUT / "fixtures.json").write_text(json.dumps(sidecar, indent=1, ensure_ascii=True, sort_keys=True) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(sidecar)} fixtures and fixtures.json to {OUT} ({total} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
