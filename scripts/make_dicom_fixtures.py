#!/usr/bin/env python3
"""DICOM fixtures for Tests/ImagingTests, written by pydicom and DCMTK's command-line tools, with the pixels that
pydicom's LUTs make of them (the reference Prism's DICOM reader is held to).

    make_dicom_fixtures.py fixtures [DIR]      the test fixtures (default Tests/ImagingTests/Fixtures/dicom)
    make_dicom_fixtures.py held-out DIR        other sizes, windows, rescales and photometrics, for `prism convert`
    make_dicom_fixtures.py check DICOMS PNGS   compares `prism convert --format png` output with pydicom's pixels

The reference pixels: pydicom's apply_modality_lut, then apply_voi_lut (the file's first window or VOI LUT), mapped
linearly onto 0...255 (for a window, pydicom's output range y_min...y_max; for a LUT, 0...2^bits - 1); with no VOI
in the file, the modality values' min...max; MONOCHROME1 inverted (255 - v). Needs pydicom 3, numpy, Pillow (JPEG
baseline decoding) and DCMTK's dcmconv, dcmcjpeg and dcmcjpls on PATH (Debian: apt-get install dcmtk).
"""
import json
import os
import subprocess
import sys
import tempfile
import zlib
import struct

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.sequence import Sequence
from pydicom.uid import (CTImageStorage, ComputedRadiographyImageStorage, DigitalXRayImageStorageForPresentation,
                         ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless, SecondaryCaptureImageStorage,
                         generate_uid)


def base(rows, cols, bits_stored=12, signed=False, photometric="MONOCHROME2", sop=DigitalXRayImageStorageForPresentation,
         bits_allocated=16):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop
    ds.SOPClassUID = sop
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = "Test^Patient"
    ds.PatientID = "P0001"
    ds.PatientSex = "F"
    ds.PatientAge = "070Y"
    ds.ViewPosition = "PA"
    ds.Modality = "DX"
    ds.PixelSpacing = [0.139, 0.139]
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    return ds


