"""Colour spaces for ``--preserve-colors``: luminance-only style transfer.

Gatys et al. 2016, "Preserving color in neural artistic style transfer" (arXiv
1606.05897), §2.2: paint with the luminance channels of the style and the content
only, then give the painted luminance the content's own colour (chroma). The style's
brush strokes and texture come through; its palette does not.

The colour space is YCbCr with BT.601 luma weights (JPEG's, without the +128 offset:
chroma is centred on 0). Any luma/chroma split works for the method (the paper uses
YIQ); this one has exact chroma rows that sum to zero, so a grey pixel has zero
chroma and changing Y moves all three RGB channels by the same amount.

Pure numpy: arrays in, arrays out.
"""
from __future__ import annotations

import numpy as np

# Rows: Y, Cb, Cr. Each chroma row sums to 0 (grey has no chroma), so the inverse's
# first column is exactly (1, 1, 1): R, G and B all move with Y one for one.
RGB_TO_YCC = np.array(
    [
        [0.299, 0.587, 0.114],
        [-0.168736, -0.331264, 0.5],
        [0.5, -0.418688, -0.081312],
    ],
    dtype=np.float64,
)
YCC_TO_RGB = np.linalg.inv(RGB_TO_YCC)


def rgb_to_ycc(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) RGB in [0, 255] (uint8 or float) -> (..., 3) float64 [Y, Cb, Cr].

    Y is in [0, 255]; Cb and Cr in [-127.5, 127.5].
    """
    return np.asarray(rgb, np.float64) @ RGB_TO_YCC.T


def ycc_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """(..., 3) [Y, Cb, Cr] -> (..., 3) float64 RGB, not clipped (may leave [0, 255])."""
    return np.asarray(ycc, np.float64) @ YCC_TO_RGB.T


def luminance(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) RGB in [0, 255] -> (...) float64 luma Y in [0, 255]."""
    return np.asarray(rgb, np.float64) @ RGB_TO_YCC[0]


def grey(y: np.ndarray) -> np.ndarray:
    """(H, W) luma -> (H, W, 3) float32 RGB with Y in every channel (a grey image whose
    luma is ``y``), the form the network takes."""
    y = np.asarray(y, np.float32)
    return np.repeat(y[..., None], 3, axis=-1)


def match_luminance(y_style: np.ndarray, y_content: np.ndarray) -> np.ndarray:
    """The style's luma shifted and scaled to the content's mean and standard deviation.

    (Hs, Ws) and (H, W) float -> (Hs, Ws) float64 in [0, 255]. Gatys et al. §2.2:
    without it a dark style paints a bright photo dark, and the content's chroma on a
    foreign brightness looks wrong. A flat style (zero deviation) is only shifted.
    """
    ys = np.asarray(y_style, np.float64)
    yc = np.asarray(y_content, np.float64)
    sd = ys.std()
    scale = yc.std() / sd if sd > 1e-6 else 1.0
    return np.clip((ys - ys.mean()) * scale + yc.mean(), 0.0, 255.0)


def combine(painted: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The painted image's luma with the content's chroma.

    (H, W, 3) painted RGB and (H, W, 3) content RGB, both in [0, 255] -> (H, W, 3)
    float32 RGB in [0, 255]. The painted image is grey or not: only its luma is used.

    Where the content's chroma on the painted luma would leave the RGB cube (a
    saturated red made much brighter), the luma is clamped to the range that keeps
    all three channels in [0, 255] instead of clipping the channels: clipping would
    change the colour, clamping only the brightness. That range is never empty, as
    the content's own luma lies in it.
    """
    y = luminance(painted)
    chroma = rgb_to_ycc(content)[..., 1:]
    offsets = chroma @ YCC_TO_RGB[:, 1:].T  # (H, W, 3): each channel is y + offset
    y = np.clip(y, -offsets.min(axis=-1), 255.0 - offsets.max(axis=-1))
    rgb = y[..., None] * YCC_TO_RGB[:, 0] + offsets
    return np.clip(rgb, 0.0, 255.0).astype(np.float32)  # only float error left to clip
