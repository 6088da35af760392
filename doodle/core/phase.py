"""One phase's constant inputs: the style's patch banks and distributions, the content.

A phase paints at one scale; everything here is computed once per phase from the
problem (the style at that scale through the network, the doodle pooled to each
layer) and never changes while the phase runs.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, NamedTuple, Optional

import jax
import numpy as np

from doodle.core import distribution, patches, vgg
from doodle.core.extractor import Extractor
from doodle.core.labels import label_pair
from doodle.core.problem import Problem, palette_of, resize, scaled, semantic_channels, style_maps_of, styles_of
from doodle.core.recipe import Recipe

Memo = Callable[..., Any]  # memo(fn, *args) -> fn(*args), perhaps remembered


class Phase(NamedTuple):
    """Constant inputs of one phase's evaluation function (all device arrays)."""

    style_raw: dict  # {layer: (hs, ws, C) raw style features; several styles: pooled}
    banks: dict  # {layer: patches.Bank}
    target_sem: dict  # {layer: (h, w, K) pooled output map} or {} without maps
    content: dict  # {layer: (h, w, C) content features}
    labels: dict = {}  # {layer: ((P,) int32, (N,) int32)} centre labels for hard-label matching
    dist: dict = {}  # {layer or distribution.RGB: distribution.Target} for the distribution terms
    # A sequence's previous painting carried to this frame, (h, w, 3), and where the
    # temporal term holds to it, (h, w); both None outside a sequence.
    previous: Optional[jax.Array] = None
    still: Optional[jax.Array] = None


