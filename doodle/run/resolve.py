"""Options, problem and extractor in; one frozen :class:`~doodle.core.recipe.Recipe` out.

Every default that depends on the run (the extractor's layers and content weight, the
mode's distribution, colour and stall defaults, whether the painting is quilted) is
decided here, once per run; the layers below read the recipe and never the options.
The accessors are public for the command line's ``doodle plan``, which reports them
before any weights are loaded.
"""
from __future__ import annotations

from typing import Optional

from doodle.core.extractor import Extractor
from doodle.core.problem import Problem, parents_of, style_maps_of
from doodle.core.recipe import Plan, Recipe, Weights
from doodle.plan.options import BUILTIN, PRETRAINED, WITH_MAPS, WITHOUT_MAPS, ExtractorDefaults, Options, TermDefaults


def kind_of(extractor: Optional[Extractor]) -> ExtractorDefaults:
    """The defaults of an extractor's kind: :data:`~doodle.plan.options.PRETRAINED` for
    real weights, :data:`~doodle.plan.options.BUILTIN` for the built-in random network
    (and for None: a run planned before any weights are loaded paints as the built-in)."""
    return PRETRAINED if extractor is not None and extractor.pretrained else BUILTIN


def has_maps(problem: Problem, options: Options) -> bool:
    """Whether matching uses semantic maps: every style and the output have one, weight > 0."""
    return (problem.target_map is not None and options.painting.semantic_weight > 0
            and all(m is not None for m in style_maps_of(problem)))


def style_layers_of(options: Options, kind: ExtractorDefaults) -> tuple[str, ...]:
    """The style layers in use: the user's, or the extractor's default."""
    return tuple(options.painting.style_layers) if options.painting.style_layers else tuple(kind.style_layers)


def content_weight_of(options: Options, problem: Problem, kind: ExtractorDefaults) -> float:
    """The content weight in use: the user's, or the extractor's default for the mode
    (semantic transfer, where maps guide the painting, or plain transfer)."""
    if options.painting.content_weight is not None:
        return options.painting.content_weight
    return kind.content_weight_with_maps if has_maps(problem, options) else kind.content_weight


def mode_of(options: Options, problem: Problem) -> TermDefaults:
    """The run's mode defaults: :data:`doodle.plan.options.WITH_MAPS` or ``WITHOUT_MAPS``."""
    return WITH_MAPS if has_maps(problem, options) else WITHOUT_MAPS


def terms_of(options: Options, problem: Problem) -> tuple[float, float]:
    """(distribution weight, colour weight) in use: the user's, or the mode's default."""
    mode = mode_of(options, problem)
    return (mode.distribution_weight if options.painting.distribution_weight is None
            else options.painting.distribution_weight,
            mode.color_weight if options.painting.color_weight is None else options.painting.color_weight)


def content_layers_of(options: Options, problem: Problem, kind: ExtractorDefaults) -> tuple[str, ...]:
    """Content layers in use (the user's, or the extractor's default): none without a
    content image or with weight 0."""
    if problem.content is None or content_weight_of(options, problem, kind) == 0:
        return ()
    return tuple(options.painting.content_layers) if options.painting.content_layers else tuple(kind.content_layers)


def propagated_of(options: Options, problem: Problem, style_layers: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """:func:`doodle.core.problem.parents_of` for the run: how deep propagation reaches is the mode's."""
    return parents_of(tuple(style_layers), options.painting.propagate, mode_of(options, problem).propagate_deep)


def quilts(options: Options, problem: Problem, kind: ExtractorDefaults = BUILTIN) -> bool:
    """Whether the painting is finished by :func:`doodle.core.quilting.quilt`: asked for, or
    by default when there is no photo (texture synthesis, and doodles where the
    extractor's defaults say so: ``quilt_with_maps``), unless the output must wrap
    (``seamless``) or is a sequence's frame (held to its previous one). A photo's
    details do not survive the blocks (bench/RESULTS.md, 2026-12-01)."""
    finish = options.painting.finish
    if finish != "auto":
        return finish == "quilt"
    if has_maps(problem, options) and not kind.quilt_with_maps:
        return False
    return problem.content is None and not options.painting.seamless and problem.previous is None


def stall_tolerance_of(options: Options, problem: Problem) -> float:
    """The stall rule's tolerance in use: the user's, or the mode's default."""
    tolerance = options.painting.stall_tolerance
    return mode_of(options, problem).stall_tolerance if tolerance is None else tolerance


# The painting options a Recipe holds as they are.
COPIED = ("hard_labels", "seamless", "phases", "iterations", "match_every", "cache", "stall_window", "seed")


def recipe(options: Options, problem: Problem, kind: ExtractorDefaults, plan: Optional[Plan] = None) -> Recipe:
    """The run's :class:`~doodle.core.recipe.Recipe`: ``options`` with every default
    the problem and the extractor's ``kind`` (:func:`kind_of`) decide filled in, and
    ``plan`` (:func:`doodle.plan.planner.plan`) as its resource part."""
    p, r = options.painting, options.resources
    style_layers = style_layers_of(options, kind)
    distribution_weight, color_weight = terms_of(options, problem)
    return Recipe(
        style_layers=style_layers,
        content_layers=content_layers_of(options, problem, kind),
        parents=propagated_of(options, problem, style_layers),
        maps=has_maps(problem, options),
        weights=Weights(p.style_weight, content_weight_of(options, problem, kind), p.smoothness, p.semantic_weight,
                        p.variety, p.occurrence, distribution_weight, color_weight, p.temporal_weight),
        quilt=quilts(options, problem, kind),
        stall_tolerance=stall_tolerance_of(options, problem),
        seed_range=tuple(p.seed_range),
        **{name: getattr(p, name) for name in COPIED},
        slices=r.slices,
        remat=r.remat == "on",
        release=r.release_memory == "on",
        plan=plan,
    )
