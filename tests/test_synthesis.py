"""End to end on the numeric core: maps steer the painting; phases; reproducibility."""
import jax
import numpy as np
import pytest

from doodle import synthesis
from doodle.options import Options

from images import swapped_doodle, two_textures

FAST = Options(iterations=30, phases=1, random_seed=0)


def _paint(extractor, options, target_map=True, seed=0):
    style, sem = two_textures()
    doodle = swapped_doodle()
    problem = synthesis.Problem(style, sem, None, doodle if target_map else None, doodle.shape[:2])
    if not target_map:
        problem = problem._replace(style_map=None)
    return synthesis.synthesize(problem, extractor, options, key=jax.random.PRNGKey(seed)), style


def _region_means(img):
    half = img.shape[1] // 2
    return img[:, :half].reshape(-1, 3).mean(0), img[:, half:].reshape(-1, 3).mean(0)


def test_each_region_is_painted_from_its_own_style_region(builtin_extractor):
    out, style = _paint(builtin_extractor, FAST)
    warm, cool = _region_means(style.astype(np.float32))  # style: left warm, right cool
    left, right = _region_means(out)  # doodle: left is the cool label, right the warm one
    assert np.linalg.norm(left - cool) < np.linalg.norm(left - warm)
    assert np.linalg.norm(right - warm) < np.linalg.norm(right - cool)
    # And clearly so: the red channel separates the two textures by ~150 levels.
    assert right[0] - left[0] > 60


def test_without_maps_the_layout_is_not_followed(builtin_extractor):
    """The control for the test above: it must fail when maps are ignored."""
    out, _ = _paint(builtin_extractor, FAST.replace(semantic_weight=0.0), target_map=False)
    left, right = _region_means(out)
    assert right[0] - left[0] < 60


def test_same_seed_same_image(builtin_extractor):
    opts = FAST.replace(iterations=4)
    a, _ = _paint(builtin_extractor, opts, seed=3)
    b, _ = _paint(builtin_extractor, opts, seed=3)
    c, _ = _paint(builtin_extractor, opts, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_too_small_phases_are_skipped_then_refused(builtin_extractor):
    events = []
    style, sem = two_textures(32)
    problem = synthesis.Problem(style, None, None, None, (32, 32))
    out = synthesis.synthesize(problem, builtin_extractor, FAST.replace(phases=2, iterations=2),
                               key=jax.random.PRNGKey(0), callback=events.append)
    assert out.shape == (32, 32, 3)
    assert [e.event for e in events if e.event in ("skipped", "phase")] == ["skipped", "phase"]
    tiny = problem._replace(size=(12, 12))
    with pytest.raises(synthesis.PhaseTooSmall, match="at least 24×24"):
        synthesis.synthesize(tiny, builtin_extractor, FAST, key=jax.random.PRNGKey(0))


def test_divergence_keeps_last_good_image(builtin_extractor):
    from doodle.errors import DivergenceError

    style, _ = two_textures(32)
    problem = synthesis.Problem(style, None, None, None, (32, 32))
    with pytest.raises(DivergenceError) as info:
        synthesis.synthesize(problem, builtin_extractor, FAST.replace(style_weight=float("inf"), iterations=2),
                             key=jax.random.PRNGKey(0))
    assert info.value.image.shape == (32, 32, 3)
    assert np.isfinite(info.value.image).all()
