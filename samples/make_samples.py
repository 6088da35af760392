#!/usr/bin/env python3
"""Build the sample doodles and the content-photo example in this folder.

* ``<pack>_doodle_sem.png`` for each pack in ../styles: a new layout drawn in that
  pack's legend colours (flat, no anti-aliasing), ready for ``doodle --style <pack>``.
* ``coffee.jpg`` + ``coffee_sem.png``: a photo to repaint with the ``still_life`` pack.
  The photo is scikit-image's ``coffee.png`` (CC0, see README.md), read straight from
  an installed scikit-image's data folder (the package is not imported). The map is
  drawn here from ellipses placed by eye on the photo.

Build-time tool, not part of the package. Deterministic; run from anywhere:

    pip install scikit-image   # only for coffee.jpg; the doodles need nothing
    python3 samples/make_samples.py
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "styles"))

from make_packs import (  # noqa: E402  (the styles folder is a script folder, not a package)
    CROCKERY,
    DRINK,
    FRUIT,
    GRASS,
    HILLS,
    ROCKS,
    SAND,
    SKY,
    TABLE,
    TREES,
    WALL,
    WATER,
    ellipse,
    exclusive,
    noise_1d,
    rgb,
    wobble,
)

DOODLE_SIZE = (320, 240)  # (w, h)


def flat(layers: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """[(colour, mask)], later on top, first one full -> (h, w, 3) uint8 map."""
    masks = exclusive([m for _, m in layers])
    h, w = masks[0].shape
    out = np.zeros((h, w, 3), dtype=np.uint8)
    for (colour, _), m in zip(layers, masks):
        out[m] = (rgb(colour) * 255 + 0.5).astype(np.uint8)
    if not np.any(out, axis=-1).all():
        raise ValueError("uncovered pixels")
    return out


def rotated_ellipse(h: int, w: int, cy: float, cx: float, ry: float, rx: float, degrees: float) -> np.ndarray:
    """(h, w) bool: inside an ellipse turned clockwise by ``degrees`` (y points down)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    t = np.deg2rad(degrees)
    u = (xx - cx) * np.cos(t) + (yy - cy) * np.sin(t)
    v = -(xx - cx) * np.sin(t) + (yy - cy) * np.cos(t)
    return (u / rx) ** 2 + (v / ry) ** 2 <= 1.0


def meadow_doodle(seed: int = 5) -> np.ndarray:
    """Lake in the foreground, hills on the left, a wood on the right, a low horizon."""
    w, h = DOODLE_SIZE
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    hill = h * (0.30 + 0.22 * (xx[0] / w) ** 1.5) + 6 * noise_1d(w, 30, rng)
    ground = h * 0.60 + 4 * noise_1d(w, 50, rng)
    lake = ellipse(h, w, h * 0.82, w * 0.42, h * 0.12, w * 0.30)
    wood = np.zeros((h, w), dtype=bool)
    for _ in range(9):
        cx = w * rng.uniform(0.62, 0.98)
        r = rng.uniform(12, 20)
        wood |= ellipse(h, w, ground[int(cx) % w] - r * rng.uniform(0.5, 1.4), cx, r * 1.15, r)
    wood = wobble(wood, rng, 2, 6) & (yy < ground[None] + 8)
    lone = ellipse(h, w, h * 0.53, w * 0.16, 14, 11) | ((np.abs(xx - w * 0.16) < 2) & (yy > h * 0.55) & (yy < h * 0.64))
    return flat(
        [
            (SKY, np.ones((h, w), bool)),
            (HILLS, yy >= hill[None]),
            (GRASS, yy >= ground[None]),
            (WATER, wobble(lake, rng, 2, 10)),
            (TREES, wood | lone),
        ]
    )


def seascape_doodle(seed: int = 6) -> np.ndarray:
    """Mirror of the pack: cliffs on the left, a cove with a beach on the right."""
    w, h = DOODLE_SIZE
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    horizon = h * 0.40
    cliff = (xx < w * (0.30 + 0.10 * (yy / h)) + 10 * noise_1d(h, 20, rng)[:, None]) & (
        yy > h * 0.18 + 0.25 * xx
    )
    beach = yy > h * (0.95 - 0.30 * (xx / w)) + 6 * noise_1d(w, 30, rng)[None]
    islet = ellipse(h, w, h * 0.47, w * 0.70, h * 0.05, w * 0.07) & (yy < h * 0.49)
    return flat(
        [
            (SKY, np.ones((h, w), bool)),
            (WATER, yy >= horizon),
            (SAND, beach),
            (ROCKS, wobble(cliff, rng, 2, 8) | islet),
        ]
    )


