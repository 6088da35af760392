"""Overlapping tiles of a phase too large to paint at once: where they lie, how they join.

A phase whose image does not fit in memory is painted tile by tile, in raster order.
Each tile starts from the canvas as it stands (so its top and left overlaps already hold
its neighbours' paint) and is pasted back with a weight that rises from 0 at its edges
facing painted neighbours to 1 past the overlap. Its own border pixels, which the
network sees next to zero padding, so take the largest edge effects, are never what
the canvas keeps, and a patch match across the join sees the neighbour's paint rather
than noise. The weight is a product of one ramp per side, so a corner where four tiles
meet blends smoothly too.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


class Tile(NamedTuple):
    """One tile: rows ``y0:y1`` and columns ``x0:x1`` of the canvas, and its place in
    the grid (``row``, ``col``; the tiles before it in raster order are painted)."""

    y0: int
    y1: int
    x0: int
    x1: int
    row: int
    col: int

    @property
    def hw(self) -> tuple[int, int]:
        return self.y1 - self.y0, self.x1 - self.x0


def _spans(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """Equal spans of at most ``tile`` covering ``range(length)``, neighbours sharing at
    least ``overlap``."""
    if tile >= length:
        return [(0, length)]
    if overlap >= tile:
        raise ValueError(f"the overlap ({overlap}) must be smaller than the tile ({tile})")
    n = math.ceil((length - overlap) / (tile - overlap))
    size = math.ceil((length + (n - 1) * overlap) / n)  # the same size for all, <= tile
    starts = [round(i * (length - size) / (n - 1)) for i in range(n)]
    return [(s, s + size) for s in starts]


def layout(hw: tuple[int, int], tile: tuple[int, int], overlap: int) -> list[Tile]:
    """The tiles, in painting order, covering an (H, W) canvas.

    Args:
      hw: (H, W) of the canvas.
      tile: the largest (h, w) of one tile.
      overlap: the fewest rows/columns two neighbouring tiles share.
    """
    rows = _spans(hw[0], tile[0], overlap)
    cols = _spans(hw[1], tile[1], overlap)
    return [Tile(y0, y1, x0, x1, r, c) for r, (y0, y1) in enumerate(rows) for c, (x0, x1) in enumerate(cols)]


def _ramp(n: int, width: int, rising: bool) -> np.ndarray:
    """(n,) weights: 0→1 over the first ``width`` entries when ``rising``, else all 1."""
    w = np.ones(n, np.float32)
    if rising and width > 0:
        k = min(width, n)
        w[:k] = (np.arange(k, dtype=np.float32) + 0.5) / width
    return w


def weight(tiles: list[Tile], i: int) -> np.ndarray:
    """(h, w, 1) float32 in (0, 1]: how much of tile ``i`` the canvas takes when it is
    pasted, rising across its overlaps with the tiles painted before it."""
    t = tiles[i]
    above = [u for u in tiles[:i] if u.col == t.col and u.row == t.row - 1]
    left = [u for u in tiles[:i] if u.row == t.row and u.col == t.col - 1]
    over_y = above[0].y1 - t.y0 if above else 0
    over_x = left[0].x1 - t.x0 if left else 0
    h, w = t.hw
    return (_ramp(h, over_y, bool(above))[:, None] * _ramp(w, over_x, bool(left))[None, :])[..., None]


def crop(image: np.ndarray, t: Tile) -> np.ndarray:
    """The tile's part of an (H, W, ...) array."""
    return image[t.y0:t.y1, t.x0:t.x1]


def paste(canvas: np.ndarray, painted: np.ndarray, tiles: list[Tile], i: int) -> np.ndarray:
    """A new canvas with tile ``i``'s painting blended in.

    Args:
      canvas: (H, W, 3) float32.
      painted: (h, w, 3) float32, the tile's painting.
    """
    t = tiles[i]
    w = weight(tiles, i)
    out = np.array(canvas, np.float32, copy=True)
    out[t.y0:t.y1, t.x0:t.x1] = w * painted + (1.0 - w) * out[t.y0:t.y1, t.x0:t.x1]
    return out
