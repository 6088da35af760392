"""A sequence of doodles painted in order, each frame coherent with the one before.

Every frame goes through the one pipeline (:func:`doodle.run.api.build_problem`, then
:func:`doodle.run.api.paint_problem`). Frame 0 is painted as any doodle is. Each later
frame starts from the previous painting carried along the doodle's motion
(:func:`doodle.core.motion.warp`) and is held to it by the temporal term
(``PaintingOptions.temporal_weight``) wherever its map colour did not change, so
what did not change stays still instead of being repainted from noise.

A coherent frame runs only the finest ``refine_phases`` phases (default one): the
carried painting already has the layout and the style's colours the coarse phases
exist to find; running them again (down to a quarter of the size, then back up)
measured no less flicker and no better boat for several times the time per frame
(bench/sequence.py, bench/RESULTS.md).

The style's network passes are made once for the whole sequence: the frames share a
``memo`` (:class:`doodle.core.memo.StyleMemo`), the hook :func:`doodle.core.phase.prepare_phase` calls as
``memo(fn, *args)``.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, NamedTuple, Optional, Sequence

import numpy as np

from doodle.errors import InputError
from doodle.core.memo import StyleMemo
from doodle.plan.options import Options
from doodle.run import render

FrameCallback = Callable[[int, Any], None]  # (frame index, doodle.core.synthesis.Progress)


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
      style, style_map: as for :func:`doodle.run.api.build_problem` (arrays or paths).
      options: the painting's options; one random seed serves every frame (drawn
        here when ``options.painting.random_seed`` is None).
      coherent: False paints every frame on its own, from noise (the control).
      refine_phases: how many of the finest phases a coherent frame runs (None: all).
      start: the first frame to paint (a resumed sequence); ``previous`` is then the
        (H, W, 3) uint8 painting of frame ``start - 1``, which the next frame follows.
      callback: receives (frame index, :class:`doodle.core.synthesis.Progress`).
      memo: shares the style's network passes; default: one :class:`doodle.core.memo.StyleMemo`.

    Raises InputError when a map is not the first one's size, or ``start > 0``
    without ``previous`` in coherent mode.
    """
    from doodle.run import api

    if coherent and 0 < start < len(maps) and previous is None:
        raise InputError("a sequence resumed at a later frame needs the previous frame's painting.",
                         "Pass previous=, or start at frame 0.")
    memo = memo if memo is not None else StyleMemo()
    if extractor is None:
        extractor = api.resolve_extractor(options, notice)
    options = _sequence_options(options)
    seed = options.painting.random_seed

    def problem_of(i: int):
        return api.build_problem(style, style_map=style_map, target_map=maps[i], options=options, notice=notice)

    size, before = None, None
    if coherent and 0 < start < len(maps):
        before = problem_of(start - 1).target_map
    for i in range(start, len(maps)):
        problem = problem_of(i)
        size = _same_size(size, problem.size, i)
        frame_options = options
        if coherent and previous is not None and problem.target_map is not None and before is not None:
            problem, frame_options = _carried(problem, options, previous, before, refine_phases,
                                              rng=np.random.default_rng([seed, i]))
        on_progress = None if callback is None else (lambda p, i=i: callback(i, p))
        image = api.paint_problem(problem, frame_options, extractor=extractor, callback=on_progress,
                                  notice=notice, memo=memo)
        yield Frame(i, image)
        previous, before = image, problem.target_map


def _sequence_options(options: Options) -> Options:
    """The options every frame shares: one random seed (drawn once), and no quilting
    by default. Quilting (doodle/core/quilting.py) picks its blocks afresh for each
    frame: a region that did not change would change its strokes, and the first frame,
    painted from nothing, would be quilted while the rest are not."""
    options = options.replace(random_seed=render.draw_seed(options))
    return options.replace(finish="none") if options.painting.finish == "auto" else options


def _same_size(size: Optional[tuple[int, int]], hw: tuple[int, int], i: int) -> tuple[int, int]:
    """The sequence's size: the first frame's; InputError for frame ``i`` of another."""
    if size is not None and hw != size:
        raise InputError(f"frame {i}'s map is {hw[1]}×{hw[0]}, not {size[1]}×{size[0]} "
                         "as the sequence's first.", "Draw every frame of a sequence at one size.")
    return hw


def _carried(problem: Any, options: Options, previous: np.ndarray, before: np.ndarray,
             refine_phases: Optional[int], *, rng: np.random.Generator) -> tuple[Any, Options]:
    """A coherent frame's problem and options: the previous painting carried along the
    doodle's motion (:func:`doodle.core.motion.warp`) as its start and its temporal
    term's target, painted in its finest ``refine_phases`` only."""
    from doodle.core import motion

    carried = motion.warp(previous, before, problem.target_map, rng=rng)
    problem = problem._replace(seed=carried.image, previous=carried.image, still=carried.still)
    if refine_phases is not None and refine_phases < options.painting.phases:
        options = options.replace(phases=refine_phases)
    return problem, options


def flicker(frames: Sequence[np.ndarray], maps: Sequence[np.ndarray]) -> float:
    """Mean absolute difference between consecutive frames' pixels (over the colour
    channels) where the map did not change between them: how much of what should
    stand still moves. (N, H, W, 3) frames and (N, H, W, 3) uint8 maps."""
    from doodle.core.labels import codes

    total, count = 0.0, 0
    for k in range(1, len(frames)):
        same = codes(maps[k]) == codes(maps[k - 1])
        d = np.abs(np.asarray(frames[k], np.float32) - np.asarray(frames[k - 1], np.float32))
        total += float(d[same].sum())
        count += int(same.sum()) * 3
    return total / max(count, 1)

