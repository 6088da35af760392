"""Each region's distribution of features and colours: a sliced Wasserstein term.

Nearest-neighbour patch losses (Li & Wand 2016, the reference) let every output patch
take the same few style patches: a texture collapses to one flat patch, a region takes
the colours of its most typical corner. A distribution term holds each region of the
painting to the whole distribution of the style's region instead. We use the sliced
Wasserstein distance (Heitz et al. 2021, "A Sliced Wasserstein Loss for Neural
Texture Synthesis"): project the C-channel pixels of a layer onto K random unit
directions and compare, direction by direction, the sorted projections of the painting
with the style's. Like STROTSS's region guidance (Kolkin et al. 2019) it is taken per
region of the semantic map: the pixels of label k of the painting against the style's
pixels of label k.

The sort is what makes it exact and what makes it costly, so it is done where the
patches are matched and treated the same way: at a matching each painting pixel is
*assigned* the style quantile its rank calls for (:func:`assign`), and until the next
matching the loss is the squared distance to those fixed targets (:func:`loss`). At
the moment of assignment this is the sliced Wasserstein-2 distance; between
assignments it bounds it from above (any assignment costs at least the sorted one).

The two regions may hold different numbers of pixels (a doodle's sky is seldom the
style's sky's size); the style's sorted projections are resampled at the painting's
pixel count (quantile midpoints, linear interpolation: :func:`quantiles`).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

RGB = "rgb"  # the name of the pixels' colours among the layers of the term
# Directions for the colours: 3 channels are well described by a few more than 3.
RGB_DIRECTIONS = 16


def directions(rng: np.random.Generator, channels: int, count: int) -> np.ndarray:
    """(channels, count) float32 random unit directions (columns), uniform on the sphere."""
    v = rng.standard_normal((channels, count)).astype(np.float32)
    return v / np.linalg.norm(v, axis=0, keepdims=True)


def labels_of(sem: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """(H, W, K) float32 map channels and an (L, K) palette -> (H·W,) int32 label of
    each pixel, the nearest palette colour (a pooled edge pixel: its majority)."""
    sem = np.asarray(sem, np.float32).reshape(-1, sem.shape[-1])
    d = ((sem[:, None, :] - np.asarray(palette, np.float32)[None]) ** 2).sum(-1)
    return d.argmin(-1).astype(np.int32)


class Target(NamedTuple):
    """The style side of one layer's term, for one phase.

    Attributes:
      directions: (C, K) float32 unit directions.
      quantiles: (X, K) float32: for each region of the painting in label order, the
        style's projections of that region, sorted and resampled to the region's
        pixel count (X pixels in all).
      labels: (X,) int32 label of each painting pixel (row-major).
    """

    directions: jax.Array
    quantiles: jax.Array
    labels: jax.Array


def quantiles(style: np.ndarray, style_labels: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The style's sorted projections of each region, resampled to the painting's counts.

    Args:
      style: (M, K) float32 projections of the style's pixels.
      style_labels: (M,) int label of each style pixel.
      labels: (X,) int label of each painting pixel.

    Returns:
      (X, K) float32, regions in ascending label order, each region's rows the sorted
      style values at the quantile midpoints (i + 1/2) / n. A label the style lacks
      takes the whole style's distribution.
    """
    style = np.asarray(style, np.float32)
    out = []
    for k, n in zip(*np.unique(labels, return_counts=True)):
        own = style[style_labels == k]
        values = np.sort(own if len(own) else style, axis=0)  # (m, K)
        m = len(values)
        pos = np.clip((np.arange(n) + 0.5) * m / n - 0.5, 0, m - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, m - 1)
        frac = (pos - lo).astype(np.float32)[:, None]
        out.append(values[lo] * (1 - frac) + values[hi] * frac)
    return np.concatenate(out, axis=0).astype(np.float32)


def target(style: np.ndarray, style_labels: np.ndarray, labels: np.ndarray, dirs: jax.Array) -> Target:
    """The :class:`Target` of one layer from the style's (M, C) pixels and their (M,)
    labels, and the painting's (X,) labels, with (C, K) directions."""
    proj = np.asarray(style, np.float32) @ np.asarray(dirs)
    q = quantiles(proj, np.asarray(style_labels), np.asarray(labels))
    return Target(jax.device_put(np.asarray(dirs)), jax.device_put(q), jax.device_put(np.asarray(labels, np.int32)))


def _assign_host(proj: np.ndarray, labels: np.ndarray, q: np.ndarray) -> np.ndarray:
    proj, labels, q = np.asarray(proj), np.asarray(labels), np.asarray(q)
    out = np.empty_like(proj)
    start = 0
    for k in np.unique(labels):
        where = np.flatnonzero(labels == k)
        n = len(where)
        seg = np.ascontiguousarray(proj[where].T)  # (K, n): each direction's values in a row
        rank = np.argsort(seg, axis=1, kind="stable")
        placed = np.empty_like(seg)
        np.put_along_axis(placed, rank, np.ascontiguousarray(q[start:start + n].T), axis=1)
        out[where] = placed.T
        start += n
    return out


@jax.jit
def _assign_device(proj: jax.Array, labels: jax.Array, q: jax.Array) -> jax.Array:
    x, k = proj.shape
    keys = jnp.broadcast_to(labels[:, None], (x, k))
    iota = jax.lax.broadcasted_iota(jnp.int32, (x, k), 0)
    # Sorted by (label, value), stably: row i of a column is the pixel that takes q[i].
    _, _, perm = jax.lax.sort((keys, proj, iota), dimension=0, num_keys=2)
    cols = jax.lax.broadcasted_iota(jnp.int32, (x, k), 1)
    return jnp.zeros_like(proj).at[perm, cols].set(q)


def assign(proj: jax.Array, tgt: Target) -> jax.Array:
    """Each painting pixel's target projection: the style quantile of its rank.

    ``proj``: (X, K) float32 projections of the painting's pixels onto
    ``tgt.directions``. Returns (X, K) float32: along each direction, the pixel of
    rank r within its region takes the region's r-th quantile (ties: the earlier
    pixel ranks first).

    Called between evaluations, not inside the compiled evaluation: on a CPU numpy's
    sort (x86-simd-sort) is ~60× faster than XLA's, and a host callback inside the
    phase's program would keep it out of the persistent compile cache. On a GPU the
    sort stays on the device (same result).
    """
    if next(iter(proj.devices())).platform == "cpu":
        return jax.device_put(_assign_host(np.asarray(proj), np.asarray(tgt.labels), np.asarray(tgt.quantiles)),
                              next(iter(proj.devices())))
    return _assign_device(proj, tgt.labels, tgt.quantiles)


def loss(pixels: jax.Array, dirs: jax.Array, assigned: jax.Array) -> jax.Array:
    """Mean squared distance of the (X, C) pixels' projections onto the (C, K)
    directions to their assigned (X, K) targets: at an assignment, the squared sliced
    Wasserstein-2 distance between the painting's regions and the style's."""
    return jnp.mean((pixels @ dirs - assigned) ** 2)
