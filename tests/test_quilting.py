import itertools

import jax
import numpy as np
import pytest

from doodle.core import quilting

from images import BLUE, RED, flat_and_stripes, two_textures


def _pixel_set(image):
    return {tuple(p) for p in np.asarray(image).reshape(-1, 3).round().astype(int)}


def _brute_force_cut(error):
    """The cheapest path by trying them all: each row's column within one of the last."""
    rows, cols = error.shape
    best = np.inf
    for start in range(cols):
        for moves in itertools.product((-1, 0, 1), repeat=rows - 1):
            path = np.cumsum((start,) + moves)
            if path.min() >= 0 and path.max() < cols:
                best = min(best, error[np.arange(rows), path].sum())
    return best


@pytest.mark.parametrize("shape", [(6, 3), (5, 4), (1, 3), (4, 1)])
def test_min_cut_is_the_cheapest_connected_path(rng, shape):
    error = rng.uniform(0, 10, shape)
    path = quilting.min_cut(error)
    assert path.shape == (shape[0],)
    assert np.all(np.abs(np.diff(path)) <= 1) and path.min() >= 0 and path.max() < shape[1]
    assert error[np.arange(shape[0]), path].sum() == pytest.approx(_brute_force_cut(error))


def test_quilting_the_style_after_itself_gives_it_back(rng):
    """A round trip: guided by the style itself, each block's best copy is the block
    in the same place, and nothing is cut away (54 = two steps of 22 and a 10 px overlap)."""
    style = rng.uniform(0, 255, (54, 54, 3)).round().astype(np.float32)
    out = quilting.quilt(style, [style], key=jax.random.PRNGKey(0))
    np.testing.assert_array_equal(out, style)


def test_every_pixel_is_a_style_pixel_and_both_textures_are_used():
    """A guide half beige, half green (laid out top and bottom, unlike the style's left
    and right): the quilt is made of the style's pixels and keeps both textures. (The
    border may move by up to a block's step, 22 of 80 rows: the blocks already placed
    weigh more than the guide.)"""
    style, beige, green = flat_and_stripes(64)
    guide = np.zeros((80, 96, 3), np.float32)
    guide[:40], guide[40:] = beige, green
    out = quilting.quilt(guide, [style], key=jax.random.PRNGKey(1))
    assert out.shape == guide.shape and out.dtype == np.float32
    assert _pixel_set(out) <= _pixel_set(style)
    px = out.reshape(-1, 3)
    share = np.mean(np.linalg.norm(px - beige, axis=1) < np.linalg.norm(px - green, axis=1))
    assert 0.25 < share < 0.75, share


