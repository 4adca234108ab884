"""Contact sheet of PhantomCXR factuals and counterfactuals for docs/images/phantom-contact-sheet.png.

Run (after `swift build --product prism`):
    .build/debug/prism phantom generate --output /tmp/phantom-sheet --count 400 --seed 2026 \
        --counterfactuals "support_devices=0;cardiomegaly=0;pleural_effusion=1"
    /work/venv/bin/python scripts/make_phantom_contact_sheet.py /tmp/phantom-sheet docs/images/phantom-contact-sheet.png

Picks cases that show each intervention (a pacemaker, cardiomegaly, devices and no effusion, ...), then lays
out per row: factual | do(...) | change mask, for the three counterfactuals. Also writes a strip of eight
phantoms beside eight real NIH ChestX-ray14 thumbnails (docs/images/phantom-vs-nih.png) when the NIH
sample is present.
"""
import csv, os, sys
from PIL import Image, ImageDraw

src, out = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(os.path.join(src, "manifest.csv"))))
T = 150

def pick(pred, taken):
    for r in rows:
        if pred(r) and r["Path"] not in taken:
            taken.add(r["Path"]); return r
    raise SystemExit("no case matches")

cf_rows = list(csv.DictReader(open(os.path.join(src, "counterfactuals.csv"))))
cf_side = {(r["Case"], r["Intervention"]): r["Effusion Side"] for r in cf_rows}
case_id = lambda r: os.path.splitext(os.path.basename(r["Path"]))[0]
taken = set()
chosen = [
    pick(lambda r: r["Pacemaker"] == "1" and r["Cardiomegaly"] == "1" and r["Pleural Effusion"] == "0", taken),
    pick(lambda r: r["Cardiomegaly"] == "1" and r["Central Venous Catheter"] == "1" and r["Pleural Effusion"] == "1", taken),
    pick(lambda r: r["Endotracheal Tube"] == "1" and r["Nasogastric Tube"] == "1" and r["Pleural Effusion"] == "0", taken),
    pick(lambda r: r["Support Devices"] == "0" and r["Cardiomegaly"] == "0" and r["Pleural Effusion"] == "0" and r["Sex"] == "Female"
         and cf_side[(case_id(r), "pleural_effusion=1")] in ("left", "right"), taken),
]
cfs = ["support_devices=0", "cardiomegaly=0", "pleural_effusion=1"]
header = 18
sheet = Image.new("L", (T * 7, header + T * len(chosen)), 0)
draw = ImageDraw.Draw(sheet)
titles = ["factual"] + sum([[f"do({c})", "change"] for c in cfs], [])
for k, t in enumerate(titles):
    draw.text((k * T + 4, 3), t, fill=255)
for i, r in enumerate(chosen):
    cid = os.path.splitext(os.path.basename(r["Path"]))[0]
    tiles = [os.path.join(src, r["Path"])]
    for c in cfs:
        tiles += [os.path.join(src, "counterfactuals", cid, c + ".png"), os.path.join(src, "counterfactuals", cid, c + ".change.png")]
    for k, path in enumerate(tiles):
        sheet.paste(Image.open(path).convert("L").resize((T, T), Image.LANCZOS), (k * T, header + i * T))
    label = f'{r["Sex"][0]} {r["Age"]}y CTR {float(r["CTR"]):.2f} eff {r["Effusion Side"]}'
    draw.text((4, header + i * T + T - 13), label, fill=255)
sheet.save(out, optimize=True)
print(out, os.path.getsize(out), "bytes")

nih = "/work/shared/data/nih-cxr14-sample/images-256"
if os.path.isdir(nih):
    real = sorted(os.listdir(nih))[:8]
    strip = Image.new("L", (8 * 128, 2 * 128 + 16), 0)
    d = ImageDraw.Draw(strip)
    d.text((4, 2), "top: PhantomCXR phantoms; bottom: real NIH ChestX-ray14 (NIH Clinical Center, Wang et al. CVPR 2017)", fill=255)
    for k in range(8):
        strip.paste(Image.open(os.path.join(src, rows[k]["Path"])).convert("L").resize((128, 128), Image.LANCZOS), (k * 128, 16))
        strip.paste(Image.open(os.path.join(nih, real[k])).convert("L").resize((128, 128), Image.LANCZOS), (k * 128, 16 + 128))
    p = os.path.join(os.path.dirname(out), "phantom-vs-nih.png")
    strip.save(p, optimize=True)
    print(p, os.path.getsize(p), "bytes")
