"""Matching by propagation: a style layer's matches refined from a deeper layer's.

Instead of searching the whole bank (:func:`doodle.core.patches.match`), each output
patch takes the best of the 3×3 window of style patches around where its parent (the
next deeper style layer's patch covering its centre) was matched, carried to this
layer: the coarse-to-fine correspondence of PatchMatch-style pyramids (Barnes et al.
2009). :func:`propagate` says where this departs from the reference.
"""
from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from doodle.core.patches import Bank


# propagate's geometry: the 9 pixels of a patch, the 25 pixels a 3×3 window of 3×3
# patches reads (relative to the centre candidate's top-left), the window's candidates
# (the start first: it wins ties), and for each candidate the 9 (patch pixel, window
# pixel) pairs whose dot products make its score, as flat indices into a 9×25 table.
_PATCH_OFFSETS = tuple((dy, dx) for dy in range(3) for dx in range(3))
_STYLE_OFFSETS = tuple((ey, ex) for ey in range(-1, 4) for ex in range(-1, 4))
_WINDOW = ((0, 0),) + tuple((a, b) for a in (-1, 0, 1) for b in (-1, 0, 1) if (a, b) != (0, 0))
# Output patches propagate scores at once: their gathered pixels stay in cache on a CPU
# (bench/propagate.py: 128 is the fastest there, and costs a GPU little; bench/RESULTS.md).
WINDOW_CHUNK = 128
_WINDOW_PAIRS = np.array([i * len(_STYLE_OFFSETS) + _STYLE_OFFSETS.index((ay + dy, ax + dx))
                          for ay, ax in _WINDOW for i, (dy, dx) in enumerate(_PATCH_OFFSETS)], np.int32)


def propagate(
    out: jax.Array,
    bank: Bank,
    parent: jax.Array,
    parent_hw: tuple[int, int],
    parent_cols: int,
    factor: int,
    labels: Optional[tuple[jax.Array, jax.Array]] = None,
    chunk: int = WINDOW_CHUNK,
) -> jax.Array:
    """Matches at a fine layer refined from a coarser layer's, in a 3×3 window.

    The exhaustive search costs (H·W)²·D: at relu2_1 it is 16× the pixel pairs of
    relu3_1, more than everything else in an evaluation together (bench/RESULTS.md).
    Instead each output patch here starts from where its parent patch (the one at
    the coarser layer covering its centre) was matched, moved by the same sub-pixel
    offset (the coarse-to-fine correspondence of PatchMatch-style pyramids, Barnes
    et al. 2009), and takes the best of the 9 style patches around that start. Li &
    Wand and the reference search every layer exhaustively; this departs from them
    for layers finer than relu3_1, and with maps for relu3_1 too (see
    ``PaintingOptions.propagate``).

    Args:
      out: (H, W, D) float32, this layer's output after :func:`doodle.core.patches.normalise_output`.
      bank: this layer's style bank (at least 3×3 patches).
      parent: (P',) int32 matches at the coarser layer (flat, over ``parent_cols``
        style patch columns).
      parent_hw: (H', W') of the coarser output layer.
      parent_cols: style patch columns of the coarser layer.
      factor: how many pixels of this layer one coarser pixel spans (2 for 2_1 under 3_1).
      labels: as for :func:`doodle.core.patches.match`; candidates of another label lose to any of the
        same label (the start is kept if none has it).
      chunk: output patches scored together (a memory/overhead trade-off; the result
        does not depend on it).

    Returns:
      (P,) int32 flat style patch indices, P = (H-2)·(W-2).
    """
    ty, tx = _window_starts(out.shape[:2], bank, parent, parent_hw, parent_cols, factor)
    scores = _window_scores(out, bank, ty, tx, chunk)
    index = jnp.stack([(ty + ay) * bank.cols + (tx + ax) for ay, ax in _WINDOW], axis=1)
    ok = jnp.ones(scores.shape, bool) if bank.valid is None else bank.valid[index]
    if labels is not None:
        out_labels, style_labels = labels
        ok = ok & ((style_labels[index] == out_labels[:, None]) | (out_labels[:, None] < 0))
    # The start is first: it wins ties, and is kept when no candidate is allowed
    # (argmax of all -inf is 0).
    ranked = jnp.where(ok, scores, -jnp.inf)
    best = jnp.argmax(ranked, axis=1)
    return jnp.take_along_axis(index, best[:, None], axis=1)[:, 0].astype(jnp.int32)


