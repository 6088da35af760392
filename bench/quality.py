"""How well every mode paints: one table over a fixed set of real cases.

Usage:
    python3 bench/quality.py [--cases NAME,NAME|GROUP] [--scale 0.5] [--out DIR]
                             [--set field=value ...] [--json FILE] [--weights NAME|PATH]

Paints each case in one process (the extractor and the compiled programs are shared),
with doodle's defaults, the built-in extractor (``--weights`` names another) and
``--random-seed 1``, then scores it:

- doodle → painting (``coastline``, ``landscape``: the reference's inputs when
  ../shared is present; ``meadow``, ``seascape``, ``still_life``: each pack's sample doodle)
  and semantic transfer (``coffee-semantic``: samples/coffee.jpg with its map in the
  still_life pack's style);
- texture synthesis (``texture-<style>-dark`` / ``-light``: noise seeds in 0:128 and
  128:255) from Renoir and from each pack's image;
- plain transfer (``plain-<style>``) of samples/coffee.jpg with Monet and each pack;
- ``by-numbers``: four procedural textures (two of them sharing one palette) painted
  onto a rearranged map; its *label accuracy* is the share of output 5×5 patches inside
  a region whose nearest style patch (in RGB, searched over the whole style, no labels)
  lies in the region of the same label.

Scores follow the definitions of ../shared/tools/region_match.py and content_keep.py
(run as they are, one process per painting, so the numbers are theirs): per region the
sliced-Wasserstein colour distance to the style's pixels of that region (worst region
and doodle-area mean), the alien-colour fraction, the 5×5 patch fidelity and the style's
coverage; with a content photo, luma and edge correlation with it. Texture and plain
transfer are scored with one-colour maps (the whole painting against the whole style).
Numbers only: a benchmark never passes or fails. Record what you quote in
bench/RESULTS.md with the date, machine and command.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from doodle.run import api  # noqa: E402
from doodle.io import imaging
from doodle.plan import packs
from doodle.plan.options import Options  # noqa: E402

SHARED = Path(os.environ.get("DOODLE_SHARED", ROOT.parent / "shared"))
REFERENCE = SHARED / "reference" / "neural-doodle"
TOOLS = SHARED / "tools"
SAMPLES = ROOT / "samples"
PACKS = ("meadow", "seascape", "still_life")


class Case(NamedTuple):
    name: str
    kind: str  # "doodle", "semantic", "texture", "plain", "by-numbers"
    style: Path
    style_map: Optional[Path]  # None: scored with a one-colour map
    doodle: Optional[Path] = None
    content: Optional[Path] = None
    size: Optional[tuple[int, int]] = None  # (width, height) for texture synthesis
    seed_range: Optional[tuple[float, float]] = None


def _pack(name: str) -> tuple[Path, Path]:
    p = packs.find_pack(name, ROOT / "styles")
    return p.image, p.map


def cases(workdir: Path) -> list[Case]:
    out = []
    if REFERENCE.exists():
        out += [Case("coastline", "doodle", REFERENCE / "Monet.jpg", REFERENCE / "Monet_sem.png",
                     REFERENCE / "Coastline_sem.png"),
                Case("landscape", "doodle", REFERENCE / "Renoir.jpg", REFERENCE / "Renoir_sem.png",
                     REFERENCE / "Landscape_sem.png")]
    for name in PACKS:
        out.append(Case(name, "doodle", *_pack(name), SAMPLES / f"{name}_doodle_sem.png"))
    out.append(Case("coffee-semantic", "semantic", *_pack("still_life"), SAMPLES / "coffee_sem.png",
                    SAMPLES / "coffee.jpg"))
    textures = ([("renoir", REFERENCE / "Renoir.jpg", (512, 384))] if REFERENCE.exists() else [])
    textures += [(name, _pack(name)[0], None) for name in PACKS]
    for name, style, size in textures:
        for tone, rng in (("dark", (0.0, 128.0)), ("light", (128.0, 255.0))):
            out.append(Case(f"texture-{name}-{tone}", "texture", style, None, size=size, seed_range=rng))
    plains = ([("monet", REFERENCE / "Monet.jpg")] if REFERENCE.exists() else [])
    plains += [(name, _pack(name)[0]) for name in PACKS]
    for name, style in plains:
        out.append(Case(f"plain-{name}", "plain", style, None, content=SAMPLES / "coffee.jpg"))
    out.append(Case("by-numbers", "by-numbers", *by_numbers(workdir)))
    return out


# --- the texture-by-numbers case ------------------------------------------------------

BY_NUMBERS_COLOURS = ((230, 60, 60), (60, 60, 230), (60, 200, 60), (230, 200, 40))


def by_numbers(folder: Path, size: int = 192) -> tuple[Path, Path, Path]:
    """Write a four-texture style, its map and a rearranged doodle into ``folder``.

    Quadrants: warm horizontal stripes and warm dots (the same two colours), cool
    diagonal waves, green blotches. The doodle puts the four labels in vertical
    bands, so position says nothing about which texture goes where.
    """
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    warm_a, warm_b = np.array([200, 80, 40], np.float32), np.array([250, 210, 120], np.float32)
    stripes = np.where((y // 4) % 2 == 0, 1.0, 0.0)[..., None]
    dots = (((y % 8) - 3.5) ** 2 + ((x % 8) - 3.5) ** 2 < 6).astype(np.float32)[..., None]
    waves = (0.5 + 0.5 * np.sin((x + y) * 0.45))[..., None]
    blobs = np.clip(rng.normal(0.5, 0.25, (size // 6 + 1, size // 6 + 1)), 0, 1)
    blobs = np.kron(blobs, np.ones((6, 6)))[:size, :size, None]
    textures = [
        warm_a + stripes * (warm_b - warm_a),
        warm_a + dots * (warm_b - warm_a),
        np.array([30, 60, 140], np.float32) + waves * np.array([60, 120, 100], np.float32),
        np.array([40, 110, 30], np.float32) + blobs * np.array([90, 120, 40], np.float32),
    ]
    half = size // 2
    quadrant = (y >= half).astype(int) * 2 + (x >= half).astype(int)
    style = np.zeros((size, size, 3), np.float32)
    sem = np.zeros((size, size, 3), np.uint8)
    for k in range(4):
        style[quadrant == k] = textures[k][quadrant == k]
        sem[quadrant == k] = BY_NUMBERS_COLOURS[k]
    style = np.clip(style + rng.normal(0, 6, style.shape), 0, 255).astype(np.uint8)
    doodle = np.zeros((size * 3 // 4, size, 3), np.uint8)
    band = (np.arange(size) * 4 // size)[None, :].repeat(doodle.shape[0], 0)
    order = (3, 1, 0, 2)
    for i, k in enumerate(order):
        doodle[band == i] = BY_NUMBERS_COLOURS[k]
    paths = folder / "numbers.png", folder / "numbers_sem.png", folder / "numbers_doodle_sem.png"
    for p, a in zip(paths, (style, sem, doodle)):
        imaging.write_image(p, a)
    return paths


def label_accuracy(style: np.ndarray, style_lab: np.ndarray, out: np.ndarray, out_lab: np.ndarray,
                   k: int = 5, stride: int = 2) -> float:
    """Share of output k×k patches (wholly inside one label) whose nearest style patch
    (RGB, whole style, every position) has the same label at its centre."""
    def grid(img, lab, step):
        r = k // 2
        h, w = lab.shape
        ys, xs = np.mgrid[r:h - r:step, r:w - r:step]
        ys, xs = ys.ravel(), xs.ravel()
        off = np.arange(-r, r + 1)
        pl = lab[ys[:, None, None] + off[None, :, None], xs[:, None, None] + off[None, None, :]]
        p = img[ys[:, None, None] + off[None, :, None], xs[:, None, None] + off[None, None, :]]
        return p.reshape(len(ys), -1).astype(np.float32), lab[ys, xs], (pl == lab[ys, xs][:, None, None]).all((1, 2))

    sp, sl, _ = grid(style, style_lab, 1)
    op, ol, inside = grid(out, out_lab, stride)
    op, ol = op[inside], ol[inside]
    s2 = (sp ** 2).sum(1)
    hits = 0
    for i in range(0, len(op), 512):
        o = op[i:i + 512]
        nearest = (s2[None] - 2 * o @ sp.T).argmin(1)
        hits += int((sl[nearest] == ol[i:i + 512]).sum())
    return hits / max(len(op), 1)


def _labels(sem: np.ndarray) -> np.ndarray:
    d = ((sem[..., None, :].astype(np.int32) - np.asarray(BY_NUMBERS_COLOURS)) ** 2).sum(-1)
    return d.argmin(-1)


# --- painting and scoring -----------------------------------------------------------------

def paint(case: Case, options: Options, scale: float, out: Path, extractor) -> float:
    """Paint one case into ``out``; returns wall seconds."""
    size = case.size
    if size is None and scale != 1.0:
        ref = case.doodle or case.content or case.style
        w, h = imaging.read_image(ref).shape[1::-1]
        size = (round(w * scale), round(h * scale))
    elif size is not None:
        size = (round(size[0] * scale), round(size[1] * scale))
    opts = options.replace(random_seed=1, output_size=size or options.painting.output_size)
    if case.seed_range:
        opts = opts.replace(seed_range=case.seed_range)
    kw = {}
    if case.kind in ("texture", "plain"):
        opts = opts.replace(semantic_weight=0.0)
    else:
        kw["style_map"] = str(case.style_map)
        kw["map"] = str(case.doodle)
    t = time.perf_counter()
    image = api.paint(str(case.style), content=str(case.content) if case.content else None, options=opts,
                      extractor=extractor, **kw)
    seconds = time.perf_counter() - t
    imaging.write_image(out, image)
    return seconds


def _tool(name: str, *args) -> dict:
    res = subprocess.run([sys.executable, str(TOOLS / name), *map(str, args)], capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f"{name} failed: {res.stderr.strip()[-300:]}")
    return json.loads(res.stdout)


def score(case: Case, out: Path, workdir: Path) -> dict:
    """The case's figures: region_match's (and content_keep's with a photo)."""
    style_map, doodle = case.style_map, case.doodle
    if style_map is None:  # one-colour maps: the whole painting against the whole style
        style_map, doodle = workdir / f"{case.name}_flat_style.png", workdir / f"{case.name}_flat_out.png"
        for path, ref in ((style_map, case.style), (doodle, out)):
            h, w = imaging.read_image(ref).shape[:2]
            imaging.write_image(path, np.full((h, w, 3), 128, np.uint8))
    result = {}
    if case.kind == "by-numbers":
        s, sm = imaging.read_image(case.style), imaging.read_image(case.style_map)
        o = imaging.read_image(out)
        om = api.resize_map(imaging.read_image(case.doodle), o.shape[:2])
        result["label_accuracy"] = label_accuracy(s, _labels(sm), o, _labels(om))
    if TOOLS.exists():
        rm = _tool("region_match.py", case.style, style_map, doodle, out)
        per = rm["per_label"]
        result.update(colour=rm["colour_sw"], worst=max(v["colour_sw"] for v in per.values()),
                      alien=rm["alien"], patch=rm["patch"], coverage=rm["coverage"],
                      flat_colour=rm["flat"]["colour_sw"], per_label=per)
        if case.content is not None:
            result.update(_tool("content_keep.py", case.content, out))
    return result


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="all",
                    help="comma-separated case names or groups (doodle, semantic, texture, plain, by-numbers, all)")
    ap.add_argument("--scale", type=float, default=1.0, help="output size factor (quick looks; report at 1)")
    ap.add_argument("--out", default=None, help="folder for the paintings (default: a temporary one)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override an Options field (JSON value), e.g. --set style_weight=50")
    ap.add_argument("--json", default=None, help="also write the results as JSON here")
    ap.add_argument("--weights", default="builtin",
                    help="the extractor: builtin (default), a source name or a weights file")
    args = ap.parse_args(argv)

    from doodle import weights

    out_dir = Path(args.out or tempfile.mkdtemp(prefix="doodle-quality-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
        if isinstance(overrides[key], list):
            overrides[key] = tuple(overrides[key])
    options = Options.of(weights=args.weights).replace(**overrides)
    extractor = weights.resolve(args.weights)
    wanted = set(args.cases.split(","))
    todo = [c for c in cases(out_dir) if "all" in wanted or c.name in wanted or c.kind in wanted]
    print(f"paintings in {out_dir}; options changed from the defaults: {overrides or 'none'}", flush=True)
    head = (f"{'case':<22} {'worst':>6} {'colour':>6} {'cover':>6} {'patch':>6} {'alien%':>6} "
            f"{'edge':>5} {'luma':>5} {'acc':>6} {'secs':>6}")
    print(head, flush=True)
    rows = []
    for case in todo:
        out = out_dir / f"{case.name}.png"
        seconds = paint(case, options, args.scale, out, extractor)
        r = score(case, out, out_dir)
        r.update(case=case.name, kind=case.kind, seconds=round(seconds, 1))
        rows.append(r)

        def f(key, fmt="6.1f"):
            v = r.get(key)
            return format(v, fmt) if v is not None else " " * int(fmt.split(".")[0])

        alien = format(100 * r["alien"], "6.2f") if "alien" in r else " " * 6
        print(f"{case.name:<22} {f('worst')} {f('colour')} {f('coverage')} {f('patch')} {alien} "
              f"{f('edge_corr', '5.2f')} {f('luma_corr', '5.2f')} {f('label_accuracy', '6.3f')} {seconds:6.1f}",
              flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
