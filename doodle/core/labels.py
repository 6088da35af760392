"""Flat-colour maps as numbers: colours packed into scalars, palettes, window sums.

Shared by the core (quilting, the phase's palette, a sequence's region motion) and by
:mod:`doodle.io.maps`, which checks and snaps users' maps. Pure numpy.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

# More colours than this and a map is not flat regions (a photo's map, a soft
# segmentation): nothing is matched, mended or moved region by region.
MAX_FLAT_COLOURS = 64


def codes(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) RGB in [0, 255] -> (...) int64 packed 0xRRGGBB, so colours compare as scalars."""
    rgb = np.asarray(rgb)[..., :3].astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def uncode(packed: np.ndarray) -> np.ndarray:
    """(K,) int64 0xRRGGBB -> (K, 3) uint8."""
    packed = np.asarray(packed, dtype=np.int64)
    return np.stack([(packed >> 16) & 255, (packed >> 8) & 255, packed & 255], axis=-1).astype(np.uint8)


def check_map(map_rgb: np.ndarray) -> np.ndarray:
    """The map as an array; ValueError unless it is a non-empty (H, W, 3) uint8 image."""
    a = np.asarray(map_rgb)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 map, got {a.shape} {a.dtype}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError("the map is empty")
    return a


def palette(map_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct colour of a map and how many pixels have it.

    (H, W, 3) uint8 -> (colours (K, 3) uint8, counts (K,) int64), most common first
    (ties broken by colour, so the order is deterministic).
    """
    a = check_map(map_rgb)
    packed, counts = np.unique(codes(a).ravel(), return_counts=True)
    order = np.lexsort((packed, -counts))
    return uncode(packed[order]), counts[order].astype(np.int64)


def box_sum(x: np.ndarray, r: int) -> np.ndarray:
    """Sum of each (2r+1)×(2r+1) window, clipped at the borders (an integral image:
    O(HW) whatever the radius). (H, W) -> (H, W) int64."""
    h, w = x.shape
    c = np.zeros((h + 1, w + 1), dtype=np.int64)
    c[1:, 1:] = np.cumsum(np.cumsum(x.astype(np.int64), axis=0), axis=1)
    y0 = np.clip(np.arange(h) - r, 0, h)
    y1 = np.clip(np.arange(h) + r + 1, 0, h)
    x0 = np.clip(np.arange(w) - r, 0, w)
    x1 = np.clip(np.arange(w) + r + 1, 0, w)
    return c[y1][:, x1] - c[y0][:, x1] - c[y1][:, x0] + c[y0][:, x0]


def nearest(channels: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """(..., K) float32 map channels and an (L, K) palette -> (...) int32: each pixel's
    nearest palette colour (a pooled pixel on a region edge is a blend: its majority)."""
    d = ((np.asarray(channels, np.float32)[..., None, :] - np.asarray(palette, np.float32)) ** 2).sum(-1)
    return d.argmin(-1).astype(np.int32)


def centre_labels(sem: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """The label of each 3×3 patch: the palette colour nearest its centre pixel.

    (H, W, K) float32 pooled map and (L, K) palette -> ((H-2)·(W-2),) int32 in [0, L),
    row-major like the patch indices. At a deep layer a pooled pixel on a region
    edge is a blend; the nearest colour is its majority.
    """
    return nearest(np.asarray(sem, np.float32)[1:-1, 1:-1], palette).reshape(-1)


def label_pair(out_sem: np.ndarray, style_sem: np.ndarray, palette: np.ndarray,
               valid: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    """Centre labels of the output's and the style's patches for hard-label matching.

    Returns ((P,) int32, (N,) int32). An output label that no (valid) style patch has
    at this layer (a sliver that pooling shrank away) becomes -1: such a patch is
    matched against the whole bank rather than against nothing.
    """
    out, style = centre_labels(out_sem, palette), centre_labels(style_sem, palette)
    present = np.unique(style if valid is None else style[np.asarray(valid, bool)])
    return np.where(np.isin(out, present), out, -1).astype(np.int32), style