def test_copied_blocks_are_spread_over_the_style():
    """The usage penalty: a flat guide matches every block of a noise style about
    equally, and the quilt must not re-copy one favourite area. Most of the style's
    8 px cells end up copied at least once."""
    rng = np.random.default_rng(3)
    style = rng.uniform(100, 140, (96, 96, 3)).astype(np.float32)
    guide = np.full((96, 96, 3), 120.0, np.float32)
    out = quilting.quilt(guide, [style], key=jax.random.PRNGKey(0))
    # Where each output pixel came from: look its 3×3 neighbourhood up in the style.
    wins = {tuple(style[y - 1:y + 2, x - 1:x + 2].round(3).ravel()): (y, x)
            for y in range(1, 95) for x in range(1, 95)}
    cells = set()
    for y in range(1, 95, 2):
        for x in range(1, 95, 2):
            at = wins.get(tuple(out[y - 1:y + 2, x - 1:x + 2].round(3).ravel()))
            if at is not None:
                cells.add((at[0] // 8, at[1] // 8))
    assert len(cells) > 0.6 * 12 * 12, len(cells)


def test_without_the_usage_penalty_the_same_area_is_copied_again(monkeypatch):
    """The control for the test above: with no cost on reuse the copied cells are far fewer."""
    monkeypatch.setattr(quilting, "USAGE", 0.0)
    monkeypatch.setattr(quilting, "TOLERANCE", 0.0)
    rng = np.random.default_rng(3)
    style = rng.uniform(100, 140, (96, 96, 3)).astype(np.float32)
    style[40:72, 40:72] = 120.0  # one flat area: the best match for a flat guide, everywhere
    guide = np.full((96, 96, 3), 120.0, np.float32)
    out = quilting.quilt(guide, [style], key=jax.random.PRNGKey(0))
    assert np.mean(out == 120.0) > 0.9


def test_maps_keep_each_region_to_its_part_of_the_style():
    """With maps, a painting mapped all blue is drawn from the style's blue half only,
    whatever the guide's colours."""
    style, sem = two_textures(80)
    target = np.zeros((64, 64, 3), np.uint8)
    target[:] = BLUE
    guide = np.full((64, 64, 3), 128.0, np.float32)
    out = quilting.quilt(guide, [style], key=jax.random.PRNGKey(0), painting_map=target, style_maps=[sem])
    blue = _pixel_set(style[(sem == BLUE).all(-1)])
    red_only = _pixel_set(style[(sem == RED).all(-1)]) - blue
    assert _pixel_set(out) <= blue and not (_pixel_set(out) & red_only)


def test_a_border_the_style_lacks_is_drawn_region_by_region():
    """A diagonal border no style block has: each side of it is drawn from its own
    region's texture, up to the border (no painting pixel is left, though the guide is
    a marked value no style pixel has)."""
    style, sem = two_textures(80)
    y, x = np.mgrid[0:64, 0:64]
    target = np.where((x > y)[..., None], np.array(BLUE, np.uint8), np.array(RED, np.uint8))
    guide = np.full((64, 64, 3), 128.0, np.float32)
    guide[..., 1] = 7.0  # no style pixel has green 7
    out = quilting.quilt(guide, [style], key=jax.random.PRNGKey(0), painting_map=target, style_maps=[sem],
                         map_weight=10.0)
    assert not (out == guide).all(-1).any()
    for colour in (BLUE, RED):
        region = (target == colour).all(-1)
        assert _pixel_set(out[region]) <= _pixel_set(style[(sem == colour).all(-1)])


def test_mending_redraws_only_the_pixels_of_another_region():
    """A block copied across the style's border (red | blue at its column 16) where the
    map's border is at column 24: its blue pixels in the red region are drawn again
    from red, and every pixel it copied of the right region stays as it was."""
    style, sem = two_textures(80)
    source = quilting._with_map(style.astype(np.float32), sem, 1.0)
    cands = quilting._Candidates([source], 32)
    target_map = np.zeros((32, 32, 3), np.uint8)
    target_map[:] = RED
    target_map[:, 24:] = BLUE
    target = quilting._with_map(np.full((32, 32, 3), 128.0, np.float32), target_map, 1.0)
    canvas = source[20:52, 24:56].copy()  # style columns 24-55: red to 39, blue from 40
    before = canvas.copy()
    quilting._mend(canvas, np.ones((32, 32), bool), target, quilting._labels(target_map, (32, 32)),
                   np.s_[0:32, 0:32], {}, np.arange(len(cands.which)), cands, np.random.default_rng(0))
    right = (before[..., 3:] == target[..., 3:]).all(-1)
    assert right[:, :16].all() and not right[:, 16:24].any() and right[:, 24:].all()
    np.testing.assert_array_equal(canvas[right], before[right])
    assert (canvas[:, 16:24, 3:] == np.array(RED, np.float32)).all()
    assert _pixel_set(canvas[:, 16:24, :3]) <= _pixel_set(style[(sem == RED).all(-1)])


def test_where_no_style_block_has_the_region_the_painting_stays(rng):
    """A map with more colours than flat regions have (every pixel its own) is not
    mended region by region: a copied pixel of the wrong colour leaves the painting's."""
    style, sem = two_textures(80)
    target = rng.integers(0, 255, (40, 40, 3)).astype(np.uint8)
    target[:20] = RED
    guide = np.full((40, 40, 3), 128.0, np.float32)
    guide[..., 1] = 7.0
    out = quilting.quilt(guide, [style], key=jax.random.PRNGKey(0), painting_map=target, style_maps=[sem])
    kept = (out == guide).all(-1)
    assert kept[20:].all() and not kept[:12].any()


def test_stripes_carry_on_across_blocks_in_phase():
    """A guide of stripes whose phase jumps by half a period halfway across: the quilt
    follows the blocks already placed (their overlap weighs more than the guide, and
    the best candidates are tried shifted), so each row stays one colour."""
    y, x = np.mgrid[0:96, 0:96]
    dark, light = np.array([60.0, 40, 30]), np.array([230.0, 200, 150])
    style = np.where(((y // 4) % 2 == 0)[..., None], dark, light).astype(np.float32)
    gy, gx = np.mgrid[0:64, 0:120]
    guide = np.where((((gy + 4 * (gx >= 60)) // 4) % 2 == 0)[..., None], dark, light).astype(np.float32)
    out = quilting.quilt(guide, [style], key=jax.random.PRNGKey(0))
    assert _pixel_set(out) <= _pixel_set(style)
    rows_one_colour = np.mean([len(_pixel_set(row[None])) == 1 for row in out])
    assert rows_one_colour == 1.0, rows_one_colour


def test_the_masked_search_finds_the_nearest_by_brute_force(rng):
    """Candidates.nearest_masked against the masked distance computed block by block."""
    source = rng.uniform(0, 255, (40, 44, 3)).astype(np.float32)
    cands = quilting._Candidates([source], 16)
    vectors = cands.pooled()
    weights = rng.uniform(0, 1, (5, vectors.shape[1])).astype(np.float32)
    weights[:, :12] = 0.0
    queries = rng.uniform(0, 255, (5, vectors.shape[1])).astype(np.float32)
    found = cands.nearest_masked(weights, weights * queries, 3)
    for w, q, got in zip(weights, queries, found):
        d = ((vectors - q) ** 2 * w).sum(1)
        assert set(got) == set(np.argsort(d)[:3])


def test_several_styles_are_all_drawn_from():
    """Two styles, one beige and one green, and a guide half of each: both supply blocks
    (the first block's columns and the last's, beyond the overlaps, are whole copies)."""
    style, beige, green = flat_and_stripes(64)
    a, b = style[:, :32].copy(), style[:, 32:].copy()
    guide = np.zeros((64, 64, 3), np.float32)
    guide[:, :32], guide[:, 32:] = beige, green
    out = quilting.quilt(guide, [np.tile(a, (1, 2, 1)), np.tile(b, (1, 2, 1))], key=jax.random.PRNGKey(0))
    assert _pixel_set(out[:, :20]) <= _pixel_set(a) and _pixel_set(out[:, 56:]) <= _pixel_set(b)


def test_a_style_smaller_than_the_smallest_block_is_left_alone(rng):
    guide = rng.uniform(0, 255, (20, 20, 3)).astype(np.float32)
    out = quilting.quilt(guide, [rng.uniform(0, 255, (6, 40, 3))], key=jax.random.PRNGKey(0))
    np.testing.assert_array_equal(out, guide)


def test_a_painting_smaller_than_a_block_and_the_same_key_give_the_same_quilt(rng):
    style = rng.uniform(0, 255, (50, 70, 3)).round().astype(np.float32)
    guide = rng.uniform(0, 255, (13, 17, 3)).astype(np.float32)
    a = quilting.quilt(guide, [style], key=jax.random.PRNGKey(5))
    b = quilting.quilt(guide, [style], key=jax.random.PRNGKey(5))
    assert a.shape == (13, 17, 3) and _pixel_set(a) <= _pixel_set(style)
    np.testing.assert_array_equal(a, b)
