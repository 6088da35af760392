"""Flat-colour maps as numbers, against plain loops."""
import numpy as np
import pytest

from doodle.core import labels


def test_codes_round_trip(rng):
    colours = rng.integers(0, 256, (50, 3)).astype(np.uint8)
    packed = labels.codes(colours)
    assert packed.dtype == np.int64 and len(set(packed.tolist())) == len({tuple(c) for c in colours.tolist()})
    np.testing.assert_array_equal(labels.uncode(packed), colours)
    assert labels.codes(np.array([1, 2, 3])) == (1 << 16) + (2 << 8) + 3


def test_palette_counts_and_orders_colours():
    m = np.zeros((3, 4, 3), np.uint8)
    m[0, :3] = (255, 0, 0)
    m[1, 0] = (0, 0, 255)
    colours, counts = labels.palette(m)
    assert [tuple(c) for c in colours] == [(0, 0, 0), (255, 0, 0), (0, 0, 255)]
    assert counts.tolist() == [8, 3, 1]
    with pytest.raises(ValueError):
        labels.palette(np.zeros((3, 4), np.uint8))


def test_nearest_is_the_brute_force_argmin(rng):
    channels = rng.random((5, 6, 4)).astype(np.float32)
    palette = rng.random((7, 4)).astype(np.float32)
    want = np.array([[min(range(7), key=lambda k: float(((channels[i, j] - palette[k]) ** 2).sum()))
                      for j in range(6)] for i in range(5)])
    np.testing.assert_array_equal(labels.nearest(channels, palette), want)


def test_centre_labels_skip_the_border():
    sem = np.zeros((4, 5, 1), np.float32)
    sem[1:3, 1:4] = 1.0
    sem[2, 3] = 0.2
    assert labels.centre_labels(sem, np.array([[0.0], [1.0]], np.float32)).tolist() == [1, 1, 1, 1, 1, 0]


@pytest.mark.parametrize("r", [0, 1, 3])
def test_box_sum_is_the_windowed_sum(rng, r):
    x = rng.integers(0, 2, (7, 9))
    want = np.array([[x[max(0, i - r):i + r + 1, max(0, j - r):j + r + 1].sum() for j in range(9)] for i in range(7)])
    np.testing.assert_array_equal(labels.box_sum(x, r), want)
