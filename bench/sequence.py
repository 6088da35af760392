"""Flicker and time of a doodle animation: independent frames vs the coherent mode.

Usage:
    python3 bench/sequence.py [--frames 24] [--size 256x192] [--iterations 100] [--phases 3]
                              [--modes independent,coherent,coherent-all] [--out /tmp/seq]

The doodles are made here: the seascape pack's map (styles/seascape) resized to
--size, with a boat (a hull and a cabin in the rocks' colour) crossing the sea from
left to right over --frames frames; sky, sand and rocks never move. Each mode paints
the sequence with :func:`doodle.run.sequence.paint_sequence` (built-in extractor, one
random seed for every frame):

- independent: every frame painted alone, from noise, all phases (the control);
- coherent: the default, each frame from the previous painting carried along the
  boat's shift, the finest phase only, with the temporal term;
- coherent-all: the same, but every phase (coarse ones too) for every frame.

Printed per mode: flicker (mean absolute difference between consecutive frames, 0-255
per channel, over the pixels whose map did not change), the boat's mean colour's
distance to the style's rocks region mean and to its sea region mean (the boat is
still painted as rocks when the first is the smaller), and seconds per frame (frame
0, then the mean of the others). Frames and a GIF per mode go to --out. Numbers only.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from doodle.io import imaging  # noqa: E402
from doodle.run import sequence
from doodle.run.api import resize_map  # noqa: E402
from doodle.io import animation  # noqa: E402
from doodle.core.extractor import builtin  # noqa: E402
from doodle.core.memo import StyleMemo  # noqa: E402
from doodle.plan.options import Options  # noqa: E402

PACK = Path(__file__).resolve().parent.parent / "styles" / "seascape"
ROCKS, SEA = (224, 64, 48), (0, 224, 208)


def boat_maps(n: int, hw: tuple[int, int]) -> list[np.ndarray]:
    """``n`` doodles of the seascape map at (h, w) with a rocks-coloured boat moving
    right through the sea band (rows 50-62 % of the height)."""
    h, w = hw
    scene = resize_map(imaging.read_image(PACK / "seascape_sem.png"), hw)
    out = []
    for k in range(n):
        m = scene.copy()
        x0 = int(0.05 * w + k * (0.4 * w) / max(n - 1, 1))
        top, bottom, length = int(0.53 * h), int(0.60 * h), int(0.16 * w)
        for y in range(top, bottom):  # a hull narrowing towards the keel
            inset = (y - top) * length // (6 * (bottom - top))
            m[y, x0 + inset:x0 + length - inset] = ROCKS
        m[int(0.49 * h):top, x0 + length // 3:x0 + 2 * length // 3] = ROCKS  # the cabin
        out.append(m)
    return out


def region_mean(image: np.ndarray, m: np.ndarray, colour) -> np.ndarray:
    return image[(m == colour).all(-1)].astype(np.float32).mean(0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--size", default="256x192")
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--phases", type=int, default=3)
    p.add_argument("--modes", default="independent,coherent,coherent-all")
    p.add_argument("--out", default="/tmp/doodle-sequence")
    args = p.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    maps = boat_maps(args.frames, (h, w))
    style = imaging.read_image(PACK / "seascape.jpg")
    style_map = imaging.read_image(PACK / "seascape_sem.png")
    rocks, sea = region_mean(style, style_map, ROCKS), region_mean(style, style_map, SEA)
    extractor = builtin()
    options = Options.of(iterations=args.iterations, phases=args.phases, random_seed=0, weights="builtin",
                         style_weight=25.0, semantic_weight=15.0)  # the pack's recommended options
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"{args.frames} frames {w}x{h}, {args.phases} phases x {args.iterations} evaluations, built-in extractor")
    for mode in args.modes.split(","):
        coherent = mode != "independent"
        refine = None if mode == "coherent-all" else 1
        memo = StyleMemo()
        images, seconds = [], []
        start = time.perf_counter()
        for frame in sequence.paint_sequence(style, maps, style_map=style_map, options=options, extractor=extractor,
                                             coherent=coherent, refine_phases=refine, memo=memo):
            seconds.append(time.perf_counter() - start)
            start = time.perf_counter()
            images.append(frame.image)
            imaging.write_image(out / f"{mode}_{frame.index:02d}.png", frame.image)
        (out / f"{mode}.gif").write_bytes(animation.encode(images, ".gif", [100] * len(images)))
        boat = np.mean([_boat(i, m) for i, m in zip(images, maps)], axis=0)
        rest = f"{np.mean(seconds[1:]):.1f}" if len(seconds) > 1 else "-"
        print(f"{mode:>13}: flicker {sequence.flicker(images, maps):6.2f}  boat to rocks "
              f"{np.linalg.norm(boat - rocks):5.1f}, to sea {np.linalg.norm(boat - sea):5.1f}  "
              f"s/frame: first {seconds[0]:.1f}, others {rest}  style passes {memo.misses}, reused {memo.hits}")


def _boat(image: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The boat's mean colour: rocks-coloured pixels in the sea band, left of the headland."""
    h, w = m.shape[:2]
    mask = (m == ROCKS).all(-1)
    mask[:int(0.45 * h)] = False
    mask[int(0.65 * h):] = False
    mask[:, int(0.64 * w):] = False
    return image[mask].astype(np.float32).mean(0)


if __name__ == "__main__":
    main()
