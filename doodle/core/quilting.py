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
nearest to the painting's (a pooled search over the whole style), and the best few are
tried again shifted by a few pixels, so a texture can carry on in the phase of the
blocks beside it; a block of the style that was already copied costs more (Guided
Correspondence's occurrence penalty, Zhou et al. 2023), so the painting draws on the
style's whole variety instead of re-copying its favourite blocks. With maps, a block
lying across a border that the style never drew (two regions side by side that do not
meet in the style) is drawn again region by region (:func:`_mend`).
"""
from __future__ import annotations

import functools
import math
from typing import Optional, Sequence

import jax
import numpy as np

from doodle.core.labels import MAX_FLAT_COLOURS, codes

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
# rock border too (deep blue, in visible rectangles): bench/RESULTS.md, 2026-12-01 (quilting).
MAP_WEIGHT = 1.0
MAX_REGIONS = MAX_FLAT_COLOURS
# The blocks already placed weigh twice the guide, per pixel of the overlap: where
# they disagree (the painting's stripes in one phase, the neighbour's in another), the
# texture carries on rather than break at the seam (E&F's alpha weighs them likewise).
OVERLAP_WEIGHT = 2.0
REFINE = 4  # the best candidates tried again shifted
SHIFT = 4  # by up to this many pixels (even steps, as the grid)


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
    step = _step(b)
    o = b - step
    use_maps = map_weight > 0 and painting_map is not None and style_maps is not None
    guide = _with_map(painting, painting_map, map_weight) if use_maps else painting
    cands = _Candidates([_with_map(s, m, map_weight) for s, m in zip(styles, style_maps)] if use_maps else styles, b)
    grid = _Grid(painting.shape[:2], b, step)
    target = grid.pad(guide)
    near = cands.nearest(_pooled_blocks(target, grid.ys, grid.xs, b, cands.pool), CANDIDATES)
    labels = _labels(painting_map, target.shape[:2]) if use_maps else None
    parts = _region_candidates(target, labels, grid, cands) if labels is not None else {}
    rng = np.random.default_rng(int(jax.random.randint(key, (), 0, 2**31 - 1)))
    canvas = np.zeros(grid.padded + (guide.shape[2],), np.float32)
    for j, (y, x) in enumerate(zip(grid.ys, grid.xs)):
        win = np.s_[y:y + b, x:x + b]
        here = canvas[win]

        guide_here, placed_here = target[win].transpose(2, 0, 1), here.transpose(2, 0, 1)  # (C, b, b)
        costs = functools.partial(_block_costs, cands, guide_here, placed_here, x > 0, y > 0, o)
        pick = _choose(cands.where(near[j]), costs, cands, rng)
        new = cands.block(pick)
        keep_new = _seams(here, new, x > 0, y > 0, o)
        canvas[win] = np.where(keep_new[..., None], new, here)
        cands.use(pick)
        if labels is not None:
            _mend(canvas, keep_new, target, labels, win, parts.get(j, {}), near[j], cands, rng)
    return _kept(canvas[:painting.shape[0], :painting.shape[1]], painting, guide if use_maps else None)


def _kept(out: np.ndarray, painting: np.ndarray, guide: Optional[np.ndarray]) -> np.ndarray:
    """The quilted (H, W, 3) pixels. With maps (``guide`` holding the map channels):
    where no block of the style fits, the copied pixel still belongs to another
    region of the style, and the painting's own pixel stays there."""
    if guide is not None:
        stray = np.any(out[..., 3:] != guide[..., 3:], axis=-1)
        return np.where(stray[..., None], painting, out[..., :3])
    return out[..., :3]


def _step(b: int) -> int:
    """The grid's step for blocks of side ``b``: overlapping by about b / OVERLAP_FRACTION,
    even, as the candidates' grid."""
    step = max(2, b - max(1, b // OVERLAP_FRACTION))
    return step - step % 2


def _block_costs(cands: "_Candidates", guide_here: np.ndarray, placed_here: np.ndarray, left: bool, top: bool,
                 o: int, at: np.ndarray) -> np.ndarray:
    """(K,) cost of each candidate block ``at`` (K, 3) at one grid position: its mean
    squared difference from the guide there ((C, b, b)), plus OVERLAP_WEIGHT times that
    from what the blocks placed already hold in the ``o``-wide overlap on the ``left``
    and ``top``, plus USAGE times how much of it was copied already."""
    b = guide_here.shape[-1]
    blocks = cands.blocks(at)  # (K, C, b, b)
    # Sums of squared differences as |a|² - 2 a·b + |b|²: one pass over the blocks.
    cost = (cands.energy(at) - 2 * blocks.reshape(len(at), -1) @ guide_here.ravel()
            + np.vdot(guide_here, guide_here)) / (b * b)
    overlap, area = np.zeros(len(at), np.float32), 0
    if left:
        overlap += _distances(blocks[..., :o], placed_here[..., :o])
        area += b * o
    if top:
        overlap += _distances(blocks[..., :o, :], placed_here[:, :o, :])
        area += b * o
    if area:
        cost += OVERLAP_WEIGHT * overlap / area
    return cost + USAGE * cands.usage(at)


def _seams(here: np.ndarray, new: np.ndarray, left: bool, top: bool, o: int) -> np.ndarray:
    """(b, b) bool: where the new block replaces what is placed, cut along the
    least-error seams (:func:`min_cut`) through the overlaps on the ``left`` and ``top``."""
    b = new.shape[0]
    keep_new = np.ones((b, b), bool)
    if left:
        cut = min_cut(((here[:, :o] - new[:, :o]) ** 2).sum(-1))
        keep_new[:, :o] &= np.arange(o)[None, :] >= cut[:, None]
    if top:
        cut = min_cut(((here[:o, :] - new[:o, :]) ** 2).sum(-1).T)
        keep_new[:o, :] &= np.arange(o)[:, None] >= cut[None, :]
    return keep_new


def _labels(painting_map: np.ndarray, hw: tuple[int, int]) -> Optional[np.ndarray]:
    """(H, W, 3) map -> (h, w) int64, one number per colour, padded to ``hw`` as the
    guide is; None when the map has more than MAX_REGIONS colours (not flat regions:
    then no block is mended region by region)."""
    packed = codes(np.asarray(painting_map)[..., :3].round())
    if len(np.unique(packed)) > MAX_REGIONS:
        return None
    return np.pad(packed, ((0, hw[0] - packed.shape[0]), (0, hw[1] - packed.shape[1])), mode="edge")


def _choose(at: np.ndarray, costs, cands: "_Candidates", rng: np.random.Generator) -> np.ndarray:
    """The block to copy, (style, y, x), among the candidates ``at`` (K, 3) and the
    best few of them shifted, by ``costs`` (positions -> (K,) costs): any within
    TOLERANCE of the cheapest (Efros & Freeman's variety).

    The candidates were found by the guide alone; the blocks already placed beside
    this one may want the same texture a few pixels over (stripes in another phase),
    which the shifted ones offer.
    """
    cost = costs(at)
    if REFINE:
        more = cands.shifted(at[np.argsort(cost)[:REFINE]], at)
        if len(more):
            at, cost = np.concatenate([at, more]), np.concatenate([cost, costs(more)])
    return at[rng.choice(np.flatnonzero(cost <= cost.min() * (1 + TOLERANCE) + 1e-6))]


def _region_candidates(target: np.ndarray, labels: np.ndarray, grid: "_Grid", cands: "_Candidates") -> dict:
    """For each block of the grid that lies across regions of the target's map
    (``labels``, (H, W) int, one per colour), each region's nearest style blocks to its
    part of the block alone: {block: {label: (K,) candidate indices}}.

    The search compares pooled blocks over the region's cells only, each cell weighted
    by the region's share of it (a masked distance: two matrix products).
    """
    b, pool = cands.b, cands.pool
    cells = (b - pool) // pool + 1
    keys, weights, queries = [], [], []
    for j, (y, x) in enumerate(zip(grid.ys, grid.xs)):
        block, here = target[y:y + b, x:x + b], labels[y:y + b, x:x + b]
        if (here == here[0, 0]).all():
            continue
        for label in np.unique(here):
            w = (here == label).astype(np.float32)[..., None]
            w_cells = _cell_sums(w, pool, cells)
            q_cells = _cell_sums(block * w, pool, cells) / np.maximum(w_cells, 1e-6)
            w_cells = np.broadcast_to(w_cells, q_cells.shape)
            keys.append((j, int(label)))
            weights.append(w_cells.ravel()), queries.append((w_cells * q_cells).ravel())
    out: dict = {}
    if keys:
        near = cands.nearest_masked(np.stack(weights), np.stack(queries), CANDIDATES)
        for (j, label), c in zip(keys, near):
            out.setdefault(j, {})[label] = c
    return out


def _mend(canvas: np.ndarray, fresh: np.ndarray, target: np.ndarray, labels: np.ndarray, win, parts: dict,
          fallback: np.ndarray, cands: "_Candidates", rng: np.random.Generator) -> None:
    """Redraw, in place, the regions of the block just placed at ``win`` where it
    copied pixels of another region of the style than the target's map gives them:
    where the block lies across a border the style does not have (two regions side by
    side that never meet there in the style).

    In each such region, the block's stray pixels (those it brought, ``fresh``, (b, b)
    bool, whose copied map is another region's) are drawn again from the style block
    that best fits that region's part alone: the pixels placed before (so stripes
    carry on in phase), the guide at the block's own pixels, and the map (so the copy
    is of that region); only copied pixels of the right region are kept. The block's
    pixels that were of the right region stay: redrawing them too took more of each
    region from the few style blocks that fit its part of a border block, and moved
    its colours (the meadow's pond came out darker than the style's river:
    bench/RESULTS.md, 2026-12-02). This is done block by block, before the next
    is placed, so that the next one's overlap sees them. Not in Efros & Freeman, whose
    texture transfer has one texture: it is what lets each region's texture run up to
    a border that the style never drew.
    """
    sem = target[win][..., 3:]
    view = canvas[win]
    stray = fresh & np.any(view[..., 3:] != sem, axis=-1)
    for label in np.unique(labels[win][stray]):
        region = labels[win] == label
        guess = np.where((region & fresh)[..., None], target[win], view)
        # The pixels placed before weigh as a block's overlap does.
        weight = region * np.where(fresh, 1.0, OVERLAP_WEIGHT)

        guess_t = guess.transpose(2, 0, 1)

        def costs(at):
            blocks = cands.blocks(at)  # (K, C, b, b)
            error = (np.einsum("kcij,kcij->kij", blocks, blocks).reshape(len(at), -1) @ weight.ravel()
                     - 2 * blocks.reshape(len(at), -1) @ (guess_t * weight).ravel()
                     + np.vdot(guess_t * weight, guess_t))
            return error / region.sum() + USAGE * cands.usage(at)

        pick = _choose(cands.where(parts.get(int(label), fallback)), costs, cands, rng)
        new = cands.block(pick)
        take = stray & region & np.all(new[..., 3:] == sem, axis=-1)
        view[take] = new[take]
        cands.use(pick)


def _distances(blocks: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(K, C, h, w) blocks and a (C, h, w) reference -> (K,) sums of squared differences."""
    return np.einsum("kcij,kcij->k", blocks, blocks) - 2 * np.einsum("kcij,cij->k", blocks, ref) + np.vdot(ref, ref)


def _cell_sums(image: np.ndarray, pool: int, cells: int) -> np.ndarray:
    """(b, b, C) -> (cells, cells, C): sums over the pool × pool cells that
    :func:`_pooled_blocks` averages."""
    c = image[:cells * pool, :cells * pool]
    return c.reshape(cells, pool, cells, pool, -1).sum((1, 3))


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


def _box_sum(image: np.ndarray, f: int) -> np.ndarray:
    """(H, W) -> (H - f + 1, W - f + 1): the sum of each f × f window."""
    s = np.pad(image.astype(np.float64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    return s[f:, f:] - s[:-f, f:] - s[f:, :-f] + s[:-f, :-f]


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

    def pad(self, image: np.ndarray) -> np.ndarray:
        """(H, W, C) -> the padded size: edge pixels repeated, as the blocks compare it."""
        return np.pad(image, ((0, self.padded[0] - image.shape[0]), (0, self.padded[1] - image.shape[1]), (0, 0)),
                      mode="edge")


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
        self._vectors: Optional[np.ndarray] = None
        # Every b × b block of each source as a view, (Hs - b + 1, Ws - b + 1, C, b, b),
        # and each block's sum of squares (from an integral image).
        self.windows = [np.lib.stride_tricks.sliding_window_view(s, (b, b), axis=(0, 1)) for s in sources]
        self.energies = [_box_sum((s.astype(np.float64) ** 2).sum(-1), b) for s in sources]
        # How often each cell of each style was copied: the usage penalty's count.
        self.used = [np.zeros((s.shape[0] // self.cell + 2, s.shape[1] // self.cell + 2), np.float32)
                     for s in sources]

    def nearest(self, queries: np.ndarray, k: int) -> np.ndarray:
        """(N, P) pooled blocks -> (N, min(k, candidates)) indices of the nearest candidates."""
        vectors = self.pooled()
        k = min(k, len(vectors))
        norms = (vectors.astype(np.float64) ** 2).sum(1).astype(np.float32)
        out = np.empty((len(queries), k), np.int64)
        for start in range(0, len(queries), 256):  # bounded memory for large paintings
            q = queries[start:start + 256]
            d = norms[None, :] - 2 * q @ vectors.T
            out[start:start + 256] = np.argpartition(d, k - 1, axis=1)[:, :k] if k < len(vectors) else np.arange(k)
        return out

    def nearest_masked(self, weights: np.ndarray, weighted: np.ndarray, k: int) -> np.ndarray:
        """Like :meth:`nearest`, with each query's cells weighted: (N, P) weights w and
        (N, P) w × q -> (N, k) the candidates v with the smallest Σ w (q - v)²."""
        vectors = self.pooled()
        k = min(k, len(vectors))
        squares = vectors ** 2
        out = np.empty((len(weights), k), np.int64)
        for start in range(0, len(weights), 256):
            d = weights[start:start + 256] @ squares.T - 2 * weighted[start:start + 256] @ vectors.T
            out[start:start + 256] = np.argpartition(d, k - 1, axis=1)[:, :k] if k < len(vectors) else np.arange(k)
        return out

    def pooled(self) -> np.ndarray:
        """(candidates, P) every candidate's pooled block, as the searches compare them."""
        if self._vectors is None:
            self._vectors = np.concatenate([
                _pooled_blocks(s, self.ys[self.which == i], self.xs[self.which == i], self.b, self.pool)
                for i, s in enumerate(self.sources)])
        return self._vectors

    def where(self, idx: np.ndarray) -> np.ndarray:
        """(K,) candidate indices -> (K, 3) their (style, y, x)."""
        return np.stack([self.which[idx], self.ys[idx], self.xs[idx]], axis=1)

    def shifted(self, at: np.ndarray, known: np.ndarray) -> np.ndarray:
        """(T, 3) positions -> (M, 3): each moved by every even step of up to SHIFT
        pixels down and across, within its style and not already in ``known``."""
        steps = np.arange(-SHIFT, SHIFT + 1, 2)
        dy, dx = (a.ravel() for a in np.meshgrid(steps, steps, indexing="ij"))
        moved = np.stack([np.repeat(at[:, 0], len(dy)), (at[:, 1:2] + dy).ravel(), (at[:, 2:3] + dx).ravel()], 1)
        limits = np.array([[s.shape[0] - self.b, s.shape[1] - self.b] for s in self.sources])[moved[:, 0]]
        inside = np.all((moved[:, 1:] >= 0) & (moved[:, 1:] <= limits), axis=1)
        positions = np.unique(self._code(moved[inside]))
        positions = positions[~np.isin(positions, self._code(known))]
        return np.stack([positions >> 40, (positions >> 20) & 0xFFFFF, positions & 0xFFFFF], axis=1)

    @staticmethod
    def _code(at: np.ndarray) -> np.ndarray:
        """(K, 3) positions -> (K,) int64, one number each (sides under 2**20 px)."""
        at = at.astype(np.int64)
        return (at[:, 0] << 40) | (at[:, 1] << 20) | at[:, 2]

    def blocks(self, at: np.ndarray) -> np.ndarray:
        """(K, 3) positions -> (K, C, b, b) their pixels, channels first."""
        out = np.empty((len(at), self.sources[0].shape[2], self.b, self.b), np.float32)
        for k, windows in enumerate(self.windows):
            mine = at[:, 0] == k
            out[mine] = windows[at[mine, 1], at[mine, 2]]
        return out

    def energy(self, at: np.ndarray) -> np.ndarray:
        """(K, 3) positions -> (K,) each block's sum of squares."""
        out = np.empty(len(at), np.float64)
        for k, energy in enumerate(self.energies):
            mine = at[:, 0] == k
            out[mine] = energy[at[mine, 1], at[mine, 2]]
        return out

    def block(self, at: np.ndarray) -> np.ndarray:
        k, y, x = at
        return self.sources[k][y:y + self.b, x:x + self.b]

    def usage(self, at: np.ndarray) -> np.ndarray:
        """(K, 3) positions -> (K,) how many times, on average over its area, each was copied."""
        cells = np.arange(self.b // self.cell)
        out = np.empty(len(at), np.float32)
        for k, counts in enumerate(self.used):
            mine = at[:, 0] == k
            cy = (at[mine, 1] // self.cell)[:, None, None] + cells[None, :, None]
            cx = (at[mine, 2] // self.cell)[:, None, None] + cells[None, None, :]
            out[mine] = counts[cy, cx].mean((1, 2))
        return out

    def use(self, at: np.ndarray) -> None:
        """Count the block at (style, y, x) ``at`` as copied once more."""
        n = self.b // self.cell
        k, y, x = at
        cy, cx = y // self.cell, x // self.cell
        self.used[k][cy:cy + n, cx:cx + n] += 1.0