def still_life_doodle(seed: int = 7) -> np.ndarray:
    """A cup on the right, three apples on the left, a higher table edge."""
    w, h = DOODLE_SIZE
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    table = yy >= h * 0.36 + 3 * noise_1d(w, 80, rng)[None]
    cx = w * 0.66
    saucer = ellipse(h, w, h * 0.76, cx, h * 0.11, w * 0.22)
    body = (yy >= h * 0.42) & (yy <= h * 0.72) & (np.abs(xx - cx) <= w * 0.12)
    body |= ellipse(h, w, h * 0.72, cx, h * 0.04, w * 0.12)
    rim = ellipse(h, w, h * 0.42, cx, h * 0.055, w * 0.12)
    handle = ellipse(h, w, h * 0.56, cx - w * 0.13, h * 0.07, w * 0.05) & ~ellipse(
        h, w, h * 0.56, cx - w * 0.13, h * 0.04, w * 0.025
    )
    drink = ellipse(h, w, h * 0.425, cx, h * 0.04, w * 0.10)
    apples = np.zeros((h, w), dtype=bool)
    for ay, ax, r in ((0.70, 0.14, 0.085), (0.74, 0.33, 0.08), (0.55, 0.24, 0.075)):
        apples |= ellipse(h, w, h * ay, w * ax, h * r * 1.25, w * r)
    return flat(
        [
            (WALL, np.ones((h, w), bool)),
            (TABLE, table),
            (FRUIT, wobble(apples, rng, 1, 6)),
            (CROCKERY, saucer | body | rim | handle),
            (DRINK, drink),
        ]
    )


def coffee_photo() -> np.ndarray | None:
    """scikit-image's coffee.png (600×400, CC0) as (400, 600, 3) uint8, or None if absent."""
    spec = importlib.util.find_spec("skimage")  # finds the folder without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "coffee.png"
    return iio.imread(path)[..., :3] if path.is_file() else None


COFFEE_SIZE = (384, 256)  # the photo at 0.64×


def coffee_map() -> np.ndarray:
    """Map of coffee.jpg in the still_life legend, shapes placed on the 600×400 original."""
    w0, h0 = 600, 400
    yy, xx = np.mgrid[0:h0, 0:w0].astype(np.float64)
    wall = xx / 175.0 + yy / 108.0 < 1.0  # the dark corner behind the table, top left
    saucer = rotated_ellipse(h0, w0, 224, 278, 164, 204, -4)
    rim = ellipse(h0, w0, 113, 291, 96, 120)
    body = (yy >= 113) & (yy <= 262) & (xx >= 180 + (yy - 113) * 0.25) & (xx <= 408 - (yy - 113) * 0.30)
    body |= ellipse(h0, w0, 255, 294, 32, 72)
    handle = ellipse(h0, w0, 266, 228, 40, 33)
    stem = np.abs((xx - 412) - (yy - 70) * (-37 / 170)) < 7
    spoon = (stem & (yy > 66) & (yy < 250)) | rotated_ellipse(h0, w0, 282, 366, 44, 40, 20)
    drink = ellipse(h0, w0, 144, 288, 50, 84)
    big = flat(
        [
            (TABLE, np.ones((h0, w0), bool)),
            (WALL, wall),
            (CROCKERY, saucer | rim | body | handle | spoon),
            (DRINK, drink),
        ]
    )
    # Nearest-neighbour keeps the map flat: no in-between colours at the edges.
    return np.asarray(Image.fromarray(big).resize(COFFEE_SIZE, Image.NEAREST))


def main() -> None:
    for name, make in (
        ("meadow", meadow_doodle),
        ("seascape", seascape_doodle),
        ("still_life", still_life_doodle),
    ):
        iio.imwrite(HERE / f"{name}_doodle_sem.png", make(), optimize=True)
        print(f"wrote {name}_doodle_sem.png")
    iio.imwrite(HERE / "coffee_sem.png", coffee_map(), optimize=True)
    print("wrote coffee_sem.png")
    photo = coffee_photo()
    if photo is None:
        print("scikit-image not installed: kept the existing coffee.jpg")
        return
    small = np.asarray(Image.fromarray(photo).resize(COFFEE_SIZE, Image.LANCZOS))
    iio.imwrite(HERE / "coffee.jpg", small, quality=90)
    print("wrote coffee.jpg")


if __name__ == "__main__":
    main()
