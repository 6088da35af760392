"""Each region's distribution of features and colours: a sliced Wasserstein term.

Nearest-neighbour patch losses (Li & Wand 2016, the reference) let every output patch
take the same few style patches: a texture collapses to one flat patch, a region takes
the colours of its most typical corner. A distribution term holds each region of the
painting to the whole distribution of the style's region instead. We use the sliced
Wasserstein distance (Heitz et al. 2021, "A Sliced Wasserstein Loss for Neural
Texture Synthesis"): project the C-channel pixels of a layer onto K unit directions
and compare, direction by direction, the sorted projections of the painting with the
style's. Like STROTSS's region guidance (Kolkin et al. 2019) it is taken per region
of the semantic map: the pixels of label k of the painting against the style's pixels
of label k.

The sort is what makes it exact and what makes it costly, so it is done where the
patches are matched and treated the same way: at a matching each painting pixel is
*assigned* the style quantile its rank calls for (:func:`assign`), and until the next
matching the term is the squared distance to those fixed targets (:func:`loss`). At
the moment of assignment this is the sliced Wasserstein-2 distance squared; between
assignments it bounds it from above (any assignment costs at least the sorted one).

The directions are whole random orthonormal bases (Heitz et al. draw independent
directions; a rotation is as random and keeps the term cheap): with ``V`` made of
``m`` bases, ``V·Vᵀ = m·I``, so the distance to the assigned projections ``A`` is, up
to a constant, the distance of the pixels to the single feature-space target
``V·A / m``. The evaluation then pays for one mean squared difference per layer, like
the content term, and the projections and sorts happen only at a matching.

The two regions may hold different numbers of pixels (a doodle's sky is seldom the
style's sky's size); the style's sorted projections are resampled at the painting's
pixel count (quantile midpoints, linear interpolation: :func:`quantiles`).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from doodle.core import labels

RGB = "rgb"  # the name of the pixels' colours among the layers of the term
# Orthonormal bases of directions for the colours: 3 channels are well described by
# a few more directions than 3.
RGB_BASES = 5


def directions(rng: np.random.Generator, channels: int, bases: int = 1) -> np.ndarray:
    """(channels, channels·bases) float32: ``bases`` random orthonormal bases side by
    side (each uniform over rotations: QR of a Gaussian matrix, signs fixed)."""
    out = []
    for _ in range(bases):
        q, r = np.linalg.qr(rng.standard_normal((channels, channels)))
        out.append(q * np.sign(np.diag(r))[None, :])
    return np.concatenate(out, axis=1).astype(np.float32)


def labels_of(sem: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """(H, W, K) float32 map channels and an (L, K) palette -> (H·W,) int32 label of
    each pixel, the nearest palette colour (a pooled edge pixel: its majority)."""
    return labels.nearest(sem, palette).reshape(-1)


class Target(NamedTuple):
    """The style side of one layer's term, for one phase.

    Attributes:
      directions: (C, K) float32, K = m·C: ``m`` orthonormal bases.
      quantiles: (K, X) float32: along each direction, for each region of the
        painting in label order, the style's projections of that region sorted and
        resampled to the region's pixel count (X pixels in all).
      labels: (X,) int32 label of each painting pixel (row-major).
      order: (X,) int32 the painting's pixels grouped by label (stably), on the host.
      bounds: ((start, end), ...) of each region in ``order``, in label order.
    """

    directions: jax.Array
    quantiles: jax.Array
    labels: jax.Array
    order: np.ndarray
    bounds: tuple[tuple[int, int], ...]


class Assigned(NamedTuple):
    """The term's targets until the next matching (see :func:`loss`).

    Attributes:
      target: (X, C) float32 feature-space target of each painting pixel.
      offset: () float32, what the term is at ``target`` (the spread of the
        assigned projections that no pixel can take up).
    """

    target: jax.Array
    offset: jax.Array


def quantiles(style: np.ndarray, style_labels: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The style's sorted projections of each region, resampled to the painting's counts.

    Args:
      style: (K, M) float32 projections of the style's pixels.
      style_labels: (M,) int label of each style pixel.
      labels: (X,) int label of each painting pixel.

    Returns:
      (K, X) float32, regions in ascending label order, each region's columns the
      sorted style values at the quantile midpoints (i + 1/2) / n. A label the style
      lacks takes the whole style's distribution.
    """
    style = np.asarray(style, np.float32)
    out = []
    for k, n in zip(*np.unique(labels, return_counts=True)):
        own = style[:, style_labels == k]
        values = np.sort(own if own.shape[1] else style, axis=1)  # (K, m)
        m = values.shape[1]
        pos = np.clip((np.arange(n) + 0.5) * m / n - 0.5, 0, m - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, m - 1)
        frac = (pos - lo).astype(np.float32)
        out.append(values[:, lo] * (1 - frac) + values[:, hi] * frac)
    return np.concatenate(out, axis=1).astype(np.float32)


