"""A sequence of doodles painted in order, each frame coherent with the one before.

Every frame goes through the one pipeline (:func:`doodle.api.build_problem`, then
:func:`doodle.api.paint_problem`). Frame 0 is painted as any doodle is. Each later
frame starts from the previous painting carried along the doodle's motion
(:func:`doodle.motion.warp`) and is held to it by the temporal term
(``PaintingOptions.temporal_weight``) wherever its map colour did not change, so
what did not change stays still instead of being repainted from noise.

A coherent frame runs only the finest ``refine_phases`` phases (default one): the
carried painting already has the layout and the style's colours the coarse phases
exist to find; running them again (down to a quarter of the size, then back up)
measured no less flicker and no better boat for several times the time per frame
(bench/sequence.py, bench/RESULTS.md).

The style's network passes are made once for the whole sequence: the frames share a
``memo`` (:class:`doodle.memo.StyleMemo`), the hook :func:`doodle.phase.prepare_phase` calls as
``memo(fn, *args)``.
"""
from __future__ import annotations

import secrets
from typing import Any, Callable, Iterator, NamedTuple, Optional, Sequence

import numpy as np

from doodle.errors import InputError
from doodle.memo import StyleMemo
from doodle.options import Options

FrameCallback = Callable[[int, Any], None]  # (frame index, doodle.synthesis.Progress)


class Frame(NamedTuple):
    """One painted frame: its position in the sequence and the (H, W, 3) uint8 painting."""

    index: int
    image: np.ndarray


def paint_sequence(
    style: Any,
    maps: Sequence[Any],
    *,
    style_map: Any = None,
    options: Options = Options(),
    extractor: Any = None,
    coherent: bool = True,
    refine_phases: Optional[int] = 1,
    start: int = 0,
    previous: Optional[np.ndarray] = None,
    callback: Optional[FrameCallback] = None,
    notice: Callable[[str], None] = lambda s: None,
    memo: Optional[Callable] = None,
) -> Iterator[Frame]:
    """Paint the doodles ``maps`` (paths or (H, W, 3) uint8 arrays, all one size) in
    order, yielding each :class:`Frame` as it is done.

    Args:
      style, style_map: as for :func:`doodle.api.build_problem` (arrays or paths).
      options: the painting's options; one random seed serves every frame (drawn
        here when ``options.painting.random_seed`` is None).
      coherent: False paints every frame on its own, from noise (the control).
      refine_phases: how many of the finest phases a coherent frame runs (None: all).
      start: the first frame to paint (a resumed sequence); ``previous`` is then the
        (H, W, 3) uint8 painting of frame ``start - 1``, which the next frame follows.
      callback: receives (frame index, :class:`doodle.synthesis.Progress`).
      memo: shares the style's network passes; default: one :class:`doodle.memo.StyleMemo`.

    Raises InputError when a map is not the first one's size, or ``start > 0``
    without ``previous`` in coherent mode.
    """
    from doodle import api, motion

    if coherent and 0 < start < len(maps) and previous is None:
        raise InputError("a sequence resumed at a later frame needs the previous frame's painting.",
                         "Pass previous=, or start at frame 0.")
    memo = memo if memo is not None else StyleMemo()
    if extractor is None:
        extractor = api.resolve_extractor(options, notice)
    seed = options.painting.random_seed
    options = options.replace(random_seed=seed if seed is not None else secrets.randbits(31))
    if options.painting.finish == "auto":
        # Quilting (doodle/quilting.py) picks its blocks afresh for each frame: a region
        # that did not change would change its strokes, and the first frame, painted
        # from nothing, would be quilted while the rest are not. Frames are not quilted.
        options = options.replace(finish="none")
    seed = options.painting.random_seed

    def problem_of(i: int):
        return api.build_problem(style, style_map=style_map, target_map=maps[i], options=options, notice=notice)

    size, before = None, None
    if coherent and 0 < start < len(maps):
        before = problem_of(start - 1).target_map
    for i in range(start, len(maps)):
        problem = problem_of(i)
        if size is None:
            size = problem.size
        elif problem.size != size:
            raise InputError(f"frame {i}'s map is {problem.size[1]}×{problem.size[0]}, not {size[1]}×{size[0]} "
                             "as the sequence's first.", "Draw every frame of a sequence at one size.")
        frame_options = options
        if coherent and previous is not None and problem.target_map is not None and before is not None:
            carried = motion.warp(previous, before, problem.target_map, rng=np.random.default_rng([seed, i]))
            problem = problem._replace(seed=carried.image, previous=carried.image, still=carried.still)
            phases = options.painting.phases
            if refine_phases is not None and refine_phases < phases:
                frame_options = options.replace(phases=refine_phases)
        on_progress = None if callback is None else (lambda p, i=i: callback(i, p))
        image = api.paint_problem(problem, frame_options, extractor=extractor, callback=on_progress,
                                  notice=notice, memo=memo)
        yield Frame(i, image)
        previous, before = image, problem.target_map


def flicker(frames: Sequence[np.ndarray], maps: Sequence[np.ndarray]) -> float:
    """Mean absolute difference between consecutive frames' pixels (over the colour
    channels) where the map did not change between them: how much of what should
    stand still moves. (N, H, W, 3) frames and (N, H, W, 3) uint8 maps."""
    from doodle.motion import labels_of

    total, count = 0.0, 0
    for k in range(1, len(frames)):
        same = labels_of(maps[k]) == labels_of(maps[k - 1])
        d = np.abs(np.asarray(frames[k], np.float32) - np.asarray(frames[k - 1], np.float32))
        total += float(d[same].sum())
        count += int(same.sum()) * 3
    return total / max(count, 1)

