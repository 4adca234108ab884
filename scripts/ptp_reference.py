"""google/prompt-to-prompt's own code, loaded for Prism's fixture scripts (dev-only; the tests never need Python).

make_alignment_fixtures.py, make_p2p_fixtures.py and make_inversion_fixtures.py compute their reference values
by running the reference implementation itself (Hertz et al. 2022, Mokady et al. 2023): `ptp_utils.py`,
`seq_aligner.py` and the classes of `null_text_w_ptp.ipynb`, from a checkout of the public repository at the
commit recorded below. Nothing of the reference is copied into Prism: point PTP_DIR (or --ptp) at a checkout,

    git clone https://github.com/google/prompt-to-prompt /tmp/prompt-to-prompt
    git -C /tmp/prompt-to-prompt checkout 9c472e44aa1b607da59fea94820f7be9480ec545
    PTP_DIR=/tmp/prompt-to-prompt /work/venv/bin/python scripts/make_p2p_fixtures.py

and the scripts refuse to run if the code there is not the code recorded here (so that a regeneration either uses
the same reference code or says that it does not). The check is:
  - ptp_utils.py, seq_aligner.py: the sha256 of the file;
  - null_text_w_ptp.ipynb: the sha256 of its code cells' sources (joined as `code_cells_text` does). The notebook
    file also holds the outputs of its example runs (images, several MB) and the editor's metadata, which change
    when anyone re-runs or clears it without changing a line of code; what is executed is the code. The fixtures
    were made from a copy with its outputs cleared, because upstream's file (with outputs, over 4 MiB) was not
    available where they were made: the notebook of the fork Ava-yy/prompt-to-prompt at ab2cdf98 ("runable init",
    blob dfb0d8bf, the first change after upstream's 8186230a, the only upstream commit of the notebook), whose code
    cells are identical to those of an independent copy, Beaconsyh08/prompt-to-prompt 190ac90f. That they are
    upstream's code cells could not be checked against upstream's file here; a run on a real checkout checks it (the
    code-cell hash would differ, and the script would refuse). The copy's file hash is not upstream's; the script
    reports the file's git blob id against upstream's (recorded below) and goes on when only that differs.

How the notebook is executed: its code cells are parsed and only their top-level imports, class definitions and
function definitions are run (never a cell's other statements: they download Stable Diffusion v1-4, build
`null_inversion = NullInversion(ldm_stable)` and run the examples). The module-level settings the classes read as
globals are taken from the notebook's own settings cell (LOW_RESOURCE, NUM_DDIM_STEPS, GUIDANCE_SCALE,
MAX_NUM_WORDS, literal assignments only) and then patched where the tiny fixtures need it, each patch printed:
NUM_DDIM_STEPS (a few steps instead of 50), `tokenizer` (transformers' CLIPTokenizer on the real CLIP vocabulary,
which is Stable Diffusion v1-4's tokenizer), `device` (CPU) and `tqdm` (the notebook's progress bar needs Jupyter
widgets; a disabled console bar). ptp_utils imports cv2 and IPython.display for its image display helpers only;
where they are not installed, stand-in modules that raise if used are put in their place.
"""
import argparse
import ast
import functools
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import types

REPOSITORY = "https://github.com/google/prompt-to-prompt"
COMMIT = "9c472e44aa1b607da59fea94820f7be9480ec545"  # master, 2023-11-15 ("Update README.md")
FILES = {
    "ptp_utils.py": {"sha256": "a2bae7805e161bba22d91dbca8cfd3df1e5c011d2e946a2c447c6028d0f3131f",
                     "git_blob": "1e46c6ded1fc6f5d50717e0a222299d5a8808203"},
    "seq_aligner.py": {"sha256": "feca9ce53633362f9bf9691f90803a63d7136cff154e0b707a39e0477ff97af2",
                       "git_blob": "684036b77b137bbbe1be3d15a56e8a56b62fca9a"},
    "null_text_w_ptp.ipynb": {"code_cells_sha256": "710dfe890fc00876f557f1d24471d42b06e574c145d4848ab1d0d280bd467de7",
                              "git_blob": "e67d9bfa187730e5675e3f8b2206528035c96a04"},
}
VOCAB = pathlib.Path("/work/shared/data/clip-vocab")
ROOT = pathlib.Path(__file__).resolve().parent.parent


def arguments(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--ptp", default=os.environ.get("PTP_DIR"),
                    help="a checkout of google/prompt-to-prompt at %s (default: $PTP_DIR)" % COMMIT[:12])
    ap.add_argument("--vocab", default=str(VOCAB), help="folder with CLIP's vocab.json and merges.txt")
    args = ap.parse_args()
    if not args.ptp:
        sys.exit("set PTP_DIR (or --ptp) to a checkout of %s at %s" % (REPOSITORY, COMMIT))
    args.ptp = pathlib.Path(args.ptp).resolve()
    args.vocab = pathlib.Path(args.vocab)
    return args


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def git_blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def code_cells(notebook: pathlib.Path):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def code_cells_text(notebook: pathlib.Path) -> str:
    return "\n# ---- next code cell ----\n".join(code_cells(notebook))


