"""PNG decoder fixtures for Tests/ImagingTests.

Run:  /work/venv/bin/python scripts/make_png_fixtures.py
Writes Tests/ImagingTests/PNGFixtures.swift: small PNGs (base64) of every colour type, bit depth, filter
type and interlacing, each with the samples a decoder must produce. Files come from Pillow where Pillow can
write the mode, otherwise from the minimal reference encoder below (written to the PNG specification and
read back with Pillow as a check where Pillow can read the mode).
"""
import base64, io, struct, zlib
import numpy as np
from PIL import Image

rng = np.random.default_rng(1234)
W, H = 11, 7

def chunk(t, body):
    return struct.pack(">I", len(body)) + t + body + struct.pack(">I", zlib.crc32(t + body) & 0xFFFFFFFF)

def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)

def filter_rows(rows, bpp, filters):
    out = b""
    prev = bytes(len(rows[0])) if rows else b""
    for i, row in enumerate(rows):
        f = filters[i % len(filters)]
        enc = bytearray()
        for x in range(len(row)):
            a = row[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][f]
            enc.append((row[x] - pred) & 0xFF)
        out += bytes([f]) + bytes(enc)
        prev = row
    return out

def pack_rows(arr, depth):
    """arr: H x W x C integer samples -> list of row byte strings."""
    rows = []
    for r in arr:
        flat = r.reshape(-1)
        if depth == 16:
            rows.append(b"".join(struct.pack(">H", int(v)) for v in flat))
        elif depth == 8:
            rows.append(bytes(int(v) for v in flat))
        else:
            bits = "".join(format(int(v), "0%db" % depth) for v in flat)
            bits += "0" * (-len(bits) % 8)
            rows.append(bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8)))
    return rows

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]

def write_png(arr, color_type, depth, interlace=False, filters=(0, 1, 2, 3, 4), palette=None, trns=None):
    h, w, c = arr.shape
    bpp = max(1, c * depth // 8)
    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            sub = arr[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += filter_rows(pack_rows(sub, depth), bpp, filters)
    else:
        raw = filter_rows(pack_rows(arr, depth), bpp, filters)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, int(interlace)))
    out += chunk(b"tEXt", b"Comment\x00fixture")  # an ancillary chunk the decoder must skip
    if palette is not None:
        out += chunk(b"PLTE", bytes(palette.reshape(-1).tolist()))
    if trns is not None:
        out += chunk(b"tRNS", bytes(trns))
    z = zlib.compress(raw, 9)
    out += chunk(b"IDAT", z[: len(z) // 2]) + chunk(b"IDAT", z[len(z) // 2:])  # split IDAT
    return out + chunk(b"IEND", b"")

def rand(c, depth):
    return rng.integers(0, 2 ** depth, size=(H, W, c))

cases = []  # (name, png bytes, expected channels, expected depth, expected samples)

def pil_png(img):
    buf = io.BytesIO(); img.save(buf, format="PNG"); return buf.getvalue()

# Pillow-written files.
g8 = rand(1, 8).astype(np.uint8)
cases.append(("pil_gray8", pil_png(Image.fromarray(g8[:, :, 0], "L")), 1, 8, g8))
g16 = rand(1, 16).astype(np.uint16)
cases.append(("pil_gray16", pil_png(Image.fromarray(g16[:, :, 0])), 1, 16, g16))
rgb8 = rand(3, 8).astype(np.uint8)
cases.append(("pil_rgb8", pil_png(Image.fromarray(rgb8, "RGB")), 3, 8, rgb8))
rgba8 = rand(4, 8).astype(np.uint8)
cases.append(("pil_rgba8", pil_png(Image.fromarray(rgba8, "RGBA")), 4, 8, rgba8))
la8 = rand(2, 8).astype(np.uint8)
cases.append(("pil_graya8", pil_png(Image.fromarray(la8, "LA")), 2, 8, la8))
pal = rng.integers(0, 256, size=(6, 3)).astype(np.uint8)
idx = rng.integers(0, 6, size=(H, W)).astype(np.uint8)
pimg = Image.fromarray(idx, "P"); pimg.putpalette(pal.reshape(-1).tolist())
cases.append(("pil_palette", pil_png(pimg), 3, 8, pal[idx]))
bw = rng.integers(0, 2, size=(H, W)).astype(bool)
cases.append(("pil_gray1", pil_png(Image.fromarray(bw)), 1, 8, (bw.astype(np.uint16) * 255)[:, :, None]))

# Reference-encoder files: every filter, interlacing, 16-bit colour, packed gray, palette alpha.
for depth in (2, 4):
    a = rand(1, depth)
    cases.append((f"ref_gray{depth}", write_png(a, 0, depth), 1, 8, a * 255 // (2 ** depth - 1)))
for c, ct in ((2, 4), (3, 2), (4, 6)):
    a = rand(c, 16)
    cases.append((f"ref_{ {2: 'graya', 3: 'rgb', 4: 'rgba'}[c] }16", write_png(a, ct, 16), c, 16, a))
a = rand(1, 8)
cases.append(("ref_gray8_adam7", write_png(a, 0, 8, interlace=True), 1, 8, a))
a = rand(3, 16)
cases.append(("ref_rgb16_adam7", write_png(a, 2, 16, interlace=True, filters=(4, 3)), 3, 16, a))
a = rand(1, 4)
cases.append(("ref_gray4_adam7", write_png(a, 0, 4, interlace=True), 1, 8, a * 17))
alpha = [255, 0, 128]
idx2 = rng.integers(0, 6, size=(H, W, 1))
expected = np.concatenate([pal[idx2[:, :, 0]], np.array([alpha[i] if i < 3 else 255 for i in idx2.reshape(-1)]).reshape(H, W, 1)], axis=2)
cases.append(("ref_palette4_trns", write_png(idx2, 3, 4, palette=pal, trns=alpha), 4, 8, expected))

# Check the reference-encoder files with Pillow where it represents the mode exactly.
for name, data, c, d, exp in cases:
    im = Image.open(io.BytesIO(data)); im.load()
    if name in ("ref_gray8_adam7",):
        assert (np.array(im).reshape(H, W, -1) == exp).all(), name
    if name == "ref_palette4_trns":
        assert (np.array(im.convert("RGBA")) == exp).all(), name
    if name.startswith("ref_gray") and "16" not in name and name != "ref_gray8_adam7":
        assert (np.array(im.convert("L")).reshape(H, W, 1) == exp).all(), name

lines = [
    "// Generated by scripts/make_png_fixtures.py; do not edit.",
    "// Each fixture: a small PNG and the samples a decoder must return.",
    "import Foundation",
    "",
    "struct PNGFixture { let name: String; let png: Data; let width: Int; let height: Int; let channels: Int; let bitDepth: Int; let samples: [UInt16] }",
    "",
    "let pngFixtures: [PNGFixture] = [",
]
for name, data, c, d, exp in cases:
    vals = ",".join(str(int(v)) for v in np.asarray(exp).reshape(-1))
    lines.append(f'    PNGFixture(name: "{name}", png: Data(base64Encoded: "{base64.b64encode(data).decode()}")!,')
    lines.append(f"               width: {W}, height: {H}, channels: {c}, bitDepth: {d},")
    lines.append(f"               samples: [{vals}]),")
lines.append("]")
open("Tests/ImagingTests/PNGFixtures.swift", "w").write("\n".join(lines) + "\n")
print(f"{len(cases)} fixtures")