def prepare_phase(
    problem: Problem, extractor: Extractor, recipe: Recipe, scale: float, out_hw: tuple[int, int],
    slice_rows: Optional[Mapping[str, int]] = None, *, key: jax.Array, memo: Optional[Memo] = None,
) -> Phase:
    """Style patch banks, style distributions and content features at one scale.

    Several styles are each resized and run through the network on their own (a
    convolution over a stitched image would blend them at the seam), then pooled
    into one bank per layer (:func:`doodle.core.patches.pool`). ``key`` draws the
    distribution terms' random directions. ``memo`` (a batch's cache, e.g.
    :class:`doodle.core.memo.StyleMemo`) is called as ``memo(fn, *args)`` in place of
    each style's network pass ``fn(*args)`` and must return exactly what it would.
    """
    style_layers, content_layers, semantic = recipe.style_layers, recipe.content_layers, recipe.maps
    # [({layer: raw (hs, ws, C), RGB: image}, {layer: normalised}, {layer: pooled map or None, RGB: map})]
    style_side = _style_side if memo is None else functools.partial(memo, _style_side)
    per_style = [
        style_side(extractor.preprocess, extractor.params, image, sem if semantic else None,
                   scaled(image.shape[:2], scale), style_layers, recipe.weights.semantic_weight)
        for image, sem in zip(styles_of(problem), style_maps_of(problem))
    ]
    seamless = recipe.seamless
    tsem, tsem_full = _target_side(problem.target_map, out_hw, style_layers, seamless) if semantic else ({}, None)
    palette = palette_of(problem) if semantic else None
    banks, raw, labels = {}, {}, {}
    for layer in style_layers:
        normed = patches.pool([normed[layer] for _, normed, _ in per_style])
        f = patches.pool([feats[layer] for feats, _, _ in per_style]).array
        if slice_rows and layer in slice_rows:
            rows = slice_rows[layer]
        else:
            # Without a plan: the user's slice count, or one slice per 8 style rows.
            rows = -(-(f.shape[0] - 2) // recipe.slices) if recipe.slices else 8
        banks[layer] = patches.make_bank(normed.array, rows, normed.valid)
        raw[layer] = f
        if palette is not None and recipe.hard_labels:
            smap = patches.pool([sm[layer] for _, _, sm in per_style]).array
            # A tile's output patches wrap around (see doodle.core.evaluation): so do their labels.
            out_sem = patches.wrap(tsem[layer]) if seamless else tsem[layer]
            pair = label_pair(np.asarray(out_sem), np.asarray(smap), palette, normed.valid)
            labels[layer] = jax.device_put(pair)
    dist = _distributions(per_style, dict(tsem, **{distribution.RGB: tsem_full}), palette, out_hw, style_layers,
                          recipe.weights, key)
    content = {}
    if content_layers:
        c = resize(problem.content, out_hw, seamless)
        content = _features(extractor, c, content_layers, seamless)
    previous = still = None
    if problem.previous is not None:
        previous = resize(problem.previous, out_hw, seamless)
        still = resize(problem.still, out_hw, seamless)
    return Phase(style_raw=raw, banks=banks, target_sem=tsem, content=content, labels=labels, dist=dist,
                 previous=previous, still=still)


def _distributions(per_style, tsem, palette, out_hw, style_layers, weights, key) -> dict:
    """{layer or RGB: distribution.Target} for the layers whose term has a weight.

    With flat-colour maps each label is its own region; otherwise the whole image is
    one (texture synthesis, plain transfer).
    """
    names = (((distribution.RGB,) if weights.color_weight > 0 else ())
             + (style_layers if weights.distribution_weight > 0 else ()))
    seed = np.asarray(jax.random.key_data(key)).ravel()
    dist = {}
    for name in names:
        feats = [np.asarray(f[name]) for f, _, _ in per_style]
        c = feats[0].shape[-1]
        pixels = np.concatenate([f.reshape(-1, c) for f in feats])
        h, w = out_hw if name == distribution.RGB else vgg.feature_size(*out_hw, name)
        if palette is not None:
            style_labels = np.concatenate([distribution.labels_of(np.asarray(sm[name]), palette)
                                           for _, _, sm in per_style])
            out_labels = distribution.labels_of(np.asarray(tsem[name]), palette)
        else:
            style_labels, out_labels = np.zeros(len(pixels), np.int32), np.zeros(h * w, np.int32)
        bases = distribution.RGB_BASES if name == distribution.RGB else 1
        dirs = _directions(tuple(seed.tolist()), name, c, bases)
        dist[name] = distribution.target(pixels, style_labels, out_labels, dirs)
    return dist


@functools.lru_cache(maxsize=32)
def _directions(seed: tuple, name: str, channels: int, bases: int) -> np.ndarray:
    # A generator per layer, from the run's key and the layer's name: the same
    # directions whichever other layers are in use. Kept for the next phase, which
    # draws with the same key (a QR of a 512 × 512 matrix each phase, otherwise).
    rng = np.random.default_rng([*seed, *name.encode()])
    dirs = distribution.directions(rng, channels, bases)
    dirs.flags.writeable = False  # shared by every phase that asks
    return dirs


# One compiled program each for a style's and the doodle's side of a phase: as eager
# operations they were ~20 small programs per phase to compile (or load from the
# cache), about a second of every start-up (bench/startup.py).
@functools.partial(jax.jit, static_argnums=(0, 4, 5, 6))
def _style_side(preprocess, params, image, sem, hw, layers, semantic_weight):
    img = resize(image, hw)
    feats = vgg.features(params, img, layers, preprocess)
    sm = resize(semantic_channels(sem), hw) if sem is not None else None
    pooled = {l: patches.pool_map(sm, vgg.downscale(l)) if sm is not None else None for l in layers}
    normed = {l: patches.normalise_style(feats[l], pooled[l], semantic_weight) for l in layers}
    return dict(feats, **{distribution.RGB: img}), normed, dict(pooled, **{distribution.RGB: sm})


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _target_side(target_map, hw, layers, wrap):
    # A tile's doodle is resized as a periodic image: a doodle that is not periodic is
    # the user's business, but the resizing adds no seam of its own.
    sem = resize(semantic_channels(target_map), hw, wrap)
    return {l: patches.pool_map(sem, vgg.downscale(l)) for l in layers}, sem


def _features(extractor: Extractor, image: jax.Array, layers: tuple[str, ...], wrap: bool = False) -> dict:
    # The content's features are compared with the output's: padded the same way.
    return vgg.features_jit(extractor.params, image, tuple(layers), extractor.preprocess, wrap)
