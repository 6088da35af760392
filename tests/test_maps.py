"""Semantic maps: palettes, fringe snapping, doodle checks, segmentation, and their CLI."""
from __future__ import annotations

from collections import deque

import imageio.v3 as iio
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from doodle.run import api
from doodle.io import maps, segment
from doodle.cli.maps import check_command, segment_command
from doodle.core import labels

RED = (255, 0, 0)
BLUE = (0, 0, 255)
GREEN = (0, 255, 0)
PURPLE = (128, 0, 128)


def two_colour_disc(h: int = 48, w: int = 64, ss: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """A red disc on blue, anti-aliased by supersampling then softened by a 3×3 blur.

    Returns (map (h, w, 3) uint8 with many in-between colours, truth (h, w) bool red).
    """
    yy, xx = np.mgrid[0 : h * ss, 0 : w * ss] / ss
    inside = (yy - h * 0.45) ** 2 + (xx - w * 0.55) ** 2 < (h * 0.3) ** 2
    frac = inside.reshape(h, ss, w, ss).mean(axis=(1, 3))
    padded = np.pad(frac, 1, mode="edge")
    soft = sum(padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)) / 9.0
    rgb = soft[..., None] * np.array(RED) + (1 - soft[..., None]) * np.array(BLUE)
    return np.round(rgb).astype(np.uint8), frac >= 0.5


def flat_map(labels: np.ndarray, colours: list[tuple[int, int, int]]) -> np.ndarray:
    return np.array(colours, dtype=np.uint8)[labels]


def colour_set(m: np.ndarray) -> set[tuple[int, int, int]]:
    return {tuple(int(v) for v in c) for c in labels.palette(m)[0]}


def bfs_components(mask: np.ndarray) -> list[int]:
    """Sizes of the 4-connected components of a bool mask (independent of segment.components)."""
    h, w = mask.shape
    seen = np.zeros_like(mask)
    sizes = []
    for y0, x0 in zip(*np.nonzero(mask)):
        if seen[y0, x0]:
            continue
        seen[y0, x0] = True
        queue, n = deque([(y0, x0)]), 0
        while queue:
            y, x = queue.popleft()
            n += 1
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    queue.append((ny, nx))
        sizes.append(n)
    return sizes


# --- palette and fringes ----------------------------------------------------


def test_palette_counts_most_common_first():
    regions = np.zeros((4, 5), dtype=int)
    regions[0, :3] = 1
    regions[3, 4] = 2
    colours, counts = labels.palette(flat_map(regions, [RED, GREEN, BLUE]))
    assert [tuple(c) for c in colours] == [RED, GREEN, BLUE]
    assert counts.tolist() == [16, 3, 1]
    assert colours.dtype == np.uint8 and colours.shape == (3, 3)