def target(style: np.ndarray, style_labels: np.ndarray, labels: np.ndarray, dirs: np.ndarray) -> Target:
    """The :class:`Target` of one layer from the style's (M, C) pixels and their (M,)
    labels, and the painting's (X,) labels, with (C, K) directions."""
    labels = np.asarray(labels, np.int32)
    dirs = jax.device_put(np.asarray(dirs, np.float32))
    proj = np.asarray(_project(jnp.asarray(style, jnp.float32), dirs))  # (K, M)
    q = quantiles(proj, np.asarray(style_labels), labels)
    order = np.argsort(labels, kind="stable").astype(np.int32)
    ends = np.cumsum(np.unique(labels, return_counts=True)[1])
    bounds = tuple(zip((0, *ends[:-1].tolist()), ends.tolist()))
    return Target(dirs, jax.device_put(q), jax.device_put(labels), order, bounds)


# The projections and their way back are matrix products: compiled, so that they run on
# XLA's threads. numpy's (OpenBLAS's) own thread pool, woken between two evaluations,
# fights XLA's spinning threads for the cores, and on a busy two-core machine a
# product that takes milliseconds took a large part of a second.
@jax.jit
def _project(pixels: jax.Array, dirs: jax.Array) -> jax.Array:
    """(X, C) pixels, (C, K) directions -> (K, X): each direction's values in a row."""
    return dirs.T @ pixels.T


def _place_host(proj: np.ndarray, q: np.ndarray, tgt: Target) -> np.ndarray:
    """(K, X) projections -> (K, X) assigned projections, in the pixels' order: along
    each direction, a region's pixel of rank r takes the region's r-th quantile."""
    placed = np.empty_like(proj)
    rows = np.arange(len(proj))[:, None]
    if len(tgt.bounds) == 1:
        # numpy's default (introsort, SIMD) argsort: 8× faster than its stable one.
        placed[rows, np.argsort(proj, axis=1)] = q
        return placed
    for start, end in tgt.bounds:
        cols = tgt.order[start:end]
        rank = np.argsort(proj[:, cols], axis=1)
        placed[rows, cols[rank]] = q[:, start:end]
    return placed


@jax.jit
def _to_features(placed: jax.Array, dirs: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(K, X) assigned projections -> the (X, C) feature-space target and the offset."""
    c, k = dirs.shape
    m = k // c
    target = placed.T @ (dirs.T / m)  # (X, C)
    # K·X as a float: a Python int past 2**31 at 8K would not pass as JAX's int32.
    offset = (jnp.sum(placed * placed) - m * jnp.sum(target * target)) / (float(k) * target.shape[0])
    return target, offset


@jax.jit
def _assign_device(pixels: jax.Array, labels: jax.Array, dirs: jax.Array, q: jax.Array):
    proj = _project(pixels, dirs)  # (K, X)
    k, x = proj.shape
    keys = jnp.broadcast_to(labels[None, :], (k, x))
    iota = jax.lax.broadcasted_iota(jnp.int32, (k, x), 1)
    # Sorted by (label, value): column i of a row is the pixel that takes q[:, i].
    _, _, perm = jax.lax.sort((keys, proj, iota), dimension=1, num_keys=2)
    rows = jax.lax.broadcasted_iota(jnp.int32, (k, x), 0)
    placed = jnp.zeros_like(proj).at[rows, perm].set(q)  # q's regions are in label order, like the sort's
    return _to_features(placed, dirs)


def assign(pixels: jax.Array, tgt: Target) -> Assigned:
    """Each painting pixel's targets: along each direction, the style quantile of its rank.

    ``pixels``: (X, C) float32, the painting's pixels at this layer. Along each
    direction the pixel of rank r within its region takes the region's r-th quantile;
    pixels with equal projections (rare, but a flat seed has them) take theirs in an
    order that may differ between the CPU and the GPU.

    Called between evaluations, not inside the compiled evaluation: on a CPU numpy's
    sort (x86-simd-sort) is many times faster than XLA's, and a host callback inside
    the phase's program would keep it out of the persistent compile cache. On a GPU
    the sort stays on the device.
    """
    device = next(iter(pixels.devices()))
    if device.platform == "cpu":
        placed = _place_host(np.asarray(_project(pixels, tgt.directions)), np.asarray(tgt.quantiles), tgt)
        return Assigned(*_to_features(jax.device_put(placed, device), tgt.directions))
    return Assigned(*_assign_device(pixels, tgt.labels, tgt.directions, tgt.quantiles))


def loss(pixels: jax.Array, assigned: Assigned) -> jax.Array:
    """The term at the (X, C) pixels: the mean squared distance of their projections
    to the assigned ones, which (the directions being ``m`` orthonormal bases) is
    ``mean((pixels - target)²) + offset``. At an assignment: the squared sliced
    Wasserstein-2 distance between the painting's regions and the style's."""
    return jnp.mean((pixels - assigned.target) ** 2) + assigned.offset
