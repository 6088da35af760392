"""Quilting: the finished painting redrawn in blocks of the style's own pixels.

The optimiser's paintings are made of network features turned back into pixels, and
they come out softer than the style: its finest, highest-contrast strokes (a rain
streak, an outline, a canvas's weave) are averaged away. Texture synthesis stands or
falls on those. This finish lays the painting out again in overlapping blocks copied
from the style (image quilting, Efros & Freeman 2001), each block chosen to look like
the painting where it goes (their "texture transfer") and to agree with the blocks
already placed, and joined along the minimum-error cut of the overlap. The painting
decides what goes where; the style supplies every pixel.

Departures from Efros & Freeman: the candidates for a block are the style blocks
nearest to the painting's (a pooled search over the whole style), and a block of the
style that was already copied costs more (Guided Correspondence's occurrence penalty,
Zhou et al. 2023), so the painting draws on the style's whole variety instead of
re-copying its favourite blocks.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import jax
import numpy as np

BLOCK = 32  # side of a copied block, in style pixels: a few strokes
OVERLAP_FRACTION = 3  # blocks overlap by BLOCK // 3: room for the cut to find a seam
POOLED = 8  # the candidate search compares blocks pooled to POOLED × POOLED
CANDIDATES = 128  # nearest style blocks per block, among which the overlap decides
# Style positions searched; a larger style is searched on a coarser grid. The grid's
# step is even, like the step between blocks, so a copied block keeps its pixels'
# parity (region_match.py samples patches on even rows and columns of both images:
# there a copy shifted by one pixel scores as a different patch; bench/RESULTS.md).
MAX_POSITIONS = 40000
TOLERANCE = 0.1  # any candidate within this fraction of the best may be taken (E&F's variety)
USAGE = 300.0  # cost of a style area already copied once, per pixel (squared 8-bit RGB units)
MIN_BLOCK = 8  # a style smaller than this on a side is not quilted
# With maps, each map channel (0-255) counts as much as a colour channel: a block lying
# across another region costs about as much as one of very different colours, so a
# region is drawn from its own part of the style where the style has such blocks, and
# from the best-looking ones where it has none (their stray pixels are then not kept).
# At 10 the Coastline's sky above the rocks took the style's few blocks that hold a
# rock border too (deep blue, in visible rectangles): bench/RESULTS.md, eighth session.
MAP_WEIGHT = 1.0


def quilt(
    painting: np.ndarray,
    styles: Sequence[np.ndarray],
    *,
    key: jax.Array,
    painting_map: Optional[np.ndarray] = None,
    style_maps: Optional[Sequence[np.ndarray]] = None,
    map_weight: float = MAP_WEIGHT,
    block: int = BLOCK,
) -> np.ndarray:
    """Redraw ``painting`` from the pixels of ``styles``.

    Args:
      painting: (H, W, 3) float32 in [0, 255], the guide.
      styles: (Hs, Ws, 3) images in [0, 255], at the scale the painting was made at;
        blocks are copied from any of them.
      key: PRNG key for the choice among near-equal candidates.
      painting_map, style_maps: (H, W, 3) and matching (Hs, Ws, 3) semantic maps, or
        None. With maps (and ``map_weight`` > 0) a block's map colours count in its
        choice, times ``map_weight``, so a region is drawn from its own part of the style.
      block: the block side; smaller when a style is smaller.

    Returns:
      (H, W, 3) float32 in [0, 255], every pixel a style pixel, except with maps where
      the copied pixel's region is not the painting's (the painting's pixel stays);
      ``painting`` unchanged (as float32) when a style is smaller than ``MIN_BLOCK``
      on a side.
    """
    painting = np.asarray(painting, np.float32)
    styles = [np.asarray(s, np.float32)[..., :3] for s in styles]
    side = min(min(s.shape[:2]) for s in styles)
    b = min(block, side)
    if b < MIN_BLOCK:
        return painting
    step = max(2, b - max(1, b // OVERLAP_FRACTION))
    step -= step % 2  # even, as the candidates' grid
    o = b - step
    use_maps = map_weight > 0 and painting_map is not None and style_maps is not None
    guide = _with_map(painting, painting_map, map_weight) if use_maps else painting
    sources = [_with_map(s, m, map_weight) for s, m in zip(styles, style_maps)] if use_maps else styles
    cands = _Candidates(sources, b)
    grid = _Grid(painting.shape[:2], b, step)
    # The guide padded to whole blocks (edge pixels repeated), as the blocks compare it.
    target = np.pad(guide, ((0, grid.padded[0] - guide.shape[0]), (0, grid.padded[1] - guide.shape[1]), (0, 0)),
                    mode="edge")
    near = cands.nearest(_pooled_blocks(target, grid.ys, grid.xs, b, cands.pool), CANDIDATES)
    rng = np.random.default_rng(int(jax.random.randint(key, (), 0, 2**31 - 1)))
    canvas = np.zeros(grid.padded + (guide.shape[2],), np.float32)
    for y, x, c in zip(grid.ys, grid.xs, near):
        blocks = cands.blocks(c)  # (K, b, b, C)
        cost = ((blocks - target[y:y + b, x:x + b]) ** 2).sum((1, 2, 3)) / (b * b)
        here = canvas[y:y + b, x:x + b]
        overlap, area = np.zeros(len(c), np.float32), 0
        if x > 0:
            overlap += ((blocks[:, :, :o] - here[:, :o]) ** 2).sum((1, 2, 3))
            area += b * o
        if y > 0:
            overlap += ((blocks[:, :o, :] - here[:o, :]) ** 2).sum((1, 2, 3))
            area += b * o
        if area:
            cost += overlap / area
        cost += USAGE * cands.usage(c)
        best = cost.min()
        pick = c[rng.choice(np.flatnonzero(cost <= best * (1 + TOLERANCE) + 1e-6))]
        new = cands.block(pick)
        keep_new = np.ones((b, b), bool)
        if x > 0:
            cut = min_cut(((here[:, :o] - new[:, :o]) ** 2).sum(-1))
            keep_new[:, :o] &= np.arange(o)[None, :] >= cut[:, None]
        if y > 0:
            cut = min_cut(((here[:o, :] - new[:o, :]) ** 2).sum(-1).T)
            keep_new[:o, :] &= np.arange(o)[:, None] >= cut[None, :]
        canvas[y:y + b, x:x + b] = np.where(keep_new[..., None], new, here)
        cands.use(pick)
    out = canvas[:painting.shape[0], :painting.shape[1]]
    if use_maps:
        # Where a block could not follow a region's border, the copied pixel belongs to
        # another region of the style: the painting's own pixel stays there.
        stray = np.any(out[..., 3:] != guide[..., 3:], axis=-1)
        return np.where(stray[..., None], painting, out[..., :3])
    return out[..., :3]


def min_cut(error: np.ndarray) -> np.ndarray:
    """The cheapest top-to-bottom path through ``error`` (R, O), moving at most one
    column a row: (R,) int, each row's column. Left of it the old block stays, from it
    on the new one (Efros & Freeman's minimum error boundary cut, by dynamic programming)."""
    rows, cols = error.shape
    total = np.array(error, np.float64)
    step = np.zeros((rows, cols), np.int64)
    inf = np.full(1, np.inf)
    for r in range(1, rows):
        prev = total[r - 1]
        options = np.stack([np.concatenate([inf, prev[:-1]]), prev, np.concatenate([prev[1:], inf])])
        k = options.argmin(0)
        total[r] += options[k, np.arange(cols)]
        step[r] = np.arange(cols) + k - 1
    path = np.zeros(rows, np.int64)
    path[-1] = total[-1].argmin()
    for r in range(rows - 1, 0, -1):
        path[r - 1] = step[r, path[r]]
    return path


def _with_map(image: np.ndarray, sem: Optional[np.ndarray], weight: float) -> np.ndarray:
    """(H, W, 3) image and map -> (H, W, 6): the map's colours, times ``weight``, as
    three more channels that every block comparison counts."""
    return np.concatenate([image, np.asarray(sem, np.float32)[..., :3] * np.float32(weight)], axis=-1)


def _box_mean(image: np.ndarray, f: int) -> np.ndarray:
    """(H, W, C) -> (H - f + 1, W - f + 1, C): the mean of each f × f window."""
    s = np.pad(image.astype(np.float64).cumsum(0).cumsum(1), ((1, 0), (1, 0), (0, 0)))
    return ((s[f:, f:] - s[:-f, f:] - s[f:, :-f] + s[:-f, :-f]) / (f * f)).astype(np.float32)


def _pooled_blocks(image: np.ndarray, ys: np.ndarray, xs: np.ndarray, b: int, pool: int) -> np.ndarray:
    """(N, P): the b × b blocks of ``image`` at corners (ys, xs), each averaged over
    pool × pool cells, what the candidate search compares."""
    means = _box_mean(image, pool)
    offsets = np.arange(0, b - pool + 1, pool)
    return means[ys[:, None, None] + offsets[None, :, None], xs[:, None, None] + offsets[None, None, :]].reshape(
        len(ys), -1)


class _Grid:
    """Where the blocks go: a raster of (y, x) corners, ``step`` apart, over the
    painting padded up to a whole number of steps."""

    def __init__(self, hw: tuple[int, int], b: int, step: int) -> None:
        o = b - step
        ny, nx = (max(1, math.ceil((n - o) / step)) for n in hw)
        self.padded = (ny * step + o, nx * step + o)
        ys, xs = np.meshgrid(np.arange(ny) * step, np.arange(nx) * step, indexing="ij")
        self.ys, self.xs = ys.ravel(), xs.ravel()  # (N,) each, row by row


class _Candidates:
    """Every style block a block may copy: (style, y, x) on a grid over each style."""

    def __init__(self, sources: Sequence[np.ndarray], b: int) -> None:
        self.sources, self.b = sources, b
        self.pool = max(1, b // POOLED)
        self.cell = max(1, b // 4)  # the usage map's resolution
        positions = sum((s.shape[0] - b + 1) * (s.shape[1] - b + 1) for s in sources)
        stride = 2 * max(1, math.ceil(math.sqrt(positions / MAX_POSITIONS) / 2))
        which, ys, xs = [], [], []
        for k, s in enumerate(sources):
            y, x = np.meshgrid(np.arange(0, s.shape[0] - b + 1, stride), np.arange(0, s.shape[1] - b + 1, stride),
                               indexing="ij")
            which.append(np.full(y.size, k)), ys.append(y.ravel()), xs.append(x.ravel())
        self.which, self.ys, self.xs = np.concatenate(which), np.concatenate(ys), np.concatenate(xs)
        self.offsets = np.arange(b)
        # How often each cell of each style was copied: the usage penalty's count.
        self.used = [np.zeros((s.shape[0] // self.cell + 2, s.shape[1] // self.cell + 2), np.float32)
                     for s in sources]

    def nearest(self, queries: np.ndarray, k: int) -> np.ndarray:
        """(N, P) pooled blocks -> (N, min(k, candidates)) indices of the nearest candidates."""
        vectors = np.concatenate([self._pooled(i) for i in range(len(self.sources))])
        k = min(k, len(vectors))
        norms = (vectors.astype(np.float64) ** 2).sum(1).astype(np.float32)
        out = np.empty((len(queries), k), np.int64)
        for start in range(0, len(queries), 256):  # bounded memory for large paintings
            q = queries[start:start + 256]
            d = norms[None, :] - 2 * q @ vectors.T
            out[start:start + 256] = np.argpartition(d, k - 1, axis=1)[:, :k] if k < len(vectors) else np.arange(k)
        return out

    def _pooled(self, i: int) -> np.ndarray:
        mine = self.which == i
        return _pooled_blocks(self.sources[i], self.ys[mine], self.xs[mine], self.b, self.pool)

    def blocks(self, idx: np.ndarray) -> np.ndarray:
        """(K,) candidate indices -> (K, b, b, C) their pixels."""
        out = np.empty((len(idx), self.b, self.b, self.sources[0].shape[2]), np.float32)
        for k, source in enumerate(self.sources):
            mine = self.which[idx] == k
            ys = self.ys[idx[mine]][:, None, None] + self.offsets[None, :, None]
            xs = self.xs[idx[mine]][:, None, None] + self.offsets[None, None, :]
            out[mine] = source[ys, xs]
        return out

    def block(self, i: int) -> np.ndarray:
        y, x = self.ys[i], self.xs[i]
        return self.sources[self.which[i]][y:y + self.b, x:x + self.b]

    def usage(self, idx: np.ndarray) -> np.ndarray:
        """(K,) how many times, on average over its area, each candidate was copied."""
        cells = np.arange(self.b // self.cell)
        out = np.empty(len(idx), np.float32)
        for k, counts in enumerate(self.used):
            mine = self.which[idx] == k
            cy = (self.ys[idx[mine]] // self.cell)[:, None, None] + cells[None, :, None]
            cx = (self.xs[idx[mine]] // self.cell)[:, None, None] + cells[None, None, :]
            out[mine] = counts[cy, cx].mean((1, 2))
        return out

    def use(self, i: int) -> None:
        """Count candidate ``i`` as copied once more."""
        n = self.b // self.cell
        cy, cx = self.ys[i] // self.cell, self.xs[i] // self.cell
        self.used[self.which[i]][cy:cy + n, cx:cx + n] += 1.0
