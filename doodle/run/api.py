"""The public API: ``paint(...)`` from paths or arrays to an (H, W, 3) uint8 image.

This is where files, weights and options meet the pure core (``synthesis``): the
inputs become a checked problem (:mod:`doodle.run.inputs`), the options a resolved and
planned recipe (:func:`make_recipe`), the extractor is picked, and arrays go to
:func:`doodle.core.synthesis.synthesize`.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Sequence, Union

import jax
import numpy as np

from doodle.core import color, synthesis, vgg
from doodle.core.extractor import Extractor
from doodle.core.problem import Problem, style_size, styles_of
from doodle.core.recipe import Recipe
from doodle.errors import DivergenceError, DoodleError, InputError
from doodle.io import cache
from doodle.io.imaging import to_uint8
from doodle.plan import planner
from doodle.plan.options import BUILTIN, PRETRAINED, ExtractorDefaults, Options
from doodle.run.resolve import kind_of, recipe
from doodle.run import render
# The pipeline's first step is part of the public API: api.prepare, api.build_problem…
from doodle.run.inputs import (  # noqa: F401
    ImageLike, Loaded, Prepared, build_problem, check_options, conform_maps, find_map, prepare, resize_map)


def resolve_extractor(options: Options, notice: Callable[[str], None] = lambda s: None) -> Extractor:
    """The extractor ``options.painting.weights`` names: "builtin", "auto", a source name or a path.

    "auto" takes the best pretrained VGG on the machine (doodle's cache, then other
    libraries' caches) and says which and where; else the built-in extractor, with
    a notice saying how to get full quality.
    """
    from doodle import weights

    # A built-in network is built only as deep as this run reads (the weights are the same).
    layers = tuple(options.painting.style_layers or BUILTIN.style_layers) + tuple(options.painting.content_layers or
                                                                         BUILTIN.content_layers)
    return weights.resolve(options.painting.weights, last=vgg.deepest(layers), notice=notice)


def _uses_builtin(options: Options) -> bool:
    """Whether ``options.painting.weights`` means the built-in extractor ("auto" with no
    pretrained file on the machine), decided without loading anything."""
    from doodle import weights

    spec = options.painting.weights
    return weights.weights_file(spec, cache.cache_dir()) is None if spec in ("auto", "packaged") else spec == "builtin"


def extractor_kind(options: Options) -> ExtractorDefaults:
    """The defaults of the extractor ``options`` will paint with (:data:`BUILTIN` or
    :data:`PRETRAINED`), decided without loading any weights."""
    return BUILTIN if _uses_builtin(options) else PRETRAINED


def paint(
    style: Union[ImageLike, Sequence[ImageLike]],
    *,
    style_map: Union[ImageLike, Sequence[Optional[ImageLike]], None] = None,
    content: Optional[ImageLike] = None,
    map: Optional[ImageLike] = None,  # noqa: A002 - the reference's name for the target map
    seed: Optional[ImageLike] = None,
    options: Options = Options(),
    extractor: Optional[Extractor] = None,
    callback: Optional[synthesis.Callback] = None,
    notice: Callable[[str], None] = lambda s: None,
) -> np.ndarray:
    """Paint and return the (H, W, 3) uint8 image.

    Args:
      style: the style painting (path or (H, W, 3) array in [0, 255]) or a style
        pack's name (its recommended options apply to fields left at their
        defaults), or a list of several whose patches are pooled.
      style_map: its semantic map; default: ``<style>_sem.png`` if it exists. For
        several styles, a list in the same order (None entries: the default).
      content: a content image for style transfer, or None.
      map: the doodle (or the content's map); default for content:
        ``<content>_sem.png`` if it exists.
      seed: a starting image (path or array); default per ``options.painting.seed``.
      options: everything else; see :class:`doodle.Options`.
      extractor: reuse a loaded extractor across calls (painting a batch compiles
        once per shape); default from ``options.painting.weights``.
      callback: receives a :class:`doodle.core.synthesis.Progress` after every evaluation.
      notice: receives one-line notices meant for the user (a doodle colour the
        style map lacks, say).
    """
    prepared = prepare(style, style_map=style_map, content=content, target_map=map, seed=seed, options=options,
                       notice=notice)
    return paint_problem(prepared.problem, prepared.options, extractor=extractor, callback=callback, notice=notice)


def paint_problem(
    problem: Problem,
    options: Options,
    *,
    extractor: Optional[Extractor] = None,
    callback: Optional[synthesis.Callback] = None,
    notice: Callable[[str], None] = lambda s: None,
    memo: Optional[Callable] = None,
) -> np.ndarray:
    """:func:`paint` for a problem :func:`build_problem` already made (its maps
    conformed): plan, paint, re-plan on out-of-memory; (H, W, 3) uint8. ``memo``
    shares the styles' network passes between paintings (:mod:`doodle.batch.cache`)."""
    colour_source = None
    if options.painting.preserve_colors:  # paint the luminance, then give it the content's colours back
        colour_source = problem.content
        problem = luminance_problem(problem)
    if extractor is None:
        extractor = resolve_extractor(options, notice)
    random_seed = render.draw_seed(options)
    planner.select_device(options.resources.device)  # InputError for --device gpu without a GPU
    attempt = _Attempt(options, planner.budgets(options.resources.device, options.resources.max_memory),
                       options.resources.device, options.resources.match_memory)
    while True:
        settings = make_recipe(problem, attempt.options, extractor, budgets=attempt.budgets, prefer=attempt.prefer,
                               slice_budget=attempt.slice_budget)
        try:
            image = synthesis.synthesize(problem, extractor, settings, key=jax.random.PRNGKey(random_seed),
                                         callback=callback, memo=memo)
            if colour_source is not None:
                image = color.combine(image, colour_source)
            return to_uint8(image)
        except DivergenceError as e:
            if colour_source is not None and e.image is not None:  # the last good image, in colour too
                e.image = color.combine(e.image, colour_source)
            raise
        except synthesis.PhaseTooSmall as e:
            raise InputError(f"{e}.", "Use a larger image or `output_size`, or fewer `phases`.") from None
        except Exception as e:  # XLA reports OOM as a runtime error of its own type
            if not planner.is_out_of_memory(e):
                raise
            attempt = _next_attempt(attempt, problem, settings, extractor, notice)


class _Attempt(NamedTuple):
    """What one try at a painting plans with: the options (savers forced on by an
    earlier try), the budgets, the preferred device and the matching slices' cap."""

    options: Options
    budgets: dict
    prefer: str
    slice_budget: int


def _next_attempt(attempt: _Attempt, problem: Problem, settings: Recipe, extractor: Extractor,
                  notice: Callable[[str], None]) -> _Attempt:
    """The try after an out-of-memory: smaller slices, then the memory savers the user
    left to the planner (remat, heap trimming) forced on, then the CPU; RunFailure
    naming the largest size that would fit once nothing is left. An out-of-memory is
    never reported as divergence (neural-doodle#57). A saver the user turned off stays off."""
    options, resources = attempt.options, attempt.options.resources
    savers = _savers_left_to_plan(options)
    if attempt.slice_budget > 16 * 2**20 and resources.slices is None:
        notice(f"out of memory: retrying with matching slices of {attempt.slice_budget // 4 // 2**20} MiB")
        return attempt._replace(slice_budget=attempt.slice_budget // 4)
    if savers:
        notice(f"out of memory: retrying with {' and '.join(SAVER_WORDS[n] for n in savers)} on")
        return attempt._replace(options=options.replace(**{name: "on" for name in savers}))
    if attempt.prefer != "cpu" and "cpu" in planner.budgets("cpu", resources.max_memory):
        notice("out of memory on the GPU: retrying on the CPU")
        return attempt._replace(prefer="cpu", budgets=planner.budgets("cpu", resources.max_memory))
    largest = planner.largest_fitting(
        problem.size, style_size(problem), settings.style_layers, settings.content_layers, settings.maps,
        budgets=_halved(attempt.budgets), prefer=attempt.prefer, propagated=[l for l, _ in settings.parents],
        remat=resources.remat, release=resources.release_memory, arch=_arch(extractor))
    size = f" (try `output_size {largest[0]}x{largest[1]}`)" if largest else ""
    raise RunFailure(f"out of memory even with the smallest slices{size}.",
                     "Use a smaller `output_size` or close other programs.") from None


def luminance_problem(problem: Problem) -> Problem:
    """The problem in luminance only, for ``--preserve-colors`` (Gatys et al. 2016).

    Each style becomes a grey image of its luma matched to the content's luma mean
    and deviation (:func:`doodle.core.color.match_luminance`); the content and a seed image
    become grey images of their luma. Arrays are (H, W, 3) float32 in [0, 255].
    """
    y_content = color.luminance(problem.content)
    greys = tuple(color.grey(color.match_luminance(color.luminance(s), y_content))
                  for s in styles_of(problem))
    return problem._replace(
        style=greys if isinstance(problem.style, (tuple, list)) else greys[0],
        content=color.grey(y_content),
        seed=color.grey(color.luminance(problem.seed)) if problem.seed is not None else None,
    )


class RunFailure(DoodleError):
    """A runtime failure that is not the user's input (exit 1): out of memory, say."""

    exit_code = 1


def _arch(extractor: Optional[Extractor]) -> str:
    """The network to plan for: the extractor's, or VGG19 (the larger) when no
    weights are loaded."""
    return extractor.arch if extractor is not None else "vgg19"


def check_network_layers(extractor: Extractor, style_layers: Sequence[str], content_layers: Sequence[str]) -> None:
    """InputError naming the first layer the extractor's network lacks: every name
    :func:`check_options` accepts is a VGG19 layer, but a VGG16 stops blocks 3-5 at
    their third conv (no 3_4, 4_4, 5_4)."""
    known = vgg.layer_names(extractor.arch)
    network = extractor.arch.upper()
    held = [n for n in known if f"conv{n}" in extractor.params]
    for what, layers in (("style", style_layers), ("content", content_layers)):
        for layer in layers:
            if layer not in known:
                raise InputError(
                    f"the weights are {network}, which has no layer {layer} (asked for as a {what} layer).",
                    f"{network}'s layers: {','.join(known)}; or use VGG19 weights.")
            if layer not in held:  # a partial file, such as the shipped VGG16's first nine layers
                raise InputError(
                    f"the weights {extractor.name!r} hold {network}'s layers up to {held[-1]} only, not {layer} "
                    f"(asked for as a {what} layer).",
                    "for deeper layers use a whole VGG16 or VGG19 file: doodle weights list")


# The memory savers an out-of-memory retry may force on, by their option's name.
SAVER_WORDS = {"remat": "rematerialisation", "release_memory": "memory release"}


def _savers_left_to_plan(options: Options) -> list[str]:
    """The savers of SAVER_WORDS still at "auto" in ``options`` (left to the planner)."""
    return [name for name in SAVER_WORDS if getattr(options.resources, name) == "auto"]


def _halved(budgets: dict) -> dict:
    return {k: v // 2 for k, v in budgets.items()}


def make_recipe(problem: Problem, options: Options, extractor: Optional[Extractor] = None, *,
                budgets: Optional[dict] = None, prefer: Optional[str] = None,
                slice_budget: Optional[int] = None) -> Recipe:
    """The run's :class:`~doodle.core.recipe.Recipe`, planned: the settings resolved
    once for the extractor's kind (None: the kind ``options`` would load, for ``doodle
    plan``, which loads no weights), its layers checked against the network, then the
    memory plan for them. InputError (exit 2) when nothing fits, naming what would."""
    kind = kind_of(extractor) if extractor is not None else extractor_kind(options)
    settings = recipe(options, problem, kind)
    if extractor is not None:
        check_network_layers(extractor, settings.style_layers, settings.content_layers)
    if budgets is None:
        budgets = planner.budgets(options.resources.device, options.resources.max_memory)
    try:
        run_plan = planner.plan(problem.size, style_size(problem), settings.style_layers, settings.content_layers,
                                settings.maps, settings.phases, budgets, prefer or options.resources.device,
                                options.resources.slices,
                                slice_budget=slice_budget or options.resources.match_memory,
                                propagated=[l for l, _ in settings.parents], remat=options.resources.remat,
                                tiling=not settings.seamless, release=options.resources.release_memory,
                                arch=_arch(extractor))
    except planner.DoesNotFit as e:
        hint = (f"Use `output_size {e.largest[0]}x{e.largest[1]}` or smaller, or raise `max_memory`."
                if e.largest else "Use a smaller `output_size`, or raise `max_memory`.")
        raise InputError(f"this painting does not fit in memory: {e}.", hint) from None
    return settings.with_plan(run_plan)
