"""What to paint, as arrays: :class:`Problem`, and what follows from its arrays alone.

The accessors here answer what every later stage asks of a problem's arrays (its
styles, their maps and palette, the sizes of its phases) in one place. What follows
from the options as well (layers, weights, the mode) is settled once per run by
:func:`doodle.run.resolve.recipe`.
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np

from doodle.core import labels, vgg


class Problem(NamedTuple):
    """What to paint, as arrays.

    Attributes:
      style: (Hs, Ws, 3) uint8 or float32 RGB in [0, 255]; or a tuple of such
        images of any sizes, several styles whose patches are pooled.
      style_map: (Hs, Ws, 3) uint8 RGB semantic map of the style, or None; with
        several styles, a tuple of maps in the same order (or None).
      content: (H, W, 3) content image, or None (doodle and texture modes).
      target_map: (H, W, 3) uint8 map of the output (the doodle), or None.
      size: (H, W) of the output.
      seed: (H', W', 3) starting image, resized to the first phase; None: use
        the recipe's ``seed`` ("auto", "noise" or "content").
      previous: (H, W, 3) float32 in [0, 255], a sequence's previous painting
        carried to this frame (:func:`doodle.core.motion.warp`), or None.
      still: (H, W) float32 in [0, 1], where the temporal term holds the painting
        to ``previous`` (the recipe's ``temporal_weight``); None with ``previous``.
    """

    style: Union[np.ndarray, tuple[np.ndarray, ...]]
    style_map: Union[np.ndarray, tuple[Optional[np.ndarray], ...], None]
    content: Optional[np.ndarray]
    target_map: Optional[np.ndarray]
    size: tuple[int, int]
    seed: Optional[np.ndarray] = None
    previous: Optional[np.ndarray] = None
    still: Optional[np.ndarray] = None


def styles_of(problem: Problem) -> tuple[np.ndarray, ...]:
    """The style images of a problem, one or several, as a tuple."""
    return tuple(problem.style) if isinstance(problem.style, (tuple, list)) else (problem.style,)


def style_maps_of(problem: Problem) -> tuple[Optional[np.ndarray], ...]:
    """The style maps, aligned with :func:`styles_of` (None where a style has none)."""
    n = len(styles_of(problem))
    if isinstance(problem.style_map, (tuple, list)):
        return tuple(problem.style_map)
    return (problem.style_map,) * n if problem.style_map is None else (problem.style_map,)




def style_size(problem: Problem) -> tuple[int, int]:
    """(H, W) the memory planner budgets the style bank for: the style's size, or for
    several styles their pooled bank's, stacked vertically (ΣH, max W)."""
    shapes = [s.shape[:2] for s in styles_of(problem)]
    return sum(h for h, _ in shapes), max(w for _, w in shapes)


def semantic_channels(sem: np.ndarray) -> jax.Array:
    """(H, W, 3) uint8 map -> (H, W, 4) float32 channels [r, g, b, 1] in [0, 1].

    The constant channel departs from the reference, which used the raw colours: it
    normalises each pixel, so black had no direction at all and colours that are
    multiples of each other (dark red, red) were the same label (neural-doodle#50,
    "no black"). With the constant every colour, black included, is its own label.
    """
    rgb = jnp.asarray(sem, jnp.float32) / 255.0
    return jnp.concatenate([rgb, jnp.ones(rgb.shape[:2] + (1,), jnp.float32)], axis=-1)


def resize(image: Any, hw: tuple[int, int], wrap: bool = False) -> jax.Array:
    """(H, W, C) -> (h, w, C) float32, bilinear with antialiasing when shrinking; an
    (H, W) array (a mask) -> (h, w).

    ``wrap``: the image is one tile of a periodic one (``--seamless``): pixels near
    an edge are blended with those across the opposite edge, as in the resized
    tiling, instead of with the edge's own (which would leave a seam).
    """
    image = jnp.asarray(image, jnp.float32)
    if image.ndim == 2:
        return resize(image[..., None], hw, wrap)[..., 0]
    if image.shape[:2] == tuple(hw):
        return image
    if not wrap:
        return jax.image.resize(image, (hw[0], hw[1], image.shape[2]), "linear", antialias=True)
    (h, w), (h2, w2) = image.shape[:2], hw
    # The antialiased triangle filter reaches max(1, H/h) input pixels from a sample:
    # pad by that much circularly, then resample the padded image at the same scale,
    # shifted so that the padding falls outside the output.
    my, mx = (math.ceil(max(1.0, a / b)) + 1 for a, b in ((h, h2), (w, w2)))
    padded = jnp.pad(image, ((my, my), (mx, mx), (0, 0)), mode="wrap")
    scale = jnp.asarray([h2 / h, w2 / w], jnp.float32)
    return jax.image.scale_and_translate(padded, (h2, w2, image.shape[2]), (0, 1), scale, -scale * jnp.asarray(
        [my, mx], jnp.float32), "linear", antialias=True)












def palette_of(problem: Problem) -> Optional[np.ndarray]:
    """(L, 4) float32 colours of the style maps as :func:`semantic_channels` gives them,
    or None when the maps are not flat colour regions."""
    colours = np.unique(np.concatenate([labels.palette(np.asarray(m)[..., :3])[0] for m in style_maps_of(problem)]),
                        axis=0)
    if len(colours) > labels.MAX_FLAT_COLOURS:
        return None
    # As semantic_channels gives them, in numpy (a device round trip would wait here
    # for the style's forward pass).
    return np.concatenate([colours / np.float32(255.0), np.ones((len(colours), 1))], axis=1).astype(np.float32)


def refined_in_every_mode(layer: str) -> bool:
    """Whether ``layer`` is refined from a deeper layer's matches whatever the mode:
    those finer than relu3_1 (relu3_1 only with maps, ``TermDefaults.propagate_deep``)."""
    return vgg.downscale(layer) < vgg.downscale("3_1")


def parents_of(style_layers: tuple[str, ...], propagate: bool, deep: bool = False) -> tuple[tuple[str, str], ...]:
    """(layer, parent) for each style layer matched by :func:`doodle.core.propagation.propagate`:
    those finer than relu3_1 (``deep``: every one) with a deeper style layer, whose
    nearest one is the parent. With ``deep`` only the deepest style layer is searched
    whole (coarse to fine, as Deep Image Analogy's pyramid of nearest-neighbour
    fields, Liao et al. 2017)."""
    if not propagate:
        return ()
    pairs = []
    for layer in style_layers:
        deeper = [l for l in style_layers if vgg.downscale(l) > vgg.downscale(layer)]
        if deeper and (deep or refined_in_every_mode(layer)):
            pairs.append((layer, min(deeper, key=vgg.downscale)))
    return tuple(pairs)

def scaled(hw: tuple[int, int], scale: float) -> tuple[int, int]:
    """A size (h, w) multiplied by ``scale``, rounded, at least 1: each phase's size."""
    return max(1, int(round(hw[0] * scale))), max(1, int(round(hw[1] * scale)))
