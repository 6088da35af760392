"""doodle.core.tiles: the layout covers the canvas, and pasting joins tiles without a step."""
import numpy as np
import pytest

from doodle.core import tiles


@pytest.mark.parametrize("hw,tile,overlap", [((96, 128), (40, 48), 8), ((64, 64), (64, 64), 16),
                                             ((100, 37), (30, 30), 10), ((50, 200), (50, 60), 20)])
def test_layout_covers_with_overlaps(hw, tile, overlap):
    ts = tiles.layout(hw, tile, overlap)
    seen = np.zeros(hw, int)
    for t in ts:
        assert t.hw[0] <= tile[0] and t.hw[1] <= tile[1]
        seen[t.y0:t.y1, t.x0:t.x1] += 1
    assert seen.min() >= 1  # every pixel painted
    rows = sorted({(t.y0, t.y1) for t in ts})
    cols = sorted({(t.x0, t.x1) for t in ts})
    for (a0, a1), (b0, b1) in zip(rows, rows[1:]):
        assert a1 - b0 >= overlap
    for (a0, a1), (b0, b1) in zip(cols, cols[1:]):
        assert a1 - b0 >= overlap
    # raster order: row by row, columns left to right
    assert [(t.row, t.col) for t in ts] == sorted((t.row, t.col) for t in ts)


def test_overlap_must_be_smaller_than_the_tile():
    with pytest.raises(ValueError, match="overlap"):
        tiles.layout((100, 100), (20, 20), 20)


def test_pasting_the_same_picture_everywhere_gives_it_back():
    # Tiles that each paint their crop of one picture must leave exactly that picture,
    # whatever the canvas held before: the joins add nothing of their own.
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 255, (70, 90, 3)).astype(np.float32)
    canvas = rng.uniform(0, 255, (70, 90, 3)).astype(np.float32)
    ts = tiles.layout((70, 90), (32, 40), 12)
    assert len(ts) > 4
    for i, t in enumerate(ts):
        canvas = tiles.paste(canvas, tiles.crop(truth, t), ts, i)
    np.testing.assert_allclose(canvas, truth, atol=1e-3)


def test_weights_rise_across_the_overlap_with_painted_neighbours():
    ts = tiles.layout((64, 64), (40, 40), 16)
    first = tiles.weight(ts, 0)[..., 0]
    assert np.all(first == 1.0)  # nothing painted before it
    last = tiles.weight(ts, len(ts) - 1)[..., 0]
    t = ts[-1]
    over = ts[0].y1 - t.y0
    assert over == ts[0].x1 - t.x0 >= 16
    assert last[0, 0] == pytest.approx((0.5 / over) ** 2)  # the corner facing painted tiles
    assert np.all(np.diff(last[:over, -1]) > 0)  # rising across the top overlap
    assert np.all(last[over:, over:] == 1.0)  # past the overlaps the tile is kept whole


def test_pasting_two_different_paintings_changes_smoothly():
    # A canvas painted 0 on the left tile and 255 on the right: the step across the join
    # is spread over the overlap, no jump larger than one ramp step.
    ts = tiles.layout((16, 64), (16, 40), 16)
    assert len(ts) == 2
    canvas = np.zeros((16, 64, 3), np.float32)
    canvas = tiles.paste(canvas, np.zeros(ts[0].hw + (3,), np.float32), ts, 0)
    canvas = tiles.paste(canvas, np.full(ts[1].hw + (3,), 255.0, np.float32), ts, 1)
    steps = np.abs(np.diff(canvas[0, :, 0]))
    assert steps.max() <= 255.0 / 16 + 1e-3
    assert canvas[0, 0, 0] == 0.0 and canvas[0, -1, 0] == 255.0
