"""Neural patches: semantic augmentation, exact nearest-patch matching, folding.

A *patch* is the 3×3 neighbourhood of a feature pixel, over the layer's channels
concatenated with the semantic map downsampled to that layer (Champandard 2016,
§3). Only "valid" patches are used: a (H, W) layer has (H-2)·(W-2) of them, indexed
row-major by their top-left pixel.

Matching follows Li & Wand 2016 (eq. 3) with the reference's normalisation: every
*pixel* of a patch is normalised, features and map separately. For the image being
painted, features are divided by ``3·|f|`` and the map by ``sqrt(9/w)·|m|`` (``w`` the
semantic weight); style pixels are divided by their norms only. The score of a pair
is then ``Σ_pixels (f̂·ŝ)/3 + sqrt(w)/3 · (m̂·m̂s)``.

Because the normalisation is per pixel, the score of two 3×3 patches is the sum of
nine per-pixel dot products along a diagonal of the per-pixel Gram matrix
``A·Bᵀ``: one matmul of (HW × D) by (D × HsWs) plus nine shifted sums, about nine
times fewer FLOPs than correlating flattened 3×3·D patches. The style bank is
walked in slices of patch rows with a running argmax, so memory is bounded by the
slice size; a large output is walked in chunks of rows as well (:func:`blocks`).
Several styles share one bank (:func:`pool`): their layers stacked, with the patches
that straddle two of them masked out of the matching.
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

_EPS = 1e-8  # guards the norm of an all-zero pixel (dead ReLUs, black map pixels)


def pool_map(sem: jax.Array, factor: int) -> jax.Array:
    """Average-pool a semantic map to a layer's resolution.

    (H, W, K) float32 -> (H // factor, W // factor, K) float32: the reference's
    ``Pool2DLayer(map, 2**j, mode='average_exc_pad')``, which floors like VGG's pools.
    """
    if factor == 1:
        return sem
    h, w, k = sem.shape
    h2, w2 = h // factor, w // factor
    sem = sem[: h2 * factor, : w2 * factor]
    return sem.reshape(h2, factor, w2, factor, k).mean(axis=(1, 3))


def _unit(x: jax.Array) -> jax.Array:
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), _EPS)


def normalise_output(feats: jax.Array, sem: jax.Array | None, semantic_weight: float) -> jax.Array:
    """Per-pixel normalisation of the image being painted.

    (H, W, C) features and (H, W, K) map (or None) -> (H, W, C [+ K]) float32.
    """
    parts = [_unit(feats) / 3.0]
    if sem is not None and semantic_weight > 0:
        parts.append(_unit(sem) / math.sqrt(9.0 / semantic_weight))
    return jnp.concatenate(parts, axis=-1)


def normalise_style(feats: jax.Array, sem: jax.Array | None, semantic_weight: float) -> jax.Array:
    """Per-pixel normalisation of the style bank: (H, W, C [+ K]) float32, unit pixels."""
    parts = [_unit(feats)]
    if sem is not None and semantic_weight > 0:
        parts.append(_unit(sem))
    return jnp.concatenate(parts, axis=-1)


def wrap(layer: jax.Array) -> jax.Array:
    """An output layer padded circularly by one pixel, for a seamless tile.

    (H, W, C) -> (H + 2, W + 2, C). The valid 3×3 patches of the result are the H·W
    patches of the periodic layer, one centred on each pixel, those on the border
    wrapping around to the opposite side; :func:`match`, :func:`fold` and the MRF
    loss then work on it unchanged (the gradient flows back through the padding to
    both sides). Only the image being painted wraps: the style is not periodic.
    """
    return jnp.pad(layer, ((1, 1), (1, 1), (0, 0)), mode="wrap")


def patch_grid(height: int, width: int) -> tuple[int, int]:
    """Rows and columns of valid 3×3 patches in a (height, width) layer."""
    return height - 2, width - 2


class Bank(NamedTuple):
    """The style side of one layer, padded for slicing.

    Attributes:
      normed: (R·S + 2, Ws, D) float32, normalised pixels; rows past the style's
        last are zero and their patches are never chosen.
      rows: number of patch rows, Hs - 2.
      cols: number of patch columns, Ws - 2.
      slice_rows: patch rows scored per slice (R); S = ceil(rows / R) slices.
      valid: (rows·cols,) bool, which patches may be chosen; None: all of them. Set
        for a pooled bank of several styles (:func:`pool`), whose seams and width
        padding hold patches that belong to no style.
    """

    normed: jax.Array
    rows: int
    cols: int
    slice_rows: int
    valid: Optional[jax.Array] = None

    @property
    def size(self) -> int:
        return self.rows * self.cols

    @property
    def slices(self) -> int:
        return -(-self.rows // self.slice_rows)


class Pooled(NamedTuple):
    """Several styles' layers stacked into one array (see :func:`pool`).

    Attributes:
      array: (ΣHs_i, max Ws_i, C) float32, style i's layer in rows
        [ΣHs_<i, ΣHs_≤i), columns [0, Ws_i), zeros elsewhere.
      valid: (rows·cols,) bool over the stacked array's 3×3 patches (row-major,
        rows = ΣHs_i - 2, cols = max Ws_i - 2): True exactly for patches lying
        wholly inside one style; None when there is a single style.
    """

    array: jax.Array
    valid: Optional[np.ndarray]


def pool(layers: Sequence[jax.Array]) -> Pooled:
    """Stack the same layer of several styles vertically into one patch bank.

    (Hs_i, Ws_i, C) float32 each -> :class:`Pooled`. Narrower styles are padded with
    zero columns on the right. A 3×3 window that straddles the seam between two
    styles (or reaches into the padding) is a patch of no style, so it is marked
    invalid rather than separated by spacer rows: the valid patches of the stack are
    then exactly the styles' own patches, and :func:`fold` reads them from the stacked
    raw features with the same flat indices. A single layer is returned as it is
    (``valid`` None), so the one-style path is unchanged.
    """
    layers = [jnp.asarray(x) for x in layers]
    if len(layers) == 1:
        return Pooled(layers[0], None)
    width = max(x.shape[1] for x in layers)
    height = sum(x.shape[0] for x in layers)
    cols = width - 2
    valid = np.zeros((height - 2, cols), bool)
    top = 0
    for x in layers:
        hs, ws = x.shape[:2]
        # Patches whose top-left pixel leaves the whole window inside this style.
        valid[top : top + max(hs - 2, 0), : max(ws - 2, 0)] = True
        top += hs
    array = jnp.concatenate([jnp.pad(x, ((0, 0), (0, width - x.shape[1]), (0, 0))) for x in layers], axis=0)
    return Pooled(array, valid.reshape(-1))


def make_bank(normed: jax.Array, slice_rows: int, valid: Optional[np.ndarray] = None) -> Bank:
    """Pad a normalised style layer (Hs, Ws, D) into a :class:`Bank`.

    ``valid``: (rows·cols,) bool patches that may be chosen (from :func:`pool`), or None.
    """
    hs, ws, _ = normed.shape
    rows, cols = patch_grid(hs, ws)
    if rows < 1 or cols < 1:
        raise ValueError(f"a style layer of {hs}×{ws} pixels holds no 3×3 patch")
    slice_rows = max(1, min(int(slice_rows), rows))
    slices = -(-rows // slice_rows)
    pad = slices * slice_rows + 2 - hs
    normed = jnp.pad(normed, ((0, pad), (0, 0), (0, 0)))
    if valid is not None:
        valid = jnp.asarray(valid, bool).reshape(rows * cols)
    return Bank(normed=normed, rows=rows, cols=cols, slice_rows=slice_rows, valid=valid)


class Matches(NamedTuple):
    """Best style patch per output patch, and the style-side history for variety.

    Attributes:
      index: (P,) int32, flat style patch index (row-major over rows × cols) for each
        of the P = (H-2)·(W-2) output patches.
      score: (P,) float32, the matching score (before any penalty).
      history: (N,) float32, each style patch's best score against any output patch
        in this matching; ``variety`` subtracts it next time, so that often-matched
        patches lose ties (the reference's ``matcher_history``). Zeros unless
        asked for (``track``).
    """

    index: jax.Array
    score: jax.Array
    history: jax.Array


def _max_and_argmax(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(P, N) float32 -> each row's maximum and its first index, (P,) float32 and int32.

    One pass over ``x`` (a variadic reduction): argmax and then a gather of the
    value read the matrix twice, and this matrix is the largest of a matching.
    """
    def pick(a, b):
        (av, ai), (bv, bi) = a, b
        first = (av > bv) | ((av == bv) & (ai < bi))
        return jnp.where(first, av, bv), jnp.where(first, ai, bi)

    iota = jax.lax.broadcasted_iota(jnp.int32, x.shape, 1)
    return jax.lax.reduce((x, iota), (jnp.float32(-jnp.inf), jnp.int32(0)), pick, (1,))


# On a CPU a matching is bound by memory traffic more than by the matmul: each block's
# Gram matrix is written once and read nine times by the shifted sums, and blocks
# small enough to stay near the cache ran faster than the planner's largest (bench/
# matching_blocks.py, bench/RESULTS.md). A GPU has the memory for the planner's largest
# blocks (tens of GiB at 4096×3072 on an H200) but gains nothing from them past a few
# GiB, the matmul long saturated; within 2 GiB every block's element count also stays
# far below 2**31, where 32-bit index arithmetic fails (as the loss's normaliser did
# there). Not yet timed on a GPU at such sizes.
CPU_BLOCK_BYTES = 48 * 2**20
GPU_BLOCK_BYTES = 2 * 2**30


def blocks(out_hw: tuple[int, int], rows: int, cols: int, slice_rows: int, depth: int = 1,
           block_bytes: Optional[int] = None) -> tuple[int, int]:
    """The blocks a matching walks: (style patch rows per slice, output patch rows per chunk).

    The planner sizes ``slice_rows`` for the whole output at once (a Gram block of
    H·W × (R+2)·Ws and its shifted sum). For a large output that leaves few style rows
    per slice, and each slice computes two halo rows it cannot use: at R = 1 the
    matching multiplies three style rows for every one it scores. Walking the output in
    chunks of rows too lets the same memory hold squarer blocks. This returns the pair
    with the least work (matmul and shifted sums, padding included) whose block takes
    no more memory than the planner's; the output whole (``H - 2`` rows) unless a chunked
    walk saves a tenth or more.

    Args:
      out_hw: (H, W) of the output layer (wrapped, for a seamless tile).
      rows, cols: the bank's patch grid; ``slice_rows`` the planner's rows per slice.
      depth: channels per pixel (weighs the matmul against the shifted sums).
      block_bytes: also keep each block's Gram matrix (float32) within this many
        bytes (:data:`CPU_BLOCK_BYTES` on a CPU); then the least work within both
        limits is taken even when it saves less than a tenth.
    """
    h, w = out_hw
    p_rows, p_cols, ws = h - 2, w - 2, cols + 2
    slice_rows = max(1, min(slice_rows, rows))

    def memory(ro, r):
        return (ro + 2) * w * (r + 2) * ws + ro * p_cols * r * cols

    def work(ro, r):
        n = -(-p_rows // ro) * -(-rows // r)
        return n * ((ro + 2) * w * (r + 2) * ws * depth + 9 * ro * p_cols * r * cols)

    budget = memory(p_rows, slice_rows)
    gram = (p_rows + 2) * w * (slice_rows + 2) * ws * 4
    if block_bytes is None or gram <= block_bytes:
        best = (work(p_rows, slice_rows), p_rows, slice_rows)
    else:
        best = (math.inf, 0, 0)
    # Without a cache limit only larger slices can save work; with one, smaller ones
    # may too (a last slice mostly padding).
    for r in range(slice_rows + 1 if block_bytes is None else 1, rows + 1):
        a, b = w * (r + 2) * ws, p_cols * r * cols
        ro = min(p_rows, (budget - 2 * a) // (a + b))
        if block_bytes is not None:
            ro = min(ro, block_bytes // (4 * a) - 2)
        if ro >= 1 and work(ro, r) < best[0]:
            best = (work(ro, r), ro, r)
    if best[1] == 0:  # not even one output row fits the cache's share: the planner's blocks
        return slice_rows, p_rows
    if block_bytes is None and best[0] > 0.9 * work(p_rows, slice_rows):
        return slice_rows, p_rows
    return best[2], best[1]


def block_limit(platform: str) -> Optional[int]:
    """The Gram block bytes :func:`blocks` keeps within on a platform ("cpu", "gpu", ...):
    :data:`CPU_BLOCK_BYTES` on a CPU, :data:`GPU_BLOCK_BYTES` elsewhere. The planner and
    :func:`match` ask here."""
    return CPU_BLOCK_BYTES if platform == "cpu" else GPU_BLOCK_BYTES


def _platform() -> str:
    """The platform the computation being traced runs on (the default device's)."""
    device = jax.config.jax_default_device
    if device is None:
        return jax.default_backend()
    return device if isinstance(device, str) else device.platform


def _slice_distances(o, normed, s, rows, cols, slice_rows, allowed, o_labels, style_labels):
    """(n, slice_rows · cols) float32: each 3×3 output patch of the chunk ``o`` ((ro + 2,
    W, D), n = ro · (W - 2) patches) against each style patch of slice ``s`` of the bank
    ``normed``, as the sum of its 9 pixels' dot products (one Gram block, shifted and
    summed); -inf for a patch past the bank's ``rows``, one ``allowed`` excludes (a
    pooled bank: never a patch straddling two styles), or, with hard labels, one of
    another region than the output patch's."""
    p_cols, block = o.shape[1] - 2, slice_rows * cols
    b = jax.lax.dynamic_slice_in_dim(normed, s * slice_rows, slice_rows + 2, axis=0)
    gram = jnp.einsum("hwd,rcd->hwrc", o, b, preferred_element_type=jnp.float32)
    dist = sum(
        gram[dy : dy + o.shape[0] - 2, dx : dx + p_cols, dy : dy + slice_rows, dx : dx + cols]
        for dy in range(3)
        for dx in range(3)
    ).reshape((o.shape[0] - 2) * p_cols, block)
    valid = (s * slice_rows + jnp.arange(block) // cols) < rows
    if allowed is not None:
        valid = valid & jax.lax.dynamic_slice_in_dim(allowed, s * block, block)
    if o_labels is not None:
        same = o_labels[:, None] == jax.lax.dynamic_slice_in_dim(style_labels, s * block, block)[None, :]
        dist = jnp.where(same | (o_labels[:, None] < 0), dist, -jnp.inf)
    return jnp.where(valid[None, :], dist, -jnp.inf)


def _padded_to_slices(normed, penalty, allowed, labels, rows, cols, slice_rows):
    """The bank and its per-patch arrays padded to whole slices of ``slice_rows``
    (:func:`blocks` may choose larger slices than the bank was padded for); padding
    patches are excluded by their row, and by label -2 (no output patch's).
    Returns (normed, penalty, allowed, output labels, style labels)."""
    slices = -(-rows // slice_rows)
    extra = slices * slice_rows * cols - rows * cols
    if normed.shape[0] < slices * slice_rows + 2:
        normed = jnp.pad(normed, ((0, slices * slice_rows + 2 - normed.shape[0]), (0, 0), (0, 0)))
    if penalty is not None:
        penalty = jnp.pad(penalty, (0, extra))
    if allowed is not None:
        allowed = jnp.pad(allowed, (0, extra))
    out_labels = style_labels = None
    if labels is not None:
        out_labels, style_labels = labels
        style_labels = jnp.pad(style_labels, (0, extra), constant_values=-2)
    return normed, penalty, allowed, out_labels, style_labels


def _walk_chunks(walk, out, out_labels, out_rows, chunks):
    """``walk`` over chunks of ``out_rows`` output rows, one after the other (a scan: one
    chunk's block alive at once); the last one padded with rows whose patches are
    dropped. Returns the (best index, best value, history) of every output patch."""
    p_rows, p_cols = out.shape[0] - 2, out.shape[1] - 2
    pad_rows = chunks * out_rows - p_rows
    out = jnp.pad(out, ((0, pad_rows), (0, 0), (0, 0)))
    n = out_rows * p_cols
    if out_labels is not None:
        out_labels = jnp.pad(out_labels, (0, pad_rows * p_cols), constant_values=-1)

    def chunk(c):
        o = jax.lax.dynamic_slice_in_dim(out, c * out_rows, out_rows + 2, axis=0)
        o_labels = None if out_labels is None else jax.lax.dynamic_slice_in_dim(out_labels, c * n, n)
        o_valid = (c * out_rows + jnp.arange(n) // p_cols) < p_rows
        return walk(o, o_labels, o_valid)

    idx, val, hist = jax.lax.map(chunk, jnp.arange(chunks))
    history = hist.max(axis=0)
    return (idx.reshape(-1)[: p_rows * p_cols], val.reshape(-1)[: p_rows * p_cols],
            jnp.where(jnp.isfinite(history), history, 0.0))


@functools.partial(jax.jit, static_argnames=("rows", "cols", "slice_rows", "out_rows", "track"))
def _match(out, normed, penalty, allowed, labels, *, rows, cols, slice_rows, out_rows, track):
    h, w, _ = out.shape
    p_rows, p_cols = h - 2, w - 2
    slices = -(-rows // slice_rows)
    block = slice_rows * cols
    normed, penalty, allowed, out_labels, style_labels = _padded_to_slices(normed, penalty, allowed, labels, rows,
                                                                           cols, slice_rows)
    chunks = -(-p_rows // out_rows)

    def walk(o, o_labels, o_valid):
        """The style bank walked against one chunk of the output, (ro + 2, W, D)."""
        n = (o.shape[0] - 2) * p_cols

        def body(s, carry):
            best_idx, best_val, history = carry
            dist = _slice_distances(o, normed, s, rows, cols, slice_rows, allowed, o_labels, style_labels)
            scores = dist
            if penalty is not None:
                scores = dist - jax.lax.dynamic_slice_in_dim(penalty, s * block, block)[None, :]
            cur_val, cur_idx = _max_and_argmax(scores)
            better = cur_val > best_val
            best_idx = jnp.where(better, cur_idx + s * block, best_idx)
            best_val = jnp.where(better, cur_val, best_val)
            if track:  # only variety reads it: without, skip a pass over dist
                if o_valid is not None:  # a last chunk's padding rows are no output patches
                    dist = jnp.where(o_valid[:, None], dist, -jnp.inf)
                best_of = dist.max(axis=0)
                if o_valid is None:
                    # -inf for an excluded patch (or one no output patch may take) would
                    # become NaN next time (-inf - variety·-inf).
                    best_of = jnp.where(jnp.isfinite(best_of), best_of, 0.0)
                history = jax.lax.dynamic_update_slice_in_dim(history, best_of, s * block, 0)
            return best_idx, best_val, history

        init = (
            jnp.zeros((n,), jnp.int32),
            jnp.full((n,), -jnp.inf, jnp.float32),
            jnp.zeros((slices * block,), jnp.float32),
        )
        return jax.lax.fori_loop(0, slices, body, init)

    if chunks == 1:
        best_idx, best_val, history = walk(out, out_labels, None)
    else:
        best_idx, best_val, history = _walk_chunks(walk, out, out_labels, out_rows, chunks)
    # Report the unbiased score of the chosen patch.
    score = best_val + (penalty[best_idx] if penalty is not None else 0.0)
    return best_idx, score, history[: rows * cols]


def match(out: jax.Array, bank: Bank, penalty: Optional[jax.Array] = None,
          labels: Optional[tuple[jax.Array, jax.Array]] = None, *, track: bool = False,
          out_rows: Optional[int] = None) -> Matches:
    """Exact best style patch for every output patch, by normalised cross-correlation.

    Args:
      out: (H, W, D) float32, the output layer after :func:`normalise_output`.
      bank: the style layer after :func:`normalise_style` and :func:`make_bank`.
      penalty: (N,) float32 subtracted from each style patch's score, or None: the
        reference's ``variety`` bias (its history times the weight) and the
        occurrence penalty (see :mod:`doodle.core.evaluation`).
      labels: ((P,) int32, (N,) int32) from :func:`doodle.core.labels.label_pair`, or None: an output
        patch of label k >= 0 may only take a style patch of label k.
      track: also return each style patch's best score (:attr:`Matches.history`).
      out_rows: output patch rows matched at once; None: :func:`blocks` decides
        (with the bank's ``slice_rows`` as the memory to keep within).

    Returns:
      :class:`Matches`; ties go to the lowest style index. Patches the bank marks
      invalid are never chosen (their history is 0).
    """
    if out.shape[0] < 3 or out.shape[1] < 3:
        raise ValueError(f"an output layer of {out.shape[0]}×{out.shape[1]} holds no 3×3 patch")
    if out_rows is None:
        slice_rows, out_rows = blocks(out.shape[:2], bank.rows, bank.cols, bank.slice_rows, out.shape[-1],
                                      block_limit(_platform()))
    else:
        slice_rows, out_rows = bank.slice_rows, max(1, min(out_rows, out.shape[0] - 2))
    idx, score, hist = _match(
        out, bank.normed, penalty, bank.valid, labels,
        rows=bank.rows, cols=bank.cols, slice_rows=slice_rows, out_rows=out_rows, track=track,
    )
    return Matches(index=idx, score=score, history=hist)


class Targets(NamedTuple):
    """Matched style patches folded back onto the output grid, for the MRF loss.

    Attributes:
      acc: (H, W, C) float32, ``Σ`` over the output patches covering each pixel of the
        matched style patch's pixel at the same offset.
      count: (H, W, 1) float32, how many output patches cover each pixel.
      sq: () float32, ``Σ_patches |matched style patch|²``.
      patches: P, the number of output patches.
    """

    acc: jax.Array
    count: jax.Array
    sq: jax.Array
    patches: int


def fold(style: jax.Array, index: jax.Array, out_hw: tuple[int, int]) -> Targets:
    """Fold the matched raw style patches onto an (H, W) output grid.

    Args:
      style: (Hs, Ws, C) float32 raw style features of the layer (for several
        styles, their :func:`pool`-ed array, laid out as the bank was).
      index: (P,) int32 flat style patch indices from :func:`match`.
      out_hw: (H, W) of the output layer, P = (H-2)·(W-2).
    """
    h, w = out_hw
    p_rows, p_cols = patch_grid(h, w)
    hs, ws, c = style.shape
    cols = ws - 2
    top, left = index // cols, index % cols
    flat = style.reshape(hs * ws, c)
    sq_pix = jnp.sum(flat * flat, axis=1)
    acc = jnp.zeros((h, w, c), style.dtype)
    count = jnp.zeros((h, w, 1), style.dtype)
    sq = jnp.zeros((), style.dtype)
    for dy in range(3):
        for dx in range(3):
            src = (top + dy) * ws + (left + dx)
            acc = acc.at[dy : dy + p_rows, dx : dx + p_cols].add(flat[src].reshape(p_rows, p_cols, c))
            count = count.at[dy : dy + p_rows, dx : dx + p_cols].add(1.0)
            sq = sq + jnp.sum(sq_pix[src])
    return Targets(acc=acc, count=count, sq=sq, patches=p_rows * p_cols)
