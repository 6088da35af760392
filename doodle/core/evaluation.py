"""One evaluation of the objective: loss and gradient at an image, matching included.

Within a phase every L-BFGS step runs one compiled program (:func:`iterate`): the
network's forward pass, the patch matching at each style layer (when due), the loss
terms and their gradient through the same forward pass (``jax.vjp``), so features are
computed once per evaluation. What a matching decides is carried from one evaluation
to the next in a :class:`Matching`.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Mapping, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from doodle.core import distribution, losses, optim, patches, propagation, vgg
from doodle.core.extractor import Extractor
from doodle.core.phase import Phase
from doodle.core.recipe import Recipe, Weights

RGB = distribution.RGB


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
    weights: Weights  # temporal_weight 0 outside a sequence
    preprocess: vgg.Preprocess
    remat: bool = False  # rematerialise the network's activations in the backward pass (the planner's choice)
    seamless: bool = False  # the output is a periodic tile (--seamless)


def eval_config(extractor: Extractor, recipe: Recipe, phase: Phase, remat: Optional[bool] = None) -> EvalConfig:
    """The static part of a phase's evaluation. ``remat``: the plan's choice for the
    phase; None: ``recipe.remat`` (the user's "on")."""
    return EvalConfig(
        style_layers=recipe.style_layers,
        content_layers=recipe.content_layers,
        banks=tuple((l, b.rows, b.cols, b.slice_rows) for l, b in phase.banks.items()),
        parents=tuple((l, p) for l, p in recipe.parents if min(phase.banks[l].rows, phase.banks[l].cols) >= 3),
        weights=recipe.weights if phase.previous is not None else recipe.weights._replace(temporal_weight=0.0),
        preprocess=extractor.preprocess,
        remat=recipe.remat if remat is None else remat,
        seamless=recipe.seamless,
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
    expected: dict = {}  # {layer: (N,) float32} uses of each style patch if all were used evenly
    previous: Any = None  # (h, w, 3) a sequence's previous painting, carried; None outside one
    still: Any = None  # (h, w) where the temporal term holds to it


def constants(extractor: Extractor, phase: Phase) -> Constants:
    """The arrays of one phase's evaluation."""
    return Constants(extractor.params, {l: b.normed for l, b in phase.banks.items()},
                     phase.style_raw, phase.target_sem, phase.content,
                     {l: b.valid for l, b in phase.banks.items() if b.valid is not None}, phase.labels,
                     _expected(phase), phase.previous, phase.still)


def _expected(phase: Phase) -> dict:
    """{layer: (N,) float32} for hard-labelled layers: how often each style patch would
    be taken if the output patches of a region used the style patches of that region
    evenly (the occurrence penalty's n/m, Zhou et al. 2023, "Guided Correspondence")."""
    out = {}
    for layer, (out_labels, style_labels) in phase.labels.items():
        out_labels, style_labels = np.asarray(out_labels), np.asarray(style_labels)
        bank = phase.banks[layer]
        valid = np.ones(bank.size, bool) if bank.valid is None else np.asarray(bank.valid)
        n_out = np.bincount(out_labels[out_labels >= 0], minlength=style_labels.max() + 1)
        n_style = np.bincount(style_labels[valid], minlength=len(n_out))
        share = n_out[style_labels] / np.maximum(n_style[style_labels], 1)
        out[layer] = jax.device_put(np.where(valid, share, 0.0).astype(np.float32))
    return out


class Matching(NamedTuple):
    """What the latest matching decided, carried between evaluations.

    Attributes:
      index: {layer: (P,) int32} each output patch's style patch.
      penalty: {layer: (N,) float32} subtracted from each style patch's score at the
        next matching (``variety`` and ``occurrence``; zeros without them).
      assigned: {layer or RGB: :class:`doodle.core.distribution.Assigned`} the
        distribution terms' targets.
    """

    index: dict
    penalty: dict
    assigned: dict


class Evaluation(NamedTuple):
    """One evaluation: loss (float32), grad (h, w, 3), per-term losses, the matching
    it used, and the pixels of the distribution terms' layers at this image
    ({name: (X, C)}, from which the next targets are assigned)."""

    loss: jax.Array
    grad: jax.Array
    terms: dict
    matching: Matching
    pixels: dict


def evaluation(config: EvalConfig, consts: Constants, x: jax.Array, matching: Matching,
               match: Any = True) -> Evaluation:
    """Loss and gradient at ``x`` (h, w, 3) float32 in [0, 255].

    Features are computed once: the forward pass feeds the matcher and its VJP
    carries the loss gradient back to the pixels. ``match`` True (or a traced ()
    bool that is true) matches the patches afresh; False reuses ``matching.index``.
    The distribution terms use ``matching.assigned`` as they are: they are
    reassigned between evaluations (:func:`reassign`).
    """
    layers = tuple(dict.fromkeys(config.style_layers + config.content_layers))
    feats, pullback = jax.vjp(lambda img: vgg.features(consts.params, img, layers, config.preprocess,
                                                       wrap=config.seamless, remat=config.remat), x)
    raw = {l: jax.lax.stop_gradient(feats[l]) for l in config.style_layers}
    # The layers' output patches: for a seamless tile, those straddling the border too.
    outward = patches.wrap if config.seamless else (lambda a: a)
    out_raw = {l: outward(raw[l]) for l in config.style_layers}
    if match is True:
        index, penalty = match_all(config, consts, out_raw, matching.penalty)
    elif match is False:
        index, penalty = matching.index, matching.penalty
    else:
        index, penalty = jax.lax.cond(match, lambda: match_all(config, consts, out_raw, matching.penalty),
                                      lambda: (matching.index, matching.penalty))
    targets = {l: patches.fold(consts.style_raw[l], index[l], out_raw[l].shape[:2]) for l in config.style_layers}

    def pixels_of(name, fs):
        a = x if name == RGB else fs[name]
        return a.reshape(-1, a.shape[-1])

    def feature_loss(fs):
        terms = {f"style {l}": config.weights.style_weight * losses.mrf_loss(outward(fs[l]), targets[l])
                 for l in config.style_layers}
        terms.update({f"content {l}": config.weights.content_weight * losses.content_loss(fs[l], consts.content[l])
                      for l in config.content_layers})
        terms.update({f"distribution {l}": config.weights.distribution_weight * distribution.loss(
            pixels_of(l, fs), matching.assigned[l]) for l in config.style_layers if l in matching.assigned})
        return sum(terms.values(), jnp.float32(0.0)), terms

    (floss, terms), gfeats = jax.value_and_grad(feature_loss, has_aux=True)(feats)
    (grad,) = pullback(gfeats)

    def pixel_loss(img):
        t = {"smoothness": config.weights.smoothness * losses.total_variation(img, wrap=config.seamless)}
        if RGB in matching.assigned:
            t["colour"] = config.weights.color_weight * distribution.loss(img.reshape(-1, 3), matching.assigned[RGB])
        if consts.previous is not None and config.weights.temporal_weight > 0:
            t["temporal"] = config.weights.temporal_weight * temporal_loss(img, consts.previous, consts.still)
        return sum(t.values(), jnp.float32(0.0)), t

    (ploss, pterms), gpix = jax.value_and_grad(pixel_loss, has_aux=True)(x)
    terms.update(pterms)
    pixels = {n: pixels_of(n, raw) for n in matching.assigned}
    return Evaluation(floss + ploss, grad + gpix, terms, Matching(index, penalty, matching.assigned), pixels)


def temporal_loss(image: jax.Array, previous: jax.Array, still: jax.Array) -> jax.Array:
    """Mean squared difference of (h, w, 3) ``image`` to ``previous`` over the pixels
    weighted by (h, w) ``still`` (a weighted mean: the term's scale does not depend on
    how much of the frame is still). A short-term temporal loss as Ruder et al. 2016
    ("Artistic style transfer for videos") use, with the doodle's region shifts in
    place of their optical flow and its changed-colour mask in place of their
    occlusion mask."""
    d = image - previous
    return jnp.sum(still[..., None] * d * d) / (3.0 * jnp.maximum(jnp.sum(still), 1.0))


def match_all(config: EvalConfig, consts: Constants, raw: dict, penalty: dict) -> tuple[dict, dict]:
    """Fresh matches at every style layer, and the penalties for the next matching:
    ({layer: (P,) int32}, {layer: (N,) float32}). ``raw``: {layer: (H, W, C)} the
    output's features, already :func:`doodle.core.patches.wrap`-ped for a seamless tile
    (its map in ``consts.target_sem`` is wrapped here to match)."""
    shapes = {l: (rows, cols, srows) for l, rows, cols, srows in config.banks}
    parents = dict(config.parents)
    new_index, new_penalty = {}, {}
    # Deepest first: a propagated layer starts from its coarser parent's matches.
    for l in sorted(config.style_layers, key=vgg.downscale, reverse=True):
        sem = consts.target_sem.get(l)
        if sem is not None and config.seamless:
            sem = patches.wrap(sem)
        out = patches.normalise_output(raw[l], sem, config.weights.semantic_weight)
        bank = patches.Bank(consts.normed[l], *shapes[l], valid=consts.valid.get(l))
        if l in parents:
            # For a tile both layers are wrapped: the window starts are computed on the
            # padded grids as they are (a start is a guess the 3×3 window corrects).
            p = parents[l]
            new_index[l] = propagation.propagate(
                out, bank, new_index[p], raw[p].shape[:2], shapes[p][1],
                vgg.downscale(p) // vgg.downscale(l), consts.labels.get(l))
            new_penalty[l] = penalty[l]  # penalties apply to searched layers only
            continue
        biased = config.weights.variety != 0 or config.weights.occurrence != 0
        m = patches.match(out, bank, penalty[l] if biased else None, consts.labels.get(l),
                          track=config.weights.variety != 0)
        new_index[l] = m.index
        new_penalty[l] = config.weights.variety * m.history
        if config.weights.occurrence:
            uses = jnp.zeros((bank.size,), jnp.float32).at[m.index].add(1.0)
            expected = consts.expected.get(l)
            if expected is None:  # one region: every output patch shares every valid style patch
                expected = m.index.shape[0] / (bank.size if bank.valid is None else jnp.sum(bank.valid))
            # A patch no output patch should take (expected 0) is never taken: 0 / tiny.
            new_penalty[l] = new_penalty[l] + config.weights.occurrence * uses / jnp.maximum(expected, 1e-6)
    return new_index, new_penalty


evaluation_jit = jax.jit(evaluation, static_argnums=(0, 4))


@functools.partial(jax.jit, static_argnums=(0, 2))
def iterate(config, consts, hw, state, matching, match, move, comparable):
    """One L-BFGS step (``move`` False: evaluate where the state is, for a fresh
    state) with one evaluation, matching afresh where ``match``: the only program a
    phase compiles. ``comparable``: the objective is the previous evaluation's (no
    re-matching or reassignment since): a step that made it much worse can be told
    apart, and is rejected (see :func:`doodle.core.optim.step`)."""

    def evaluate(flat):
        ev = evaluation(config, consts, flat.reshape(hw + (3,)), matching, match)
        return ev.loss, ev.grad.reshape(-1), ev

    return optim.step(state, evaluate, 0.0, 255.0, move=move, comparable=move & comparable & ~jnp.asarray(match))


def reassign(matching: Matching, pixels: Mapping[str, jax.Array], phase: Phase) -> Matching:
    """``matching`` with the distribution terms' targets assigned afresh from an
    evaluation's pixels (see :func:`doodle.core.distribution.assign`)."""
    return matching._replace(assigned={n: distribution.assign(pixels[n], t) for n, t in phase.dist.items()})


def fresh(config: EvalConfig, x: jax.Array, phase: Phase) -> tuple[optim.LBFGSState, Matching]:
    """A phase's starting optimiser state at ``x`` (h, w, 3) and a placeholder
    matching (zero penalties; the first evaluation matches afresh)."""
    return _fresh(config, x, tuple((l, b.size) for l, b in phase.banks.items()),
                  tuple((n, (t.quantiles.shape[1], t.directions.shape[0])) for n, t in phase.dist.items()))


@functools.partial(jax.jit, static_argnums=(0, 2, 3))
def _fresh(config, x, sizes, shapes):
    # One program rather than a dozen eager ones (each its own compile-cache load).
    h, w = x.shape[:2]
    index = {}
    for l in config.style_layers:
        fh, fw = vgg.feature_size(h, w, l)
        if not config.seamless:  # a tile's patches wrap around: one per pixel
            fh, fw = fh - 2, fw - 2
        index[l] = jnp.zeros((fh * fw,), jnp.int32)
    penalty = {l: jnp.zeros((n,), jnp.float32) for l, n in sizes}
    assigned = {n: distribution.Assigned(jnp.zeros(s, jnp.float32), jnp.float32(0.0)) for n, s in shapes}
    flat = x.reshape(-1)
    return optim.init(flat, jnp.float32(jnp.nan), jnp.zeros_like(flat)), Matching(index, penalty, assigned)


def make_evaluate(extractor: Extractor, recipe: Recipe, phase: Phase):
    """``(x, matching=None) -> Evaluation`` for one phase: with no matching, the
    patches are matched afresh and the distribution targets assigned at ``x`` first."""
    config = eval_config(extractor, recipe, phase)
    consts = constants(extractor, phase)

    def evaluate(x, matching=None):
        if matching is not None:
            return evaluation_jit(config, consts, x, matching, False)
        _, start = fresh(config, x, phase)
        ev = evaluation_jit(config, consts, x, start, True)
        return evaluation_jit(config, consts, x, reassign(ev.matching, ev.pixels, phase), False)

    return evaluate
