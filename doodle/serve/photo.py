"""A photo's map in a style's colours, to start a doodle from.

The photo is segmented as ``doodle segment`` does (:func:`doodle.io.segment.segment`,
one region per colour of the style's map), then each region is given the style
colour whose region of the style image looks most like it (nearest mean colour), so
a blue sky in the photo becomes the style's sky. The user then corrects it by hand.
"""
from __future__ import annotations

import numpy as np

from doodle.io import maps, segment
from doodle.core import labels


def region_means(image: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """(k, 3) float mean colour of each label's pixels (0 for an empty label)."""
    flat = image.reshape(-1, 3).astype(np.float64)
    counts = np.bincount(labels.ravel(), minlength=k).astype(np.float64)
    sums = np.stack([np.bincount(labels.ravel(), weights=flat[:, c], minlength=k) for c in range(3)], 1)
    return sums / np.maximum(counts, 1)[:, None]


LONGEST = 512  # px: a photo is segmented at most this large (a starting map needs no more)


def _labels(map_rgb: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """(H, W) index into ``colours`` of each pixel's colour (every pixel has one of them)."""
    codes, keys = labels.codes(map_rgb), labels.codes(colours)
    order = np.argsort(keys)
    found = np.clip(np.searchsorted(keys[order], codes), 0, len(keys) - 1)
    return order[found]


def photo_map(photo: np.ndarray, style_image: np.ndarray, style_map: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 photo -> its map in ``style_map``'s main colours, (H, W, 3) uint8
    or smaller (its longest side at most :data:`LONGEST`; the page scales it to the canvas)."""
    from doodle.run.api import resize_map

    scale = LONGEST / max(photo.shape[:2])
    if scale < 1:  # nearest neighbour: k-means looks at colours, and this keeps them
        photo = resize_map(photo, (max(1, round(photo.shape[0] * scale)), max(1, round(photo.shape[1] * scale))))
    colours = maps.main_colours(style_map)
    style_map = maps.snap_to(style_map, colours)
    k = min(len(colours), len(segment.SEGMENT_COLOURS), photo.shape[0] * photo.shape[1])
    segmented = segment.segment(photo, k)
    photo_labels = _labels(segmented, segment.SEGMENT_COLOURS[:k])
    style_labels = _labels(style_map, colours)
    style_means = region_means(style_image, style_labels, len(colours))
    photo_means = region_means(photo, photo_labels, k)
    distance = ((photo_means[:, None] - style_means[None]) ** 2).sum(-1)  # (k photo, K style)
    chosen = distance.argmin(1)
    return colours[chosen][photo_labels]
