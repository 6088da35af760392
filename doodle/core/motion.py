"""How a doodle moved from one frame to the next, and the previous painting moved with it.

Arrays in, arrays out (numpy). A region is the set of pixels of one map colour; its
motion is estimated as one whole-pixel shift, the move of its bounding box's centre
(:func:`region_shifts`). Doodles are flat colour regions drawn or generated frame by
frame: a region that moves is mostly a shape carried across the picture, which one
shift per region describes exactly, where an optical flow of the maps would have no
texture to follow inside a flat region (its flow is only defined at the region's
edges and must be filled in from them) and would cost a dependency or a solver of
its own. A region whose shape changes (grows, turns) gets the shift of its box's
centre, a first guess the optimiser corrects.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from doodle.core.labels import codes, uncode


class Shift(NamedTuple):
    """One region's move between two frames, in whole pixels (down, right)."""

    colour: tuple[int, int, int]
    dy: int
    dx: int


class _Move(NamedTuple):
    colour: tuple[int, int, int]
    dy: int
    dx: int
    source: np.ndarray  # (H, W) bool: the shape's pixels in the earlier map


def region_shifts(before: np.ndarray, after: np.ndarray) -> list[Shift]:
    """The shift of every shape that moved between two (H, W, 3) uint8 maps of the
    same size: the move of the centre of its bounding box, rounded.

    A shape is a connected region of one colour: a boat drawn in the rocks' colour
    moves while the headland stays. Each shape of the later map is paired with the
    shape of its colour in the earlier map it overlaps most (else the nearest one).
    For a shape moved whole the box's move is its move exactly, as its centroid's
    would be; for a shape that also changed (entering at the border, turning) either
    is a first guess the optimiser corrects. Shapes of a colour absent from either
    map have no shift (nothing to carry).
    """
    return [Shift(m.colour, m.dy, m.dx) for m in _moves(before, after)]


def _moves(before: np.ndarray, after: np.ndarray) -> list[_Move]:
    from scipy import ndimage

    a, b = codes(before), codes(after)
    moves = []
    for code in np.intersect1d(np.unique(a), np.unique(b)):
        was, now = a == code, b == code
        if np.array_equal(was, now):
            continue
        was_parts, n_was = ndimage.label(was)
        now_parts, n_now = ndimage.label(now)
        was_centres = [_box_centre(was_parts == i) for i in range(1, n_was + 1)]
        for j in range(1, n_now + 1):
            part = now_parts == j
            overlap = np.bincount(was_parts[part], minlength=n_was + 1)[1:]
            centre = _box_centre(part)
            i = int(np.argmax(overlap)) if overlap.max() > 0 else int(np.argmin(
                [(y - centre[0]) ** 2 + (x - centre[1]) ** 2 for y, x in was_centres]))
            source = was_parts == i + 1
            if np.array_equal(source, part):
                continue
            dy, dx = int(round(centre[0] - was_centres[i][0])), int(round(centre[1] - was_centres[i][1]))
            if dy or dx:
                moves.append(_Move(tuple(int(c) for c in uncode([code])[0]), dy, dx, source))
    return moves


def _box_centre(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    return (ys.min() + ys.max()) / 2.0, (xs.min() + xs.max()) / 2.0


def _shifted(a: np.ndarray, dy: int, dx: int, fill) -> np.ndarray:
    """``a`` moved by (dy, dx) (no wrapping: what enters is ``fill``)."""
    out = np.full_like(a, fill)
    h, w = a.shape[:2]
    if abs(dy) >= h or abs(dx) >= w:
        return out
    src = a[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    out[max(0, dy):max(0, dy) + src.shape[0], max(0, dx):max(0, dx) + src.shape[1]] = src
    return out


class Warped(NamedTuple):
    """The previous painting carried to the next frame.

    Attributes:
      image: (H, W, 3) float32 in [0, 255], the next frame's starting image.
      still: (H, W) float32, 1 where the carried painting belongs to the region the
        next map has there (the temporal term holds these pixels), else 0.
    """

    image: np.ndarray
    still: np.ndarray


def warp(painting: np.ndarray, before: np.ndarray, after: np.ndarray, *, rng: np.random.Generator) -> Warped:
    """The previous ``painting`` (H, W, 3) of map ``before`` carried to map ``after``
    (both (H, W, 3) uint8): each moved shape's pixels moved by its shift
    (:func:`region_shifts`), the rest where they were.

    Pixels whose new colour the carried painting still lacks there (uncovered by a
    moving shape, or a region that appeared) start as the carried painting mirrored
    across the nearest pixel of their colour it has (each takes the pixel as far on
    the other side of that one): the region's own texture, continued across the
    edge, where noise would leave a trail the finest phase alone cannot repaint, and
    a smear of the edge's pixels would be a flat start the patch loss keeps flat. A
    colour the carried painting lacks everywhere starts from pixels drawn at random
    from it by ``rng``.
    """
    image = np.asarray(painting, np.float32).copy()
    regions = codes(before).copy()
    new = codes(after)
    for move in _moves(before, after):
        code = codes(np.array(move.colour))
        moved = _shifted(move.source, move.dy, move.dx, False)
        pixels = _shifted(np.asarray(painting, np.float32), move.dy, move.dx, 0.0)
        image[moved] = pixels[moved]
        regions[moved] = code
    still = regions == new
    for code in np.unique(new[~still]):
        where = (new == code) & ~still
        source = (regions == code) & still
        if not source.any():
            pool = image.reshape(-1, 3)
            image[where] = pool[rng.integers(0, len(pool), int(where.sum()))]
            continue
        image[where] = _mirrored(image, source)[where]
    return Warped(image, still.astype(np.float32))


def _mirrored(image: np.ndarray, source: np.ndarray) -> np.ndarray:
    """``image`` at every pixel p: the pixel 2q - p, q the nearest pixel of the (H, W)
    bool mask ``source``, where that one is in ``source`` too, else q itself."""
    from scipy import ndimage

    h, w = source.shape
    qy, qx = ndimage.distance_transform_edt(~source, return_distances=False, return_indices=True)
    py, px = np.mgrid[0:h, 0:w]
    my, mx = np.clip(2 * qy - py, 0, h - 1), np.clip(2 * qx - px, 0, w - 1)
    ok = source[my, mx]
    return image[np.where(ok, my, qy), np.where(ok, mx, qx)]