def pattern(rows, cols, lo, hi, seed):
    """A smooth ramp with a blob and noise, spanning lo...hi (inclusive)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols]
    v = (x / max(cols - 1, 1)) * 0.6 + (y / max(rows - 1, 1)) * 0.3
    v += 0.4 * np.exp(-(((x - cols * 0.6) ** 2 + (y - rows * 0.4) ** 2) / (0.05 * rows * cols)))
    v += rng.normal(0, 0.02, v.shape)
    v = (v - v.min()) / (v.max() - v.min())
    return np.round(lo + v * (hi - lo)).astype(np.int64)


def set_pixels(ds, values):
    dtype = {(8, 0): np.uint8, (16, 0): "<u2", (16, 1): "<i2"}[(ds.BitsAllocated, ds.PixelRepresentation if ds.BitsAllocated == 16 else 0)]
    ds.PixelData = values.astype(dtype).tobytes()


def reference(ds, window="auto"):
    """The 8-bit pixels of the module docstring, from a dataset pydicom decodes."""
    arr = ds.pixel_array
    modality = apply_modality_lut(arr, ds)
    m = modality.astype(np.float64)
    if window == "auto" and ("VOILUTSequence" in ds or "WindowCenter" in ds):
        v = apply_voi_lut(modality, ds, index=0).astype(np.float64)
        if "VOILUTSequence" in ds:
            v = v / (2 ** int(ds.VOILUTSequence[0].LUTDescriptor[2]) - 1)
        else:
            if ds.PixelRepresentation == 0:
                y_min, y_max = 0, 2 ** ds.BitsStored - 1
            else:
                y_min, y_max = -(2 ** (ds.BitsStored - 1)), 2 ** (ds.BitsStored - 1) - 1
            if "RescaleSlope" in ds and "RescaleIntercept" in ds:
                y_min = y_min * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
                y_max = y_max * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
            v = (v - y_min) / (y_max - y_min)
    elif window in ("auto", "none"):
        lo, hi = m.min(), m.max()
        v = (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)
    elif window.startswith("percentile:"):
        a, b = (float(t) for t in window.split(":")[1].split(","))
        lo, hi = np.percentile(m, [a, b])
        v = (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)
    else:
        # A window given for the file replaces its own (and its VOI LUT).
        c, w = (float(t) for t in window.split(","))
        return reference(_with_window(ds, c, w))
    v = np.clip(v, 0, 1) * 255
    if ds.PhotometricInterpretation == "MONOCHROME1":
        v = 255 - v
    return np.rint(v).astype(np.uint8)


def _with_window(ds, c, w):
    copy = pydicom.dcmread(ds.filename)
    if "VOILUTSequence" in copy: del copy.VOILUTSequence
    copy.WindowCenter, copy.WindowWidth = c, w
    if "VOILUTFunction" in copy: del copy.VOILUTFunction
    return copy


def tool(*args):
    subprocess.run(list(args), check=True, stdout=subprocess.DEVNULL)


def save(ds, path, syntax=ExplicitVRLittleEndian):
    ds.file_meta.TransferSyntaxUID = syntax
    ds.save_as(path, enforce_file_format=True)


def make_fixtures(out):
    os.makedirs(out, exist_ok=True)
    cases = []

    def case(name, ds_or_path, window="auto", expected=True, error=None):
        path = os.path.join(out, name + ".dcm")
        entry = {"file": name + ".dcm", "window": window}
        if error:
            entry["error"] = error
        if expected:
            ds = pydicom.dcmread(path)
            ref = reference(ds, window)
            exp = f"{name}.{window.replace(':', '-').replace(',', '_')}.gray"
            ref.tofile(os.path.join(out, exp))
            entry.update(expected=exp, width=int(ds.Columns), height=int(ds.Rows))
        cases.append(entry)

    # 12 bits in 16, unsigned, window in the header: the same pixels in every uncompressed syntax.
    ds = base(48, 40)
    set_pixels(ds, pattern(48, 40, 100, 4000, 1))
    ds.WindowCenter, ds.WindowWidth = 2000, 3000
    save(ds, os.path.join(out, "explicit_le.dcm"))
    case("explicit_le", None)
    save(ds, os.path.join(out, "implicit_le.dcm"), ImplicitVRLittleEndian)
    case("implicit_le", None)
    tool("dcmconv", "+tb", os.path.join(out, "explicit_le.dcm"), os.path.join(out, "explicit_be.dcm"))
    case("explicit_be", None)
    tool("dcmconv", "+td", os.path.join(out, "explicit_le.dcm"), os.path.join(out, "deflated.dcm"))
    case("deflated", None)
    case("explicit_le", None, window="1000,500")
    case("explicit_le", None, window="none")
    case("explicit_le", None, window="percentile:2,98")

    # RLE by pydicom's own encoder; JPEG lossless (process 14 SV1) and JPEG-LS lossless by DCMTK.
    rle = base(32, 32, bits_stored=12)
    set_pixels(rle, pattern(32, 32, 0, 4095, 2))
    rle.compress(RLELossless, encoding_plugin="pydicom")
    save(rle, os.path.join(out, "rle.dcm"), RLELossless)
    case("rle", None)
    tool("dcmcjpeg", "+e1", os.path.join(out, "explicit_le.dcm"), os.path.join(out, "jpeg_lossless.dcm"))
    cases.append({**cases[0], "file": "jpeg_lossless.dcm"})
    tool("dcmcjpeg", "+el", os.path.join(out, "explicit_le.dcm"), os.path.join(out, "jpeg_lossless_p14.dcm"))
    cases.append({**cases[0], "file": "jpeg_lossless_p14.dcm"})
    tool("dcmcjpls", "+el", os.path.join(out, "explicit_le.dcm"), os.path.join(out, "jpeg_ls.dcm"))
    cases.append({**cases[0], "file": "jpeg_ls.dcm"})
    # JPEG baseline is 8-bit and lossy: the reference decodes the compressed file (pydicom with Pillow).
    eight = base(40, 48, bits_stored=8, bits_allocated=8)
    set_pixels(eight, pattern(40, 48, 10, 240, 3))
    save(eight, os.path.join(out, "eight_bit.dcm"))
    case("eight_bit", None)
    tool("dcmcjpeg", "+eb", "+q", "95", os.path.join(out, "eight_bit.dcm"), os.path.join(out, "jpeg_baseline.dcm"))
    case("jpeg_baseline", None)

    # The marker after SOI made a TEM (FF01): DCMTK 3.6.7's scan for the bit depth never returns from one (a fuzz
    # find), so Prism refuses it first.
    with open(os.path.join(out, "jpeg_baseline.dcm"), "rb") as f:
        jpeg = bytearray(f.read())
    soi = jpeg.index(b"\xff\xd8\xff")
    jpeg[soi + 2:soi + 4] = b"\xff\x01"
    with open(os.path.join(out, "jpeg_tem_marker.dcm"), "wb") as f:
        f.write(bytes(jpeg))
    case("jpeg_tem_marker", None, expected=False, error="TEM marker")

    mono1 = base(24, 36, bits_stored=10, photometric="MONOCHROME1")
    set_pixels(mono1, pattern(24, 36, 0, 1023, 4))
    save(mono1, os.path.join(out, "monochrome1.dcm"))
    case("monochrome1", None)

    signed = base(32, 24, bits_stored=16, signed=True, sop=CTImageStorage)
    set_pixels(signed, pattern(32, 24, -1024, 2000, 5))
    signed.RescaleSlope, signed.RescaleIntercept, signed.RescaleType = 0.5, -200, "HU"
    signed.WindowCenter, signed.WindowWidth = [100, 40], [600, 400]
    save(signed, os.path.join(out, "signed_rescale.dcm"))
    case("signed_rescale", None)

    voi = base(32, 32, bits_stored=12)
    set_pixels(voi, pattern(32, 32, 0, 4095, 6))
    item = Dataset()
    # 16 bits an entry: pydicom 3.0 indexes an 8-bit LUT through uint8 (values above 255 wrap), not the standard's
    # clamp. The first mapped value is 100, the last 3999: the values outside take the first and last entries.
    entries = 3900
    item.LUTDescriptor = [entries, 100, 16]
    curve = np.round(65535 * (np.arange(entries) / (entries - 1)) ** 0.5).astype("<u2")
    item.add_new("LUTData", "OW", curve.tobytes())
    voi.VOILUTSequence = Sequence([item])
    voi.WindowCenter, voi.WindowWidth = 10, 10   # the LUT comes first, as in pydicom
    save(voi, os.path.join(out, "voi_lut.dcm"))
    case("voi_lut", None)

    # The input of the CLI's edit and convert tests: 64 x 64 (the smallest image `prism edit` takes), Computed
    # Radiography (whose SOP Class a derived image keeps).
    cr = base(64, 64, bits_stored=10, sop=ComputedRadiographyImageStorage)
    cr.Modality = "CR"
    set_pixels(cr, pattern(64, 64, 20, 1000, 10))
    cr.WindowCenter, cr.WindowWidth = 500, 900
    save(cr, os.path.join(out, "cr64.dcm"))
    case("cr64", None)

    # Refusals.
    with open(os.path.join(out, "explicit_le.dcm"), "rb") as f:
        whole = f.read()
    with open(os.path.join(out, "truncated.dcm"), "wb") as f:
        f.write(whole[: len(whole) - 1500])
    case("truncated", None, expected=False, error="truncated")
    # A deflated data set whose Pixel Data claims 4 GB: refused from the bytes there are, nothing allocated for it.
    meta_end = 144 + struct.unpack("<I", whole[140:144])[0]
    body = bytearray(whole[meta_end:])
    at = body.index(b"\xe0\x7f\x10\x00OW\x00\x00")
    body[at + 8:at + 12] = struct.pack("<I", 0xF0000000)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = packer.compress(bytes(body)) + packer.flush()
    with open(os.path.join(out, "deflated.dcm"), "rb") as f:
        deflated_file = f.read()
    deflated_meta_end = 144 + struct.unpack("<I", deflated_file[140:144])[0]
    with open(os.path.join(out, "deflated_long.dcm"), "wb") as f:
        f.write(deflated_file[:deflated_meta_end] + deflated)
    case("deflated_long", None, expected=False, error="truncated")

    nopix = base(8, 8)
    del nopix.Rows, nopix.Columns
    nopix.SOPClassUID = nopix.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"  # Basic Text SR
    save(nopix, os.path.join(out, "no_pixels.dcm"))
    case("no_pixels", None, expected=False, error="no pixel data")
    multi = base(16, 16, bits_stored=8, bits_allocated=8)
    multi.NumberOfFrames = 2
    set_pixels(multi, np.concatenate([pattern(16, 16, 0, 255, 7), pattern(16, 16, 0, 255, 8)]))
    save(multi, os.path.join(out, "multi_frame.dcm"))
    case("multi_frame", None, expected=False, error="2 frames")
    colour = base(16, 16, bits_stored=8, bits_allocated=8, photometric="RGB", sop=SecondaryCaptureImageStorage)
    colour.SamplesPerPixel, colour.PlanarConfiguration = 3, 0
    set_pixels(colour, pattern(16, 48, 0, 255, 9))
    save(colour, os.path.join(out, "colour.dcm"))
    case("colour", None, expected=False, error="RGB")
    j2k = base(16, 16)
    j2k.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.90"
    from pydicom.encaps import encapsulate
    j2k.PixelData = encapsulate([b"\xff\x4f\xff\x51" + b"\x00" * 60])
    j2k["PixelData"].VR = "OB"
    j2k.save_as(os.path.join(out, "jpeg2000.dcm"), enforce_file_format=True)
    case("jpeg2000", None, expected=False, error="1.2.840.10008.1.2.4.90")

    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump({"generator": f"pydicom {pydicom.__version__}, numpy {np.__version__}, DCMTK CLI", "cases": cases}, f, indent=1)
    total = sum(os.path.getsize(os.path.join(out, n)) for n in os.listdir(out))
    print(f"{len(cases)} cases, {total} bytes in {out}")


def make_held_out(out):
    """Other sizes, windows, rescales and photometrics than the fixtures, nested in folders."""
    rng = np.random.default_rng(2126)
    specs = [
        ("a/pa_window.dcm", dict(rows=97, cols=83, bits_stored=14), dict(window=(7000, 9000)), ExplicitVRLittleEndian),
        ("a/mono1_rescale.dcm", dict(rows=64, cols=128, bits_stored=12, photometric="MONOCHROME1"),
         dict(rescale=(2.0, -300), window=(2500, 5000)), ImplicitVRLittleEndian),
        ("b/signed_two_windows.dcm", dict(rows=51, cols=77, bits_stored=13, signed=True),
         dict(rescale=(1.0, 100), window=([300, 0], [1200, 800])), ExplicitVRLittleEndian),
        ("b/no_window.dcm", dict(rows=120, cols=90, bits_stored=16), {}, ImplicitVRLittleEndian),
        ("b/c/eight_mono1.dcm", dict(rows=33, cols=45, bits_stored=8, bits_allocated=8, photometric="MONOCHROME1"),
         dict(window=(128, 100)), ExplicitVRLittleEndian),
        ("c/rle_fraction.dcm", dict(rows=70, cols=70, bits_stored=11), dict(rescale=(0.25, 10.5), window=(200, 300)), RLELossless),
        ("c/sigmoid.dcm", dict(rows=40, cols=60, bits_stored=12), dict(window=(1800, 1500), function="SIGMOID"), ExplicitVRLittleEndian),
        ("c/linear_exact.dcm", dict(rows=44, cols=44, bits_stored=12), dict(window=(1200, 900), function="LINEAR_EXACT"), ExplicitVRLittleEndian),
    ]
    for k, (name, geometry, extra, syntax) in enumerate(specs):
        ds = base(**geometry)
        lo, hi = (-(2 ** (ds.BitsStored - 1)), 2 ** (ds.BitsStored - 1) - 1) if ds.PixelRepresentation else (0, 2 ** ds.BitsStored - 1)
        span = hi - lo
        set_pixels(ds, pattern(ds.Rows, ds.Columns, lo + span // 10, hi - span // 7, 100 + k))
        ds.PatientID = f"H{k:03d}"
        ds.PatientSex = "MF"[k % 2]
        ds.PatientAge = f"{40 + 3 * k:03d}Y"
        ds.ViewPosition = ["PA", "AP"][k % 2]
        if "rescale" in extra:
            ds.RescaleSlope, ds.RescaleIntercept = extra["rescale"]
        if "window" in extra:
            ds.WindowCenter, ds.WindowWidth = extra["window"]
        if "function" in extra:
            ds.VOILUTFunction = extra["function"]
        path = os.path.join(out, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if syntax == RLELossless:
            ds.compress(RLELossless, encoding_plugin="pydicom")
        save(ds, path, syntax)
    # Lossless compressions by DCMTK of two of them: pydicom (without pylibjpeg) cannot decode these, so their
    # reference is the uncompressed original's (lossless.json maps the one to the other).
    lossless = {"a/pa_window_jpegls.dcm": "a/pa_window.dcm", "b/no_window_jpeg_lossless.dcm": "b/no_window.dcm"}
    tool("dcmcjpls", "+el", os.path.join(out, "a/pa_window.dcm"), os.path.join(out, "a/pa_window_jpegls.dcm"))
    tool("dcmcjpeg", "+e1", os.path.join(out, "b/no_window.dcm"), os.path.join(out, "b/no_window_jpeg_lossless.dcm"))
    with open(os.path.join(out, "lossless.json"), "w") as f:
        json.dump(lossless, f)
    print(f"{len(specs) + len(lossless)} held-out DICOMs in {out}")


def read_png_gray(path):
    """8-bit gray PNGs as Prism writes them (non-interlaced; any filter)."""
    data = open(path, "rb").read()
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour == 0, f"{path}: not 8-bit gray"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    out = np.zeros((h, w), np.int64)
    prev = np.zeros(w, np.int64)
    for y in range(h):
        f, line = raw[y * (w + 1)], np.frombuffer(raw[y * (w + 1) + 1:(y + 1) * (w + 1)], np.uint8).astype(np.int64)
        cur = np.zeros(w, np.int64)
        for x in range(w):
            a = cur[x - 1] if x else 0
            b, c = prev[x], (prev[x - 1] if x else 0)
            pred = {0: 0, 1: a, 2: b, 3: (a + b) // 2}.get(f)
            if pred is None:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[x] = (line[x] + pred) & 255
        out[y] = prev = cur
    return out


def check(dicoms, pngs):
    worst = 0
    rows = []
    mapping = os.path.join(dicoms, "lossless.json")
    lossless = json.load(open(mapping)) if os.path.exists(mapping) else {}
    for root, _, files in os.walk(dicoms):
        for name in sorted(files):
            if not name.endswith(".dcm"):
                continue
            rel = os.path.relpath(os.path.join(root, name), dicoms)
            ref = reference(pydicom.dcmread(os.path.join(dicoms, lossless.get(rel, rel)))).astype(np.int64)
            got = read_png_gray(os.path.join(pngs, rel[:-4] + ".png"))
            d = int(np.abs(ref - got).max()) if ref.shape == got.shape else 999
            rows.append((rel, d))
            worst = max(worst, d)
    for rel, d in rows:
        print(f"{rel}: max |prism - pydicom| = {d}")
    print(f"{len(rows)} files, worst {worst} grey level(s): {'OK' if worst <= 1 else 'FAIL'}")
    return 0 if worst <= 1 and rows else 1


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    if len(sys.argv) >= 2 and sys.argv[1] == "fixtures":
        make_fixtures(sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "Tests/ImagingTests/Fixtures/dicom"))
    elif len(sys.argv) == 3 and sys.argv[1] == "held-out":
        make_held_out(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