def _window_starts(out_hw: tuple[int, int], bank: Bank, parent: jax.Array, parent_hw: tuple[int, int],
                   parent_cols: int, factor: int) -> tuple[jax.Array, jax.Array]:
    """Each output patch's window: the top-left (row, column) of its centre candidate,
    (P,) int32 each, where its parent matched moved by its sub-pixel offset, kept one
    patch inside the bank."""
    h, w = out_hw
    hp, wp = parent_hw
    # Centres of this layer's output patches and of their parents.
    y = jnp.arange(1, h - 1)[:, None]
    x = jnp.arange(1, w - 1)[None, :]
    py = jnp.clip(y // factor, 1, hp - 2)
    px = jnp.clip(x // factor, 1, wp - 2)
    matched = parent[(py - 1) * (wp - 2) + (px - 1)]
    sy = (matched // parent_cols + 1) * factor + (y - py * factor)
    sx = (matched % parent_cols + 1) * factor + (x - px * factor)
    ty = jnp.clip(sy - 1, 1, bank.rows - 2).reshape(-1)
    tx = jnp.clip(sx - 1, 1, bank.cols - 2).reshape(-1)
    return ty, tx


def _window_scores(out: jax.Array, bank: Bank, ty: jax.Array, tx: jax.Array, chunk: int) -> jax.Array:
    """(P, 9) float32: each output patch's correlation with the 9 candidates of its
    window (in ``_WINDOW``'s order), ``chunk`` output patches at a time."""
    h, w, _ = out.shape
    p_rows, p_cols = h - 2, w - 2
    ws = bank.cols + 2
    n = p_rows * p_cols
    # Flat pixel index of each start's top-left in the style layer, and of each
    # output patch's top-left, in chunks of ``chunk`` patches.
    chunk = min(chunk, n)
    k = -(-n // chunk)
    start = jnp.pad(ty * ws + tx, (0, k * chunk - n), constant_values=ws + 1).reshape(k, chunk)
    corner = (jnp.arange(p_rows)[:, None] * w + jnp.arange(p_cols)[None, :]).reshape(-1)
    corner = jnp.pad(corner, (0, k * chunk - n)).reshape(k, chunk)
    style_offsets = jnp.asarray([ey * ws + ex for ey, ex in _STYLE_OFFSETS])
    out_offsets = jnp.asarray([dy * w + dx for dy, dx in _PATCH_OFFSETS])
    flat_style = bank.normed.reshape(-1, bank.normed.shape[-1])
    flat_out = out.reshape(h * w, -1)

    def chunk_scores(args):
        s0, o0 = args
        # Every pixel pair of a patch's 3×3 and its window's 5×5 (225 dot products, of
        # which the 9 candidates use 81): one batched matmul over data that stays in
        # cache. Materialising the 25 gathered (P, D) arrays whole made this memory-bound
        # (bench/RESULTS.md has the timings).
        pairs = jnp.einsum("cid,cjd->cij", flat_out[o0[:, None] + out_offsets[None, :]],
                           flat_style[s0[:, None] + style_offsets[None, :]], preferred_element_type=jnp.float32)
        return jnp.take(pairs.reshape(chunk, -1), _WINDOW_PAIRS, axis=1).reshape(chunk, 9, 9).sum(-1)

    return jax.lax.map(chunk_scores, (start, corner)).reshape(k * chunk, 9)[:n]
