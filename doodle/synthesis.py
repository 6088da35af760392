"""The multi-resolution optimiser: arrays in, a painting out.

Phase ``i`` of ``n`` works at scale ``1 / 2**(n-1-i)`` of the output (and of the
style); each phase starts from the previous result upsampled, the first from the
seed. Within a phase every L-BFGS evaluation runs one jitted function: VGG forward,
exact patch matching at each style layer, the loss, and its gradient through the
same forward pass (``jax.vjp``), so features are computed once per evaluation.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import time
from typing import Any, Callable, Mapping, NamedTuple, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np

from doodle import losses, optim, patches, planner, vgg
from doodle.errors import DivergenceError
from doodle.extractor import Extractor
from doodle.options import Options
from doodle.planner import scaled  # noqa: F401  (one rule for phase sizes, shared with the planner)


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
        ``Options.seed`` ("noise" or "content").
    """

    style: Union[np.ndarray, tuple[np.ndarray, ...]]
    style_map: Union[np.ndarray, tuple[Optional[np.ndarray], ...], None]
    content: Optional[np.ndarray]
    target_map: Optional[np.ndarray]
    size: tuple[int, int]
    seed: Optional[np.ndarray] = None


@dataclasses.dataclass(frozen=True)
class Progress:
    """What the optimiser hands the callback.

    ``event`` is "phase" at the start of a phase, "iteration" after each
    evaluation, "skipped" for a phase too small to paint (``message`` says why),
    and "done" at the end of a phase. ``image`` is the current (h, w, 3) float32
    image in [0, 255] (a device array: convert only when you need it).
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


def styles_of(problem: Problem) -> tuple[np.ndarray, ...]:
    """The style images of a problem, one or several, as a tuple."""
    return tuple(problem.style) if isinstance(problem.style, (tuple, list)) else (problem.style,)


def style_maps_of(problem: Problem) -> tuple[Optional[np.ndarray], ...]:
    """The style maps, aligned with :func:`styles_of` (None where a style has none)."""
    n = len(styles_of(problem))
    if isinstance(problem.style_map, (tuple, list)):
        return tuple(problem.style_map)
    return (problem.style_map,) * n if problem.style_map is None else (problem.style_map,)


def has_maps(problem: Problem, options: Options) -> bool:
    """Whether matching uses semantic maps: every style and the output have one, weight > 0."""
    return (problem.target_map is not None and options.semantic_weight > 0
            and all(m is not None for m in style_maps_of(problem)))


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


def resize(image: Any, hw: tuple[int, int]) -> jax.Array:
    """(H, W, C) -> (h, w, C) float32, bilinear with antialiasing when shrinking."""
    image = jnp.asarray(image, jnp.float32)
    if image.shape[:2] == tuple(hw):
        return image
    return jax.image.resize(image, (hw[0], hw[1], image.shape[2]), "linear", antialias=True)


def style_layers_of(options: Options, extractor: Extractor) -> tuple[str, ...]:
    """The style layers in use: the user's, or the extractor's default."""
    return tuple(options.style_layers) if options.style_layers else tuple(extractor.style_layers)


def content_layers_of(options: Options, problem: Problem) -> tuple[str, ...]:
    """Content layers in use: none without a content image or with weight 0."""
    if problem.content is None or options.content_weight == 0:
        return ()
    return tuple(options.content_layers)


class Phase(NamedTuple):
    """Constant inputs of one phase's evaluation function (all device arrays)."""

    style_raw: dict  # {layer: (hs, ws, C) raw style features; several styles: pooled}
    banks: dict  # {layer: patches.Bank}
    target_sem: dict  # {layer: (h, w, K) pooled output map} or {} without maps
    content: dict  # {layer: (h, w, C) content features}
    labels: dict = {}  # {layer: ((P,) int32, (N,) int32)} centre labels for hard-label matching


MAX_FLAT_COLOURS = 64  # more colours than this and a map is not flat: no hard labels


def palette_of(problem: Problem) -> Optional[np.ndarray]:
    """(L, 4) float32 colours of the style maps as :func:`semantic_channels` gives them,
    or None when the maps are not flat colour regions."""
    from doodle import maps

    colours = np.unique(np.concatenate([maps.palette(np.asarray(m)[..., :3])[0] for m in style_maps_of(problem)]),
                        axis=0)
    if len(colours) > MAX_FLAT_COLOURS:
        return None
    # As semantic_channels gives them, in numpy (a device round trip would wait here
    # for the style's forward pass).
    return np.concatenate([colours / np.float32(255.0), np.ones((len(colours), 1))], axis=1).astype(np.float32)


