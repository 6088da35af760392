"""The multi-resolution optimiser: arrays in, a painting out.

Phase ``i`` of ``n`` works at scale ``1 / 2**(n-1-i)`` of the output (and of the
style); each phase starts from the previous result upsampled, the first from the
seed. Within a phase every L-BFGS evaluation runs one compiled program
(:func:`doodle.core.evaluation.iterate`); the matching it decides is carried to the next.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from typing import Any, Callable, Mapping, Optional

import jax
import jax.numpy as jnp
import numpy as np

from doodle.core import hostmem, quilting, tiles, vgg
from doodle.errors import DivergenceError
from doodle.core.evaluation import constants, eval_config, fresh, iterate, reassign
from doodle.core.extractor import Extractor
from doodle.core.memo import StyleMemo
from doodle.core.phase import prepare_phase
from doodle.core.problem import Problem, resize, scaled, style_maps_of, styles_of
from doodle.core.recipe import Recipe

@dataclasses.dataclass(frozen=True)
class Progress:
    """What the optimiser hands the callback.

    ``event`` is "phase" at the start of a phase, "iteration" after each
    evaluation, "skipped" for a phase too small to paint (``message`` says why),
    "done" at the end of a phase, and "quilted" once the painting is redrawn from
    the style's pixels (:mod:`doodle.core.quilting`; ``seconds`` it took). ``image`` is
    the current (h, w, 3) float32 image in [0, 255] (a device array: convert only
    when you need it).
    """

    event: str
    phase: int  # 1-based
    phases: int
    iteration: int  # evaluations done in this phase
    iterations: int  # evaluation budget of this phase
    shape: tuple[int, int]  # (h, w) of this phase
    loss: float = math.nan
    terms: Mapping[str, float] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0  # since the phase started
    image: Any = None
    message: str = ""


Callback = Callable[[Progress], None]


class PhaseTooSmall(ValueError):
    """Raised when no phase is large enough for a 3×3 patch at the deepest layer."""


def initial_image(problem: Problem, recipe: Recipe, hw: tuple[int, int], *, key: jax.Array) -> jax.Array:
    """The first phase's starting image, (h, w, 3) float32 in [0, 255]. Noise has no
    border to wrap; a seed or content image is resized as a periodic one for a seamless tile."""
    wrap = recipe.seamless
    if problem.seed is not None:
        return resize(problem.seed, hw, wrap)
    if recipe.seed == "content" or (recipe.seed == "auto" and problem.content is not None):
        if problem.content is None:
            raise ValueError("seed 'content' needs a content image")
        return resize(problem.content, hw, wrap)
    lo, hi = recipe.seed_range
    return jax.random.uniform(key, hw + (3,), jnp.float32, lo, hi)


def synthesize(
    problem: Problem,
    extractor: Extractor,
    recipe: Recipe,
    *,
    key: jax.Array,
    callback: Optional[Callback] = None,
    memo: Optional[Callable] = None,
) -> np.ndarray:
    """Paint ``problem`` as ``recipe`` says; returns the (H, W, 3) float32 image in [0, 255].

    ``recipe.plan`` (:func:`doodle.plan.planner.plan`) sets each phase's device, slices,
    remat and tiles; without one everything runs on the default device. ``memo``: see
    :func:`doodle.core.phase.prepare_phase` (a batch shares each style's network pass).

    Raises:
      PhaseTooSmall: the output or style is too small for any phase.
      DivergenceError: the loss became NaN or infinite (carries the last good image).
      Whatever ``callback`` raises (KeyboardInterrupt, say), unchanged.
    """
    callback = callback or (lambda p: None)
    layers = recipe.style_layers + recipe.content_layers
    vgg.check_layers(layers, extractor.arch if extractor is not None else "vgg19")
    x = None
    # One key for the distribution terms' directions in every phase: each layer keeps
    # its directions from phase to phase, so they are drawn once per run.
    key, directions_key = jax.random.split(key)
    for i in range(recipe.phases):
        scale = 1.0 / 2 ** (recipe.phases - 1 - i)
        hw = scaled(problem.size, scale)
        if _too_small(problem, recipe, i, hw, scale, callback):
            continue
        key, sub = jax.random.split(key)
        # A tile is upsampled as one: no seam.
        x = initial_image(problem, recipe, hw, key=sub) if x is None else resize(x, hw, recipe.seamless)
        x = _paint_phase(problem, extractor, recipe, i, hw, scale, jnp.clip(x, 0.0, 255.0), callback,
                         key=directions_key, memo=memo)
        if recipe.plan is not None and recipe.plan.memory_short and i < recipe.phases - 1:
            # Every program a phase compiles is specialised to its sizes, which no
            # later phase shares, and on a CPU each phase's set holds 60-190 MiB even
            # after trimming (bench/RESULTS.md, 2026-12-01, the wall-time heading). When memory is short
            # they go before the next phase; a later painting of the same sizes in
            # this process compiles (or loads from the disk cache) again.
            jax.clear_caches()
    x = np.asarray(x)
    return _quilted(x, problem, recipe, callback, key=key) if recipe.quilt else x


def _too_small(problem: Problem, recipe: Recipe, i: int, hw: tuple[int, int], scale: float,
               callback: Callback) -> bool:
    """Whether phase ``i`` (0-based) at ``hw`` is too small for a 3×3 patch at the
    deepest layer, in the output or in the smallest style (which must hold patches at
    this scale too): skipped, said to ``callback``; PhaseTooSmall for the last phase."""
    layers = recipe.style_layers + recipe.content_layers
    need = vgg.min_side(layers)
    smallest = min((s.shape[:2] for s in styles_of(problem)), key=min)
    if min(hw + scaled(smallest, scale)) >= need:
        return False
    if i == recipe.phases - 1:
        raise PhaseTooSmall(
            f"the output ({problem.size[1]}×{problem.size[0]}) or style "
            f"({smallest[1]}×{smallest[0]}) is too small: layer "
            f"{vgg.deepest(layers)} needs images of at least {need}×{need} pixels"
        )
    callback(Progress("skipped", i + 1, recipe.phases, 0, recipe.iterations, hw,
                      message=f"phase {i + 1} at {hw[1]}×{hw[0]} is smaller than {need}×{need}: skipped"))
    return True


def _paint_phase(problem, extractor, recipe, i, hw, scale, x, callback, *, key, memo):
    """Phase ``i`` from ``x``, on the device, slices, remat and tiles the plan gave it
    (without a plan: the default device, the recipe's own choices)."""
    plan = recipe.plan
    rows = plan.slice_rows(i + 1) if plan is not None else None
    device = _device(plan.phases[i].device) if plan is not None else None
    remat = plan.phases[i].remat if plan is not None else None
    release = plan.phases[i].release if plan is not None else recipe.release
    with jax.default_device(device) if device is not None else contextlib.nullcontext():
        if plan is not None and plan.phases[i].tiles > 1:
            return _run_tiled(problem, extractor, recipe, i, hw, scale, x, callback, rows, remat, plan.phases[i],
                              key=key, memo=memo)
        return _run_phase(problem, extractor, recipe, i, hw, scale, x, callback, rows, remat, key=key, memo=memo,
                          release=release)


def _quilted(x: np.ndarray, problem: Problem, recipe: Recipe, callback: Callback, *, key: jax.Array) -> np.ndarray:
    """The painting redrawn in blocks of the style's pixels (:mod:`doodle.core.quilting`),
    region by region when maps steer the painting."""
    start = time.perf_counter()
    maps = recipe.maps
    x = quilting.quilt(x, styles_of(problem), key=key, painting_map=problem.target_map if maps else None,
                       style_maps=style_maps_of(problem) if maps else None)
    n, seconds = recipe.phases, time.perf_counter() - start
    callback(Progress("quilted", n, n, 0, 0, x.shape[:2], seconds=seconds, image=x,
                      message=f"redrawn in blocks of the style's own pixels in {seconds:.1f}s"))
    return x


def _device(kind: str):
    """The first jax device of a planned kind ("cpu" or "gpu": the planner gave a
    phase to a GPU only when it found one)."""
    return jax.devices(kind)[0]


def _run_tiled(problem, extractor, recipe, i, hw, scale, x, callback, slice_rows, remat, phase_plan, *, key,
               memo=None):
    """A phase painted tile by tile (:mod:`doodle.core.tiles`), for an output whose phase
    does not fit in memory whole: each tile is a phase of its own over its part of the
    doodle, content and carried frame, starting from the canvas as it stands, and all
    of them match against one style bank (the style's network pass is made once,
    through ``memo``). The problem's full-size arrays are resized to the phase first
    (as :func:`doodle.core.phase.prepare_phase` would; the maps' channels are affine in
    their colours, so resizing the colours is the same), then cropped."""
    memo = memo if memo is not None else StyleMemo()
    layout = tiles.layout(hw, phase_plan.tile, phase_plan.overlap)
    canvas = np.array(x, np.float32)  # a host copy, pasted into tile by tile

    def at_phase(array):
        return array if array is None or np.shape(array)[:2] == tuple(hw) else np.asarray(resize(array, hw))

    full = {name: at_phase(getattr(problem, name)) for name in ("target_map", "content", "previous", "still")}

    def part(name, t):
        array = full[name]
        return None if array is None else np.asarray(array)[t.y0:t.y1, t.x0:t.x1]

    for k, t in enumerate(layout):
        sub = problem._replace(size=t.hw, **{name: part(name, t) for name in full})
        note = f"tile {k + 1} of {len(layout)}, rows {t.y0}-{t.y1}, columns {t.x0}-{t.x1}"

        def tile_callback(p, note=note):
            callback(dataclasses.replace(p, message=f"{p.message} ({note})" if p.message else note))

        painted = _run_phase(sub, extractor, recipe, i, t.hw, scale, jnp.asarray(tiles.crop(canvas, t)),
                             tile_callback, slice_rows, remat, key=key, memo=memo, release=phase_plan.release)
        canvas = tiles.paste(canvas, np.asarray(painted), layout, k)
    return jnp.asarray(canvas)


def _run_phase(problem, extractor, recipe, i, hw, scale, x, callback, slice_rows=None, remat=None, *, key,
               memo=None, release=False):
    start = time.perf_counter()
    phase = prepare_phase(problem, extractor, recipe, scale, hw, slice_rows, key=key, memo=memo)
    config = eval_config(extractor, recipe, phase, remat)
    consts = constants(extractor, phase)
    state, matching = fresh(config, x, phase)
    base = dict(phase=i + 1, phases=recipe.phases, iterations=recipe.iterations, shape=hw)
    callback(Progress("phase", iteration=0, image=x, **base))
    # A matching at the start before the first evaluation, where the first evaluation
    # needs one: the distribution targets are assigned from its pixels, and the
    # reference matches twice on the first evaluation with variety, so that the bias
    # has a history to work from.
    first_matches = not phase.dist or recipe.weights.variety > 0
    if phase.dist or recipe.weights.variety > 0:
        ev = iterate(config, consts, hw, state, matching, True, False, False)[1]
        matching = reassign(ev.matching, ev.pixels, phase)

    good, loss = x, math.nan
    stall = Stall(recipe.stall_tolerance, recipe.stall_window)
    pending = None  # (iteration, state, evaluation, matched) dispatched but not yet reported
    done_at, message = recipe.iterations, ""
    retargeted = False  # whether the distribution targets moved since the last evaluation
    # Each step is dispatched before the previous one's loss is read, so a GPU never
    # idles while the host converts numbers and calls back (one step of lag).
    for it in range(1, recipe.iterations + 2):
        if it <= recipe.iterations:
            match = (it == 1 and first_matches) or (
                it > 1 and not recipe.cache and (it - 1) % max(1, recipe.match_every) == 0)
            if release and match:
                hostmem.release()  # what the evaluations before freed (the planner counted on it)
            state, ev = iterate(config, consts, hw, state, matching, match, it > 1, not retargeted)
            matching = ev.matching
            retargeted = bool(match and phase.dist)
            if retargeted:  # assigned at this image, used from the next evaluation on
                matching = reassign(matching, ev.pixels, phase)
            # Losses the stall rule compares: those at a fresh matching (with --cache the
            # objective never changes, so every one).
            at_matching = match or it == 1 or recipe.cache
        if pending is not None:
            k, st, pev, matched = pending
            loss = _finite(float(pev.loss), i, good)
            good = st.x.reshape(hw + (3,))
            callback(Progress("iteration", iteration=k, loss=loss, terms={n: float(v) for n, v in pev.terms.items()},
                              seconds=time.perf_counter() - start, image=good, **base))
            if stall.update(k, loss, matched) and k < recipe.iterations:
                done_at, message = k, (f"phase {i + 1} stopped after {k} of {recipe.iterations} evaluations: the "
                                       f"loss improved by less than {100 * stall.tolerance:g}% over the last "
                                       f"{recipe.stall_window}")
                break
        pending = (it, state, ev, at_matching) if it <= recipe.iterations else None
    callback(Progress("done", iteration=done_at, loss=loss, message=message,
                      seconds=time.perf_counter() - start, image=good, **base))
    return good


def _finite(loss: float, i: int, good: Any) -> float:
    """``loss``, or DivergenceError carrying the last good image when it is NaN or infinite."""
    if not math.isfinite(loss):
        raise DivergenceError(f"the optimisation diverged in phase {i + 1} (loss is {loss}).",
                              "Try a lower `style_weight` or `content_weight`, or another `random_seed`.",
                              image=np.asarray(good))
    return loss


class Stall:
    """Whether L-BFGS has stalled: the lowest loss measured right after a matching in
    the last ``window`` evaluations is less than ``tolerance`` (a fraction of it)
    below the lowest measured before them. ``tolerance`` 0: never.

    Only losses at fresh matchings are compared: between two matchings the loss
    falls against fixed targets, and each re-matching moves the targets (up, often,
    by a few per cent), so a loss between matchings is not comparable with one at a
    matching. The lowest of the window rather than the latest, because the
    occurrence penalty makes the loss at matchings alternate: a matching that spreads
    the patches costs more than the one after it, which may take the freed patches
    back (measured on the meadow texture: lows 5 % apart, highs 3-4 % above them).
    """

    def __init__(self, tolerance: float, window: int) -> None:
        self.tolerance, self.window = tolerance, max(1, window)
        self.matched: list[tuple[int, float]] = []  # (evaluation, loss) at each matching

    def update(self, iteration: int, loss: float, matched: bool) -> bool:
        if not matched:
            return False
        self.matched.append((iteration, loss))
        if self.tolerance <= 0:
            return False
        earlier = [l for k, l in self.matched if k <= iteration - self.window]
        if not earlier:
            return False
        before = min(earlier)
        recent = min(l for k, l in self.matched if k > iteration - self.window)
        return before - recent < self.tolerance * abs(before)
