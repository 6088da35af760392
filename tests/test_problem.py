"""What the options left at None mean for a problem: defaults by extractor and by mode."""
import numpy as np
import pytest

from doodle.extractor import Extractor
from doodle.options import BUILTIN, PRETRAINED, WITH_MAPS, WITHOUT_MAPS, Options
from doodle.problem import Problem, content_layers_of, content_weight_of, resize, terms_of


def _problem(maps: bool, content: bool = True) -> Problem:
    image = np.zeros((8, 8, 3), np.uint8)
    sem = np.zeros((8, 8, 3), np.uint8) if maps else None
    return Problem(style=image, style_map=sem, content=image if content else None, target_map=sem, size=(8, 8))


def _extractor(kind) -> Extractor:
    return Extractor(params={}, preprocess=None, name="test", style_layers=kind.style_layers,
                     content_layers=kind.content_layers, content_weight=kind.content_weight,
                     content_weight_with_maps=kind.content_weight_with_maps)


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
    ex = _extractor(kind)
    assert content_weight_of(Options(), _problem(maps=False), ex) == kind.content_weight
    assert content_weight_of(Options(), _problem(maps=True), ex) == kind.content_weight_with_maps
    assert content_weight_of(Options.of(content_weight=3.0), _problem(maps=True), ex) == 3.0


def test_the_builtin_extractor_weighs_content_more_without_maps():
    # Plain transfer lost the photo at the reference's 10 (bench/RESULTS.md).
    assert BUILTIN.content_weight > BUILTIN.content_weight_with_maps


def test_no_content_layers_without_a_content_image_or_weight():
    ex = _extractor(BUILTIN)
    assert content_layers_of(Options(), _problem(maps=False, content=False), ex) == ()
    assert content_layers_of(Options.of(content_weight=0.0), _problem(maps=False), ex) == ()
    assert content_layers_of(Options(), _problem(maps=False), ex) == BUILTIN.content_layers


@pytest.mark.parametrize("maps", [True, False])
def test_the_plan_fills_in_what_the_run_will_use(maps):
    # doodle plan resolves the defaults without loading weights; it must agree with
    # what a run with the built-in extractor resolves.
    from doodle import api

    options, problem, ex = Options.of(weights="builtin"), _problem(maps=maps), _extractor(BUILTIN)
    filled = api.extractor_defaults(options, problem)
    assert filled.painting.content_weight == content_weight_of(options, problem, ex)
    assert (filled.painting.distribution_weight, filled.painting.color_weight) == terms_of(options, problem)
    assert filled.painting.style_layers == BUILTIN.style_layers
    assert filled.painting.content_layers == BUILTIN.content_layers


@pytest.mark.parametrize("size, hw", [((12, 10), (6, 5)), ((12, 10), (24, 20)), ((17, 13), (5, 9)), ((8, 8), (8, 16))])
def test_seamless_resize_is_the_resized_tiling(rng, size, hw):
    """--seamless resizes a tile as one of a periodic image: the centre of the 3×3
    tiling resized (its own edges too far away to matter)."""
    img = rng.uniform(0, 255, size + (2,)).astype(np.float32)
    h, w = hw
    ref = np.asarray(resize(np.tile(img, (3, 3, 1)), (3 * h, 3 * w)))[h:2 * h, w:2 * w]
    np.testing.assert_allclose(np.asarray(resize(img, hw, wrap=True)), ref, atol=1e-3)
    assert not np.allclose(np.asarray(resize(img, hw)), ref, atol=1e-3)  # the control: edges clamp


@pytest.mark.parametrize("wrap", [False, True])
def test_a_mask_resizes_as_a_one_channel_image(rng, wrap):
    mask = (rng.uniform(size=(12, 10)) > 0.5).astype(np.float32)
    out = np.asarray(resize(mask, (7, 16), wrap))
    assert out.shape == (7, 16)
    np.testing.assert_allclose(out, np.asarray(resize(mask[..., None], (7, 16), wrap))[..., 0])
    # Each channel of an image resizes on its own: the mask beside another channel.
    both = np.stack([mask, 1 - mask], axis=-1)
    np.testing.assert_allclose(out, np.asarray(resize(both, (7, 16), wrap))[..., 0], atol=1e-6)


def test_quilting_finishes_paintings_without_a_photo_unless_asked():
    from doodle.problem import quilts

    texture, doodle, plain = _problem(maps=False, content=False), _problem(maps=True, content=False), _problem(False)
    assert quilts(Options(), texture) and quilts(Options(), doodle)
    assert not quilts(Options(), plain) and not quilts(Options(), _problem(maps=True))  # a photo's details
    assert not quilts(Options.of(seamless=True), texture)  # quilting does not wrap
    assert not quilts(Options(), texture._replace(previous=np.zeros((8, 8, 3), np.float32)))  # a sequence's frame
    assert not quilts(Options.of(finish="none"), texture)
    assert quilts(Options.of(finish="quilt"), doodle) and quilts(Options.of(finish="quilt"), plain)


def test_pretrained_extractors_quilt_textures_but_not_doodles():
    from doodle.options import BUILTIN, PRETRAINED
    from doodle.problem import quilts

    texture, doodle = _problem(maps=False, content=False), _problem(maps=True, content=False)
    assert quilts(Options(), doodle, BUILTIN) and not quilts(Options(), doodle, PRETRAINED)
    assert quilts(Options(), texture, BUILTIN) and quilts(Options(), texture, PRETRAINED)
    assert quilts(Options.of(finish="quilt"), doodle, PRETRAINED)  # asked for
    assert quilts(Options.of(semantic_weight=0.0), doodle, PRETRAINED)  # maps unused: a texture
