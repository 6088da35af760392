"""What the options left at None mean for a problem: defaults by extractor and by mode,
resolved once into a Recipe."""
import numpy as np
import pytest

from doodle.core.extractor import Extractor
from doodle.core.problem import Problem
from doodle.plan.options import BUILTIN, PRETRAINED, WITH_MAPS, WITHOUT_MAPS, Options
from doodle.run.resolve import (content_layers_of, content_weight_of, kind_of, propagated_of, quilts, recipe,
                                 stall_tolerance_of, terms_of)

from images import two_textures


def _problem(maps: bool, content: bool = True) -> Problem:
    image = np.zeros((8, 8, 3), np.uint8)
    sem = np.zeros((8, 8, 3), np.uint8) if maps else None
    return Problem(style=image, style_map=sem, content=image if content else None, target_map=sem, size=(8, 8))


def test_the_kind_of_an_extractor():
    assert kind_of(Extractor({}, None, "file", pretrained=True)) is PRETRAINED
    assert kind_of(Extractor({}, None, "built-in", pretrained=False)) is BUILTIN
    assert kind_of(None) is BUILTIN


def test_term_weights_follow_the_mode():
    assert terms_of(Options(), _problem(maps=True)) == (WITH_MAPS.distribution_weight, WITH_MAPS.color_weight)
    assert terms_of(Options(), _problem(maps=False)) == (WITHOUT_MAPS.distribution_weight, WITHOUT_MAPS.color_weight)
    # Maps given but switched off by the semantic weight: the mode without maps.
    off = Options.of(semantic_weight=0.0)
    assert terms_of(off, _problem(maps=True)) == (WITHOUT_MAPS.distribution_weight, WITHOUT_MAPS.color_weight)
    # The user's values win in either mode, 0 included.
    mine = Options.of(distribution_weight=0.0, color_weight=7.0)
    assert terms_of(mine, _problem(maps=True)) == terms_of(mine, _problem(maps=False)) == (0.0, 7.0)


@pytest.mark.parametrize("kind", [BUILTIN, PRETRAINED])
def test_content_weight_follows_the_extractor_and_the_mode(kind):
    assert content_weight_of(Options(), _problem(maps=False), kind) == kind.content_weight
    assert content_weight_of(Options(), _problem(maps=True), kind) == kind.content_weight_with_maps
    assert content_weight_of(Options.of(content_weight=3.0), _problem(maps=True), kind) == 3.0


def test_the_builtin_extractor_weighs_content_more_without_maps():
    # Plain transfer lost the photo at the reference's 10 (bench/RESULTS.md).
    assert BUILTIN.content_weight > BUILTIN.content_weight_with_maps


def test_no_content_layers_without_a_content_image_or_weight():
    assert content_layers_of(Options(), _problem(maps=False, content=False), BUILTIN) == ()
    assert content_layers_of(Options.of(content_weight=0.0), _problem(maps=False), BUILTIN) == ()
    assert content_layers_of(Options(), _problem(maps=False), BUILTIN) == BUILTIN.content_layers


@pytest.mark.parametrize("maps", [True, False])
def test_the_plan_resolves_what_the_run_will_use(maps):
    # doodle plan resolves the defaults without loading weights; it must agree with
    # what a run with the built-in extractor resolves.
    from doodle.core import extractor
    from doodle.run import api

    options, problem = Options.of(weights="builtin", device="cpu"), _problem(maps=maps)
    planned = api.make_recipe(problem, options)
    run = api.make_recipe(problem, options, extractor.builtin(last="4_2"))
    assert planned.with_plan(None) == run.with_plan(None)
    assert planned.style_layers == BUILTIN.style_layers
    assert planned.content_layers == BUILTIN.content_layers
    assert planned.plan is not None and len(planned.plan.phases) == options.painting.phases


def test_a_recipe_holds_every_resolved_default():
    problem = _problem(maps=True, content=False)
    r = recipe(Options(), problem, PRETRAINED)
    assert (r.style_layers, r.content_layers, r.maps) == (PRETRAINED.style_layers, (), True)
    assert (r.weights.distribution_weight, r.weights.color_weight) == terms_of(Options(), problem)
    assert r.stall_tolerance == WITH_MAPS.stall_tolerance and r.quilt == PRETRAINED.quilt_with_maps
    assert r.parents == propagated_of(Options(), problem, PRETRAINED.style_layers)
    assert r.weights.content_weight == PRETRAINED.content_weight_with_maps
    mine = recipe(Options.of(style_layers=("2_1", "4_1"), remat="on", release_memory="on", slices=3), problem, BUILTIN)
    assert mine.style_layers == ("2_1", "4_1") and mine.remat and mine.release and mine.slices == 3


def test_stall_tolerance_and_propagation_follow_the_mode():
    """With maps relu3_1 is refined from relu4_1 and phases stop at 4 %; without
    (texture synthesis, plain transfer) relu3_1 is searched whole and phases stop at
    2 %; the user's values win in both."""
    style, sem = two_textures(32)
    layers = ("2_1", "3_1", "4_1")
    with_maps = Problem(style, sem, None, sem, (32, 32))
    without = Problem(style, None, None, None, (32, 32))
    opts = Options()
    assert WITH_MAPS.stall_tolerance != WITHOUT_MAPS.stall_tolerance
    assert stall_tolerance_of(opts, with_maps) == WITH_MAPS.stall_tolerance
    assert stall_tolerance_of(opts, without) == WITHOUT_MAPS.stall_tolerance
    assert stall_tolerance_of(opts.replace(semantic_weight=0.0), with_maps) == WITHOUT_MAPS.stall_tolerance
    assert stall_tolerance_of(opts.replace(stall_tolerance=0.0), with_maps) == 0.0
    assert propagated_of(opts, with_maps, layers) == (("2_1", "3_1"), ("3_1", "4_1"))
    assert propagated_of(opts, without, layers) == (("2_1", "3_1"),)
    assert propagated_of(opts.replace(propagate=False), with_maps, layers) == ()


def test_quilting_finishes_paintings_without_a_photo_unless_asked():
    texture, doodle, plain = _problem(maps=False, content=False), _problem(maps=True, content=False), _problem(False)
    assert quilts(Options(), texture) and quilts(Options(), doodle)
    assert not quilts(Options(), plain) and not quilts(Options(), _problem(maps=True))  # a photo's details
    assert not quilts(Options.of(seamless=True), texture)  # quilting does not wrap
    assert not quilts(Options(), texture._replace(previous=np.zeros((8, 8, 3), np.float32)))  # a sequence's frame
    assert not quilts(Options.of(finish="none"), texture)
    assert quilts(Options.of(finish="quilt"), doodle) and quilts(Options.of(finish="quilt"), plain)


def test_pretrained_extractors_quilt_textures_but_not_doodles():
    texture, doodle = _problem(maps=False, content=False), _problem(maps=True, content=False)
    assert quilts(Options(), doodle, BUILTIN) and not quilts(Options(), doodle, PRETRAINED)
    assert quilts(Options(), texture, BUILTIN) and quilts(Options(), texture, PRETRAINED)
    assert quilts(Options.of(finish="quilt"), doodle, PRETRAINED)  # asked for
    assert quilts(Options.of(semantic_weight=0.0), doodle, PRETRAINED)  # maps unused: a texture