def test_palette_rejects_non_maps():
    with pytest.raises(ValueError):
        labels.palette(np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(ValueError):
        labels.palette(np.zeros((4, 4, 3), dtype=np.float32))


def test_main_colours_skip_antialiasing_and_fringe_is_found():
    aa, _ = two_colour_disc()
    assert len(labels.palette(aa)[0]) > 10  # the fixture really has in-between colours
    assert {tuple(c) for c in maps.main_colours(aa)} == {RED, BLUE}
    fringe = maps.fringe_mask(aa)
    assert fringe.any()
    exact = np.all(aa == RED, axis=-1) | np.all(aa == BLUE, axis=-1)
    assert np.array_equal(fringe, ~exact)


def test_long_straight_fringe_is_not_a_main_colour():
    # A vertical edge blurred once: each in-between colour is a full-height 1 px column,
    # far above the area threshold, but never a solid block.
    m = np.zeros((100, 60, 3), dtype=np.uint8)
    m[:] = RED
    m[:, 30:] = BLUE
    m[:, 29] = (191, 0, 64)
    m[:, 30] = (64, 0, 191)
    assert {tuple(c) for c in maps.main_colours(m)} == {RED, BLUE}
    assert maps.fringe_mask(m).sum() == 200


def test_snap_removes_planted_fringe_and_keeps_the_boundary():
    aa, truth = two_colour_disc()
    snapped = maps.snap(aa)
    assert snapped.shape == aa.shape and snapped.dtype == np.uint8
    assert colour_set(snapped) == {RED, BLUE}
    assert not maps.fringe_mask(snapped).any()
    red = np.all(snapped == RED, axis=-1)
    # Every pixel that disagrees with the true shape is within 1 px of the true boundary.
    wrong = red != truth
    padded = np.pad(truth, 1, mode="edge")
    near_edge = np.zeros_like(truth)
    for dy in range(3):
        for dx in range(3):
            near_edge |= padded[dy : dy + truth.shape[0], dx : dx + truth.shape[1]] != truth
    assert not (wrong & ~near_edge).any()
    # Exact-colour pixels are left alone.
    exact = np.all(aa == RED, axis=-1) | np.all(aa == BLUE, axis=-1)
    assert np.array_equal(snapped[exact], aa[exact])


def test_snap_removes_stray_pixels_of_a_third_colour():
    # Purple is a real region (bottom rows), but single purple pixels on the red/blue
    # edge are anti-aliasing and must not survive.
    labels = np.zeros((30, 30), dtype=int)
    labels[:, 15:] = 1
    labels[24:] = 2
    m = flat_map(labels, [RED, BLUE, PURPLE])
    for y in (3, 8, 13, 18):
        m[y, 15] = PURPLE
    snapped = maps.snap(m)
    assert colour_set(snapped[:24]) == {RED, BLUE}
    assert np.array_equal(snapped[24:], m[24:])
    assert np.array_equal(snapped[:, :15], m[:, :15]) and np.array_equal(snapped[:, 16:], m[:, 16:])


def test_snap_to_a_given_palette_falls_back_to_nearest_colour():
    m = np.full((5, 5, 3), (250, 10, 10), dtype=np.uint8)  # no palette colour anywhere
    out = maps.snap(m, np.array([RED, BLUE], dtype=np.uint8))
    assert colour_set(out) == {RED}


def test_snap_fills_wide_fringes_from_both_sides():
    m = np.zeros((20, 40, 3), dtype=np.uint8)
    m[:, :15] = RED
    m[:, 25:] = BLUE
    for j in range(15, 25):  # a 10 px gradient: each column its own in-between colour
        t = (j - 14) / 11
        m[:, j] = np.round((1 - t) * np.array(RED) + t * np.array(BLUE))
    out = maps.snap(m)
    assert colour_set(out) == {RED, BLUE}
    assert np.all(out[:, :20] == RED) and np.all(out[:, 20:] == BLUE)


def test_snap_to_recolours_a_missing_region_whole_and_snaps_its_fringe():
    # A doodle in red, blue and a green region no style map has, anti-aliased.
    labels = np.zeros((40, 40), dtype=int)
    labels[:, 20:] = 1
    labels[10:22, 4:14] = 2
    m = flat_map(labels, [RED, BLUE, (40, 200, 60)])
    m[:, 19] = (128, 0, 128)  # the red/blue edge, blended
    palette = np.array([RED, BLUE, (0, 160, 90)], dtype=np.uint8)
    out = maps.snap_to(m, palette)
    assert colour_set(out) <= {RED, BLUE, (0, 160, 90)}
    # The whole green square becomes the nearest palette colour, not its neighbour's.
    assert np.all(out[10:22, 4:14] == (0, 160, 90))
    assert np.array_equal(out[:, :19][labels[:, :19] == 0], np.tile(RED, ((labels[:, :19] == 0).sum(), 1)))
    assert np.all(out[:, 20:] == BLUE)


# --- check ------------------------------------------------------------------


def test_check_names_missing_colour():
    labels = np.zeros((32, 32), dtype=int)
    labels[:, 16:] = 1
    style = flat_map(labels, [RED, BLUE])
    doodle_labels = labels.copy()
    doodle_labels[:8] = 2  # a green band: 25% of the doodle
    doodle = flat_map(doodle_labels, [RED, BLUE, GREEN])
    report = maps.check(style, doodle)
    assert not report.compatible
    assert [m.colour for m in report.missing] == ["#00ff00"]
    assert report.missing[0].fraction == pytest.approx(0.25)
    assert report.missing[0].nearest in ("#ff0000", "#0000ff")
    text = maps.format_report(report)
    assert "#00ff00" in text and "missing" in text


def test_check_ignores_antialiasing_and_counts_it():
    aa, _ = two_colour_disc()
    style = maps.snap(aa)
    report = maps.check(style, aa)
    assert report.compatible and report.missing == ()
    assert report.style_fringe == 0 and report.doodle_fringe > 0
    assert {c.colour for c in report.doodle_palette} == {"#ff0000", "#0000ff"}
    assert sum(c.fraction for c in report.style_palette) == pytest.approx(1.0)
    assert "compatible" in maps.format_report(report)


def test_check_accepts_nearly_equal_colours_but_not_different_ones():
    # JPEG and colour-managed editors shift flat colours by a unit or two.
    labels = np.zeros((20, 20), dtype=int)
    labels[10:] = 1
    style = flat_map(labels, [RED, BLUE])
    near = maps.check(style, flat_map(labels, [(253, 1, 2), BLUE]))
    assert near.compatible and [m.colour for m in near.approximate] == ["#fd0102"]
    assert near.approximate[0].nearest == "#ff0000" and near.unused == ()
    assert "#fd0102 -> #ff0000 (red)" in maps.format_report(near, {"#ff0000": "red"})
    far = maps.check(style, flat_map(labels, [(200, 40, 40), BLUE]))
    assert not far.compatible and [m.colour for m in far.missing] == ["#c82828"]


def test_check_reports_unused_style_colours():
    labels = np.zeros((20, 20), dtype=int)
    labels[10:] = 1
    style = flat_map(labels, [RED, BLUE])
    doodle = flat_map(np.zeros((20, 20), dtype=int), [RED])
    report = maps.check(style, doodle)
    assert report.compatible
    assert [c.colour for c in report.unused] == ["#0000ff"]


# --- segmentation -----------------------------------------------------------


def blobs_image(h: int = 48, w: int = 64, seed: int = 0, noise: float = 12.0) -> np.ndarray:
    """Three coloured shapes on a background, with pixel noise. (h, w, 3) uint8."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3)) + (40, 90, 160)
    img[(yy - 15) ** 2 + (xx - 15) ** 2 < 100] = (220, 200, 40)
    img[yy > 34] = (60, 150, 60)
    img[(xx > 40) & (yy > 8) & (yy < 30)] = (180, 60, 50)
    img += rng.normal(0, noise, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("k", [2, 4, 6])
@pytest.mark.parametrize("noise", [12.0, 50.0])
def test_segment_gives_exactly_k_connected_colours(k, noise):
    # Heavy noise leaves speckle after k-means and the majority filter: only the
    # merging of stray components makes each colour one or a few regions.
    img = blobs_image(noise=noise)
    sem = segment.segment(img, k, seed=1)
    assert sem.shape == img.shape and sem.dtype == np.uint8
    colours = colour_set(sem)
    assert len(colours) == k
    assert colours <= {tuple(int(v) for v in c) for c in segment.SEGMENT_COLOURS}
    assert (0, 0, 0) not in colours
    area = sem.shape[0] * sem.shape[1]
    for c in colours:
        sizes = sorted(bfs_components(np.all(sem == c, axis=-1)), reverse=True)
        assert len(sizes) <= 3, f"{c} is split into {len(sizes)} regions"
        # Beside a colour's main region, only sizeable regions remain (no speckle).
        assert all(s >= 0.01 * area for s in sizes[1:])


def test_segment_follows_the_image_and_is_deterministic():
    img = blobs_image()
    a = segment.segment(img, 4, seed=3)
    assert np.array_equal(a, segment.segment(img, 4, seed=3))
    # The green bottom band is one colour, distinct from the background's.
    assert len(colour_set(a[40:, 5:60])) == 1
    assert tuple(a[45, 30]) != tuple(a[20, 30])


def test_segment_of_noise_still_has_k_colours():
    img = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    assert len(colour_set(segment.segment(img, 5))) == 5
    flat = np.full((10, 10, 3), 128, dtype=np.uint8)
    assert len(colour_set(segment.segment(flat, 3))) == 3


def test_segment_rejects_bad_k():
    img = blobs_image(8, 8)
    with pytest.raises(ValueError):
        segment.segment(img, 0)
    with pytest.raises(ValueError):
        segment.segment(img, len(segment.SEGMENT_COLOURS) + 1)


def test_components_agree_with_bfs():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, (20, 25))
    ids, n = segment.components(labels)
    expected = sum(len(bfs_components(labels == v)) for v in range(3))
    assert n == expected
    # Each id is a single label and a single connected piece.
    for i in range(n):
        piece = ids == i
        assert len(np.unique(labels[piece])) == 1
        assert len(bfs_components(piece)) == 1


# --- CLI --------------------------------------------------------------------


def save(path, array, mode=None):
    im = Image.fromarray(array)
    if mode == "P":
        im = im.convert("P", palette=Image.ADAPTIVE, colors=8)
    elif mode:
        im = im.convert(mode)
    im.save(path)
    return str(path)


def test_cli_check_exit_codes(tmp_path):
    labels = np.zeros((16, 16), dtype=int)
    labels[8:] = 1
    style = save(tmp_path / "style_sem.png", flat_map(labels, [RED, BLUE]))
    # The same map as RGBA and as a palette image must read as the same colours.
    rgba = save(tmp_path / "rgba.png", flat_map(labels, [RED, BLUE]), "RGBA")
    pal = save(tmp_path / "pal.png", flat_map(labels, [RED, BLUE]), "P")
    green = labels.copy()
    green[:4] = 2
    bad = save(tmp_path / "bad.png", flat_map(green, [RED, BLUE, GREEN]))
    runner = CliRunner()

    for ok in (rgba, pal):
        result = runner.invoke(check_command, [style, ok])
        assert result.exit_code == 0, result.output
        assert "compatible" in result.output

    result = runner.invoke(check_command, [style, bad])
    assert result.exit_code == 1
    assert "#00ff00" in result.output

    (tmp_path / "junk.png").write_bytes(b"not an image")
    for broken in (str(tmp_path / "junk.png"), str(tmp_path / "absent.png")):
        result = runner.invoke(check_command, [style, broken])
        assert result.exit_code == 2
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("doodle: error: ")


def test_cli_check_greyscale_doodle_against_grey_style(tmp_path):
    labels = np.zeros((12, 12), dtype=int)
    labels[:, 6:] = 1
    m = flat_map(labels, [(200, 200, 200), (60, 60, 60)])
    style = save(tmp_path / "s.png", m)
    doodle = save(tmp_path / "d.png", m, "L")
    assert CliRunner().invoke(check_command, [style, doodle]).exit_code == 0


def test_cli_segment_writes_k_colours(tmp_path):
    src = save(tmp_path / "blobs.png", blobs_image())
    runner = CliRunner()
    result = runner.invoke(segment_command, [src, "-k", "3"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "blobs_sem.png"
    assert len(colour_set(iio.imread(out)[..., :3])) == 3
    # Never silently overwrite a map someone may have drawn by hand.
    again = runner.invoke(segment_command, [src, "-k", "3"])
    assert again.exit_code == 2 and "doodle: error:" in again.output
    forced = runner.invoke(segment_command, [src, "-k", "2", "-o", str(out), "--force"])
    assert forced.exit_code == 0
    assert len(colour_set(iio.imread(out)[..., :3])) == 2


# --- paint snaps the maps (api.build_problem) ---------------------------------


def test_paint_snaps_both_maps_and_warns_about_missing_colours():
    from doodle.run import api
    from doodle.plan.options import Options

    aa, _ = two_colour_disc(48, 48)  # an anti-aliased style map: red disc on blue
    style = np.full((48, 48, 3), 128, np.uint8)
    doodle = two_colour_disc(40, 40)[0].copy()
    doodle[2:12, 2:12] = GREEN  # a colour the style map lacks
    notices = []
    problem = api.build_problem(style, style_map=aa, target_map=doodle, options=Options(), notice=notices.append)
    assert colour_set(problem.style_map) == {RED, BLUE}
    assert colour_set(problem.target_map) == {RED, BLUE}
    assert len(notices) == 1 and "#00ff00" in notices[0] and "no style map" in notices[0], notices
    # A clean doodle in the style's colours: nothing to say, nothing changed.
    clean = flat_map((np.arange(40)[None, :] >= 20).repeat(40, 0).astype(int), [RED, BLUE])
    notices.clear()
    problem = api.build_problem(style, style_map=aa, target_map=clean, options=Options(), notice=notices.append)
    assert notices == [] and np.array_equal(problem.target_map, clean)
    # Several styles: a colour is missing only when no style map has it.
    green_map = np.zeros((48, 48, 3), np.uint8)
    green_map[:] = GREEN
    notices.clear()
    problem = api.build_problem([style, style], style_map=[aa, green_map], target_map=doodle, options=Options(),
                                notice=notices.append)
    assert notices == [] and colour_set(problem.target_map) == {RED, BLUE, GREEN}
    assert isinstance(problem.style_map, tuple) and len(problem.style_map) == 2


# --- conforming the maps of a run (api.conform_maps) ---------------------------


def test_conform_maps_snaps_an_antialiased_doodle_without_a_notice():
    aa, truth = two_colour_disc()
    notices = []
    (style,), doodle = api.conform_maps([maps.snap(aa)], aa, notices.append)
    assert notices == []  # anti-aliasing is no missing colour
    assert colour_set(doodle) == {RED, BLUE}
    assert (np.all(doodle == RED, axis=-1) == truth).mean() > 0.97


def test_conform_maps_names_a_colour_no_style_map_has():
    labels = np.zeros((32, 32), dtype=int)
    labels[:, 16:] = 1
    style = flat_map(labels, [RED, BLUE])
    doodle_labels = labels.copy()
    doodle_labels[:8] = 2
    doodle = flat_map(doodle_labels, [RED, BLUE, GREEN])
    doodle[:, 15] = PURPLE  # and an anti-aliased edge
    notices = []
    _, out = api.conform_maps([style], doodle, notices.append)
    assert len(notices) == 1 and "#00ff00" in notices[0] and "in no style map" in notices[0]
    assert colour_set(out) <= {RED, BLUE}
