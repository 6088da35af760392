"""Region shifts of a doodle and the previous painting carried along them."""
import numpy as np

from doodle.core import labels, motion

BLUE, RED, GREEN = (0, 0, 255), (255, 0, 0), (0, 255, 0)


def _map(square_at, size=40, side=10, colour=RED):
    m = np.zeros((size, size, 3), np.uint8)
    m[:] = BLUE
    m[:8] = GREEN  # a band that never moves
    y, x = square_at
    m[y:y + side, x:x + side] = colour
    return m


def test_the_shift_of_a_moved_square_is_its_move():
    shifts = motion.region_shifts(_map((12, 5)), _map((15, 12)))
    # The blue background changed too (it has a hole elsewhere) but keeps its box: no shift.
    assert shifts == [motion.Shift(RED, 3, 7)]


def test_shapes_of_one_colour_move_on_their_own():
    before, after = _map((12, 5)), _map((15, 12))
    before[28:34, 28:34] = GREEN  # a second shape of the band's colour, moving up-left
    after[25:31, 22:28] = GREEN
    # The band stays; the red square and the small green one each get their own move.
    assert sorted(motion.region_shifts(before, after)) == sorted([motion.Shift(RED, 3, 7),
                                                                  motion.Shift(GREEN, -3, -6)])
    out = motion.warp(np.broadcast_to(np.arange(40, dtype=np.float32)[:, None, None], (40, 40, 3)),
                      before, after, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(out.image[:8, :, 0], np.arange(8)[:, None] + np.zeros((1, 40)))  # the band


def test_unchanged_maps_have_no_shifts():
    assert motion.region_shifts(_map((12, 5)), _map((12, 5))) == []


def test_warp_carries_the_square_and_keeps_the_rest(rng):
    before, after = _map((12, 5)), _map((15, 12))
    painting = rng.uniform(0, 255, (40, 40, 3)).astype(np.float32)
    out = motion.warp(painting, before, after, rng=np.random.default_rng(0))
    # The square's pixels, moved by (3, 7): the reference is a plain slice.
    np.testing.assert_array_equal(out.image[15:25, 12:22], painting[12:22, 5:15])
    # Pixels whose colour did not change and that no moved region covers: untouched.
    same = (labels.codes(before) == labels.codes(after))
    same[15:25, 12:22] = False
    np.testing.assert_array_equal(out.image[same], painting[same])
    # Still: everywhere but the uncovered part of the old square (blue now, red then).
    uncovered = np.zeros((40, 40), bool)
    uncovered[12:22, 5:15] = True
    uncovered[15:25, 12:22] = False
    np.testing.assert_array_equal(out.still, (~uncovered).astype(np.float32))
    # The uncovered pixels are drawn from the blue region of the carried painting.
    blue = (labels.codes(after) == labels.codes(np.array(BLUE))) & ~uncovered
    pool = {tuple(p) for p in out.image[blue]}
    assert all(tuple(p) in pool for p in out.image[uncovered])