def verify(root: pathlib.Path) -> dict:
    """Refuses to go on unless the checkout's code is the recorded code; returns what was checked (for the fixtures)."""
    problems, notes = [], []
    for name, want in FILES.items():
        path = root / name
        if not path.is_file():
            problems.append(f"{path} is missing")
            continue
        data = path.read_bytes()
        if "sha256" in want and sha256(data) != want["sha256"]:
            problems.append(f"{name}: sha256 {sha256(data)}, recorded {want['sha256']}")
        if "code_cells_sha256" in want:
            got = sha256(code_cells_text(path).encode("utf-8"))
            if got != want["code_cells_sha256"]:
                problems.append(f"{name}: code cells' sha256 {got}, recorded {want['code_cells_sha256']}")
            if git_blob(data) != want["git_blob"]:
                notes.append(f"{name}: the file is not upstream's blob {want['git_blob'][:12]} (outputs or metadata "
                             f"differ); its code cells are the recorded ones")
    if problems:
        sys.exit("the prompt-to-prompt code at %s is not the recorded reference (%s at %s):\n  %s\n"
                 "Regenerating from other code changes what the fixtures mean: update FILES in %s only after "
                 "reviewing the differences." % (root, REPOSITORY, COMMIT[:12], "\n  ".join(problems), __file__))
    for n in notes:
        print("note:", n)
    head = None
    if (root / ".git").exists():
        try:
            head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            pass
    if head and head != COMMIT:
        print(f"note: the checkout is at {head[:12]}, not {COMMIT[:12]}; the files used are the recorded ones")
    return provenance()


def provenance() -> dict:
    """What the fixtures record of the reference."""
    return {"repository": REPOSITORY, "commit": COMMIT, "files": FILES,
            "loaded_by": "scripts/ptp_reference.py"}


def metadata(**settings) -> dict:
    """safetensors metadata: one key, so that the file's header (and so the file) is the same at every run."""
    return {"provenance": json.dumps({"reference": provenance(), **settings}, sort_keys=True)}


def _stand_in(name, why):
    module = types.ModuleType(name)

    def missing(attr):
        raise AttributeError(f"{name}.{attr}: {name} is a stand-in ({why}); the fixture scripts never display images")
    module.__getattr__ = missing
    return module


def _import_glue():
    """cv2 and IPython.display serve only ptp_utils' display helpers; stand-ins where they are not installed."""
    import importlib.util
    if "cv2" not in sys.modules and importlib.util.find_spec("cv2") is None:
        sys.modules["cv2"] = _stand_in("cv2", "opencv is not installed")
    if "IPython" not in sys.modules and importlib.util.find_spec("IPython") is None:
        ipython = _stand_in("IPython", "IPython is not installed")
        display = types.ModuleType("IPython.display")
        def no_display(*args, **kwargs):
            raise RuntimeError("IPython.display is a stand-in (IPython is not installed)")
        display.display = no_display
        ipython.display = display
        sys.modules["IPython"], sys.modules["IPython.display"] = ipython, display


def tokenizer(vocab: pathlib.Path):
    from transformers import CLIPTokenizer
    return CLIPTokenizer(str(vocab / "vocab.json"), str(vocab / "merges.txt"))


def modules(root: pathlib.Path):
    """The reference's ptp_utils and seq_aligner modules, imported from the checkout."""
    _import_glue()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import ptp_utils
    import seq_aligner
    for m in (ptp_utils, seq_aligner):
        if pathlib.Path(m.__file__).resolve().parent != root:
            sys.exit(f"{m.__name__} was imported from {m.__file__}, not from {root}")
    return ptp_utils, seq_aligner


def notebook(root: pathlib.Path, tok, **overrides):
    """A namespace holding null_text_w_ptp.ipynb's imports, classes and functions (nothing else of it is run), with its
    settings as the notebook sets them, then `overrides` (printed) and the glue globals described above."""
    modules(root)
    import torch
    from tqdm import tqdm as console_tqdm
    ns = {"__name__": "null_text_w_ptp"}
    settings = {}
    for source in code_cells(root / "null_text_w_ptp.ipynb"):
        tree = ast.parse(source)
        keep = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom, ast.ClassDef, ast.FunctionDef))]
        if any(isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "MAX_NUM_WORDS" for t in n.targets)
               for n in tree.body):
            for n in tree.body:  # the settings cell: its literal settings (not the model it downloads)
                if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
                    try:
                        settings[n.targets[0].id] = ast.literal_eval(n.value)
                    except ValueError:
                        pass
        exec(compile(ast.Module(body=keep, type_ignores=[]), "null_text_w_ptp.ipynb", "exec"), ns)
    ns.update(settings)
    for key, value in overrides.items():
        print(f"notebook setting {key} = {value!r} (the notebook has {settings.get(key, '(unset)')!r})")
        ns[key] = value
    ns["tokenizer"] = tok
    ns["device"] = torch.device("cpu")
    ns["tqdm"] = functools.partial(console_tqdm, disable=True)
    return ns