def parents_of(style_layers: tuple[str, ...], propagate: bool) -> tuple[tuple[str, str], ...]:
    """(layer, parent) for each style layer matched by :func:`doodle.patches.propagate`:
    those finer than relu3_1 with a deeper style layer, whose nearest one is the parent."""
    if not propagate:
        return ()
    pairs = []
    for layer in style_layers:
        deeper = [l for l in style_layers if vgg.downscale(l) > vgg.downscale(layer)]
        if vgg.downscale(layer) < vgg.downscale("3_1") and deeper:
            pairs.append((layer, min(deeper, key=vgg.downscale)))
    return tuple(pairs)


def prepare_phase(
    problem: Problem, extractor: Extractor, options: Options, scale: float, out_hw: tuple[int, int],
    slice_rows: Optional[Mapping[str, int]] = None,
) -> Phase:
    """Style patch banks and content features at one scale.

    Several styles are each resized and run through the network on their own (a
    convolution over a stitched image would blend them at the seam), then pooled
    into one bank per layer (:func:`doodle.patches.pool`).
    """
    style_layers = style_layers_of(options, extractor)
    content_layers = content_layers_of(options, problem)
    semantic = has_maps(problem, options)
    # [({layer: raw (hs, ws, C)}, {layer: normalised}, {layer: pooled map or None})] per style
    per_style = [
        _style_side(extractor.preprocess, extractor.params, image, sem if semantic else None,
                    scaled(image.shape[:2], scale), style_layers, options.semantic_weight)
        for image, sem in zip(styles_of(problem), style_maps_of(problem))
    ]
    tsem = _target_side(problem.target_map, out_hw, style_layers) if semantic else {}
    banks, raw, labels = {}, {}, {}
    palette = palette_of(problem) if semantic and options.hard_labels else None
    for layer in style_layers:
        normed = patches.pool([normed[layer] for _, normed, _ in per_style])
        f = patches.pool([feats[layer] for feats, _, _ in per_style]).array
        if slice_rows and layer in slice_rows:
            rows = slice_rows[layer]
        else:
            # Without a plan: the user's slice count, or one slice per 8 style rows.
            rows = -(-(f.shape[0] - 2) // options.slices) if options.slices else 8
        banks[layer] = patches.make_bank(normed.array, rows, normed.valid)
        raw[layer] = f
        if palette is not None:
            smap = patches.pool([sm[layer] for _, _, sm in per_style]).array
            pair = patches.label_pair(np.asarray(tsem[layer]), np.asarray(smap), palette, normed.valid)
            labels[layer] = jax.device_put(pair)
    content = {}
    if content_layers:
        c = resize(problem.content, out_hw)
        content = _features(extractor, c, content_layers)
    return Phase(style_raw=raw, banks=banks, target_sem=tsem, content=content, labels=labels)


# One compiled program each for a style's and the doodle's side of a phase: as eager
# operations they were ~20 small programs per phase to compile (or load from the
# cache), about a second of every start-up (bench/startup.py).
@functools.partial(jax.jit, static_argnums=(0, 4, 5, 6))
def _style_side(preprocess, params, image, sem, hw, layers, semantic_weight):
    feats = vgg.features(params, resize(image, hw), layers, preprocess)
    sm = resize(semantic_channels(sem), hw) if sem is not None else None
    pooled = {l: patches.pool_map(sm, vgg.downscale(l)) if sm is not None else None for l in layers}
    normed = {l: patches.normalise_style(feats[l], pooled[l], semantic_weight) for l in layers}
    return feats, normed, pooled


@functools.partial(jax.jit, static_argnums=(1, 2))
def _target_side(target_map, hw, layers):
    sem = resize(semantic_channels(target_map), hw)
    return {l: patches.pool_map(sem, vgg.downscale(l)) for l in layers}


def _features(extractor: Extractor, image: jax.Array, layers: tuple[str, ...]) -> dict:
    return vgg.features_jit(extractor.params, image, tuple(layers), extractor.preprocess)


class Evaluation(NamedTuple):
    """One evaluation: loss (float32), grad (h, w, 3), per-term losses, matching state."""

    loss: jax.Array
    grad: jax.Array
    terms: dict
    history: dict  # {layer: (N,) float32}
    index: dict  # {layer: (P,) int32}


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """Everything static about one phase's evaluation: jit compiles once per config and shape.

    Module-level jitted functions keyed on this (rather than closures made per
    phase) let a batch of paintings of the same size share every compilation.
    """

    style_layers: tuple[str, ...]
    content_layers: tuple[str, ...]
    banks: tuple[tuple[str, int, int, int], ...]  # (layer, rows, cols, slice_rows)
    parents: tuple[tuple[str, str], ...]  # (layer, coarser layer) matched by propagation
    style_weight: float
    content_weight: float
    smoothness: float
    semantic_weight: float
    variety: float
    preprocess: vgg.Preprocess


def eval_config(extractor: Extractor, options: Options, problem: Problem, phase: Phase) -> EvalConfig:
    """The static part of a phase's evaluation."""
    style_layers = style_layers_of(options, extractor)
    return EvalConfig(
        style_layers=style_layers,
        content_layers=content_layers_of(options, problem),
        banks=tuple((l, b.rows, b.cols, b.slice_rows) for l, b in phase.banks.items()),
        parents=tuple((l, p) for l, p in parents_of(style_layers, options.propagate)
                      if min(phase.banks[l].rows, phase.banks[l].cols) >= 3),
        style_weight=options.style_weight,
        content_weight=options.content_weight,
        smoothness=options.smoothness,
        semantic_weight=options.semantic_weight,
        variety=options.variety,
        preprocess=extractor.preprocess,
    )


class Constants(NamedTuple):
    """The arrays one phase's evaluation reads but never changes."""

    params: Any
    normed: dict  # {layer: (R·S + 2, Ws, D) normalised style bank}
    style_raw: dict
    target_sem: dict
    content: dict
    valid: dict = {}  # {layer: (rows·cols,) bool} for pooled banks of several styles only
    labels: dict = {}  # {layer: ((P,) int32, (N,) int32)} for hard-label matching


def evaluation(config: EvalConfig, consts: Constants, x: jax.Array, history: dict, index: Optional[dict],
               match: Optional[jax.Array] = None) -> Evaluation:
    """Loss and gradient at ``x`` (h, w, 3) float32 in [0, 255], matching included.

    Features are computed once: the forward pass feeds the matcher and its VJP
    carries the loss gradient back to the pixels. With ``index`` None the patches
    are matched afresh; with a dict of indices they are reused, unless ``match``
    (a () bool, traced) says to match afresh: one compiled program then serves
    both kinds of evaluation.
    """
    layers = tuple(dict.fromkeys(config.style_layers + config.content_layers))
    feats, pullback = jax.vjp(lambda img: vgg.features(consts.params, img, layers, config.preprocess), x)
    raw = {l: jax.lax.stop_gradient(feats[l]) for l in config.style_layers}
    if index is None:
        new_index, new_hist = _match_all(config, consts, raw, history)
    elif match is None:
        new_index, new_hist = index, history
    else:
        new_index, new_hist = jax.lax.cond(match, lambda: _match_all(config, consts, raw, history),
                                           lambda: (index, history))
    targets = {l: patches.fold(consts.style_raw[l], new_index[l], raw[l].shape[:2]) for l in config.style_layers}

    def feature_loss(fs):
        terms = {f"style {l}": config.style_weight * losses.mrf_loss(fs[l], targets[l]) for l in config.style_layers}
        terms.update({f"content {l}": config.content_weight * losses.content_loss(fs[l], consts.content[l])
                      for l in config.content_layers})
        return sum(terms.values(), jnp.float32(0.0)), terms

    (floss, terms), gfeats = jax.value_and_grad(feature_loss, has_aux=True)(feats)
    (grad,) = pullback(gfeats)
    tv, gtv = jax.value_and_grad(losses.total_variation)(x)
    terms["smoothness"] = config.smoothness * tv
    return Evaluation(floss + config.smoothness * tv, grad + config.smoothness * gtv, terms, new_hist, new_index)


def _match_all(config: EvalConfig, consts: Constants, raw: dict, history: dict) -> tuple[dict, dict]:
    """Fresh matches at every style layer: ({layer: (P,) int32}, {layer: (N,) float32})."""
    shapes = {l: (rows, cols, srows) for l, rows, cols, srows in config.banks}
    parents = dict(config.parents)
    new_index, new_hist = {}, {}
    # Deepest first: a propagated layer starts from its coarser parent's matches.
    for l in sorted(config.style_layers, key=vgg.downscale, reverse=True):
        out = patches.normalise_output(raw[l], consts.target_sem.get(l), config.semantic_weight)
        bank = patches.Bank(consts.normed[l], *shapes[l], valid=consts.valid.get(l))
        if l in parents:
            p = parents[l]
            new_index[l] = patches.propagate(
                out, bank, new_index[p], raw[p].shape[:2], shapes[p][1],
                vgg.downscale(p) // vgg.downscale(l), consts.labels.get(l))
            new_hist[l] = history[l]  # variety's history is kept for searched layers only
        else:
            m = patches.match(out, bank, history[l], config.variety, consts.labels.get(l))
            new_index[l], new_hist[l] = m.index, m.history
    return new_index, new_hist


evaluation_jit = jax.jit(evaluation, static_argnums=0)


@functools.partial(jax.jit, static_argnums=(0, 2))
def _iterate(config, consts, hw, state, history, index, match, move):
    """One L-BFGS step (``move`` False: evaluate where the state is, for a fresh
    state) with one evaluation, matching afresh where ``match``: the only program a
    phase compiles."""

    def evaluate(flat):
        ev = evaluation(config, consts, flat.reshape(hw + (3,)), history, index, match)
        return ev.loss, ev.grad.reshape(-1), ev

    # Without re-matching the objective is the last evaluation's: a step that made
    # it much worse can be told apart, and is rejected (see optim.step).
    return optim.step(state, evaluate, 0.0, 255.0, move=move, comparable=move & ~jnp.asarray(match))


def fresh(config: EvalConfig, x: jax.Array, banks: Mapping[str, patches.Bank]) -> tuple[optim.LBFGSState, dict, dict]:
    """A phase's starting optimiser state at ``x`` (h, w, 3), empty histories and
    placeholder matches (the first evaluation matches afresh)."""
    return _fresh(config, x, tuple((l, b.size) for l, b in banks.items()))


@functools.partial(jax.jit, static_argnums=(0, 2))
def _fresh(config, x, sizes):
    # One program rather than a dozen eager ones (each its own compile-cache load).
    h, w = x.shape[:2]
    index = {}
    for l in config.style_layers:
        fh, fw = vgg.feature_size(h, w, l)
        index[l] = jnp.zeros(((fh - 2) * (fw - 2),), jnp.int32)
    history = {l: jnp.zeros((n,), jnp.float32) for l, n in sizes}
    flat = x.reshape(-1)
    return optim.init(flat, jnp.float32(jnp.nan), jnp.zeros_like(flat)), history, index


def make_evaluate(extractor: Extractor, options: Options, problem: Problem, phase: Phase):
    """``(x, history, index=None) -> Evaluation`` for one phase (see :func:`evaluation`)."""
    config = eval_config(extractor, options, problem, phase)
    consts = constants(extractor, phase)

    def evaluate(x, history, index=None):
        return evaluation_jit(config, consts, x, history, index)

    return evaluate


def constants(extractor: Extractor, phase: Phase) -> Constants:
    """The arrays of one phase's evaluation."""
    return Constants(extractor.params, {l: b.normed for l, b in phase.banks.items()},
                     phase.style_raw, phase.target_sem, phase.content,
                     {l: b.valid for l, b in phase.banks.items() if b.valid is not None}, phase.labels)


def initial_image(problem: Problem, options: Options, hw: tuple[int, int], *, key: jax.Array) -> jax.Array:
    """The first phase's starting image, (h, w, 3) float32 in [0, 255]."""
    if problem.seed is not None:
        return resize(problem.seed, hw)
    if options.seed == "content":
        if problem.content is None:
            raise ValueError("seed 'content' needs a content image")
        return resize(problem.content, hw)
    lo, hi = options.seed_range
    return jax.random.uniform(key, hw + (3,), jnp.float32, lo, hi)


def synthesize(
    problem: Problem,
    extractor: Extractor,
    options: Options,
    *,
    key: jax.Array,
    callback: Optional[Callback] = None,
    plan: Optional["planner.Plan"] = None,
) -> np.ndarray:
    """Paint ``problem``; returns the (H, W, 3) float32 image in [0, 255].

    ``plan`` (from :func:`doodle.planner.plan`) sets each phase's device and slice
    sizes; without one everything runs on the default device.

    Raises:
      PhaseTooSmall: the output or style is too small for any phase.
      DivergenceError: the loss became NaN or infinite (carries the last good image).
      Whatever ``callback`` raises (KeyboardInterrupt, say), unchanged.
    """
    callback = callback or (lambda p: None)
    style_layers = style_layers_of(options, extractor)
    content_layers = content_layers_of(options, problem)
    vgg.check_layers(style_layers + content_layers)
    need = vgg.min_side(style_layers + content_layers)
    x = None
    for i in range(options.phases):
        scale = 1.0 / 2 ** (options.phases - 1 - i)
        hw = scaled(problem.size, scale)
        # Every style must hold patches at this scale: the smallest one decides.
        smallest = min((s.shape[:2] for s in styles_of(problem)), key=min)
        style_hw = scaled(smallest, scale)
        if min(hw + style_hw) < need:
            if i == options.phases - 1:
                raise PhaseTooSmall(
                    f"the output ({problem.size[1]}×{problem.size[0]}) or style "
                    f"({smallest[1]}×{smallest[0]}) is too small: layer "
                    f"{vgg.deepest(style_layers + content_layers)} needs images of at least {need}×{need} pixels"
                )
            callback(Progress("skipped", i + 1, options.phases, 0, options.iterations, hw,
                              message=f"phase {i + 1} at {hw[1]}×{hw[0]} is smaller than {need}×{need}: skipped"))
            continue
        if x is None:
            key, sub = jax.random.split(key)
            x = initial_image(problem, options, hw, key=sub)
        else:
            x = resize(x, hw)
        x = jnp.clip(x, 0.0, 255.0)
        rows = plan.slice_rows(i + 1) if plan is not None else None
        device = _device(plan.phases[i].device) if plan is not None else None
        with jax.default_device(device) if device is not None else contextlib.nullcontext():
            x = _run_phase(problem, extractor, options, i, hw, scale, x, callback, rows)
    return np.asarray(x)


def _device(kind: str):
    """The first jax device of a planned kind ("cpu" or "gpu")."""
    if kind == "gpu":
        return planner.gpu_devices()[0]
    return jax.devices("cpu")[0]


def _run_phase(problem, extractor, options, i, hw, scale, x, callback, slice_rows=None):
    start = time.perf_counter()
    phase = prepare_phase(problem, extractor, options, scale, hw, slice_rows)
    config = eval_config(extractor, options, problem, phase)
    consts = constants(extractor, phase)
    state, history, index = fresh(config, x, phase.banks)
    base = dict(phase=i + 1, phases=options.phases, iterations=options.iterations, shape=hw)
    callback(Progress("phase", iteration=0, image=x, **base))
    if options.variety > 0:
        # The reference matches twice on the first evaluation when variety is on, so
        # the bias has a history to work from.
        history = _iterate(config, consts, hw, state, history, index, True, False)[1].history

    good = x
    loss = math.nan
    stall = Stall(options.stall_tolerance, options.stall_window)
    pending = None  # (iteration, state, evaluation, matched) dispatched but not yet reported
    done_at, message = options.iterations, ""
    # Each step is dispatched before the previous one's loss is read, so a GPU never
    # idles while the host converts numbers and calls back (one step of lag).
    for it in range(1, options.iterations + 2):
        if it <= options.iterations:
            match = it == 1 or (not options.cache and (it - 1) % max(1, options.match_every) == 0)
            state, ev = _iterate(config, consts, hw, state, history, index, match, it > 1)
            history, index = ev.history, ev.index
            # Losses the stall rule compares: those at a fresh matching (with --cache the
            # objective never changes, so every one).
            at_matching = match or options.cache
        if pending is not None:
            k, st, pev, matched = pending
            loss = float(pev.loss)
            if not math.isfinite(loss):
                raise DivergenceError(
                    f"the optimisation diverged in phase {i + 1} (loss is {loss}).",
                    "Try a lower --style-weight or --content-weight, or another --random-seed.",
                    image=np.asarray(good),
                )
            good = st.x.reshape(hw + (3,))
            callback(Progress("iteration", iteration=k, loss=loss, terms={n: float(v) for n, v in pev.terms.items()},
                              seconds=time.perf_counter() - start, image=good, **base))
            if stall.update(k, loss, matched) and k < options.iterations:
                done_at = k
                message = (f"phase {i + 1} stopped after {k} of {options.iterations} evaluations: the loss "
                           f"improved by less than {100 * options.stall_tolerance:g}% over the last "
                           f"{options.stall_window}")
                break
        pending = (it, state, ev, at_matching) if it <= options.iterations else None
    callback(Progress("done", iteration=done_at, loss=loss, message=message,
                      seconds=time.perf_counter() - start, image=good, **base))
    return good


class Stall:
    """Whether L-BFGS has stalled: the loss measured right after a matching fell by
    less than ``tolerance`` (a fraction of it) against the one measured at least
    ``window`` evaluations before. ``tolerance`` 0: never.

    Only losses at fresh matchings are compared: between two matchings the loss
    falls against fixed targets, and each re-matching moves the targets (up, often,
    by a few per cent), so neither the latest nor the best loss of a window is
    comparable with an earlier one. The loss at a matching is the image's distance
    to its nearest style patches, the same measure every time.
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
        before = earlier[-1]
        return before - loss < self.tolerance * abs(before)
