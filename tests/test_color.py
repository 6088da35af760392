"""Luma/chroma conversions for --preserve-colors."""
import numpy as np

from doodle.core import color


def test_round_trip_and_grey_has_no_chroma(rng):
    rgb = rng.uniform(0, 255, (5, 7, 3))
    np.testing.assert_allclose(color.ycc_to_rgb(color.rgb_to_ycc(rgb)), rgb, atol=1e-9)
    ycc = color.rgb_to_ycc(np.array([[0, 0, 0], [255, 255, 255], [90, 90, 90], [255, 0, 0]], np.uint8))
    np.testing.assert_allclose(ycc[:3, 1:], 0.0, atol=1e-9)
    np.testing.assert_allclose(ycc[:, 0], [0.0, 255.0, 90.0, 0.299 * 255], atol=1e-9)
    # Changing Y moves R, G and B one for one: the inverse's luma column is (1, 1, 1).
    np.testing.assert_allclose(color.YCC_TO_RGB[:, 0], 1.0, atol=1e-12)


def test_grey_replicates_luma():
    y = np.array([[0.0, 100.5], [255.0, 3.0]])
    g = color.grey(y)
    assert g.shape == (2, 2, 3) and g.dtype == np.float32
    np.testing.assert_allclose(color.luminance(g), y, atol=1e-4)


def test_match_luminance_takes_the_contents_statistics(rng):
    style = rng.uniform(0, 60, (9, 11))  # a dark, low-contrast style
    content = rng.uniform(80, 200, (6, 5))
    matched = color.match_luminance(style, content)
    assert matched.shape == style.shape
    np.testing.assert_allclose([matched.mean(), matched.std()], [content.mean(), content.std()], rtol=1e-6)
    # The order of values is kept: it is an increasing affine map.
    assert np.array_equal(np.argsort(matched, axis=None), np.argsort(style, axis=None))
    flat = color.match_luminance(np.full((3, 3), 10.0), content)
    np.testing.assert_allclose(flat, content.mean())


def test_combine_keeps_content_chroma_and_painted_luma(rng):
    content = rng.uniform(60, 190, (8, 8, 3))  # moderate colours: every luma below stays in gamut
    painted_y = rng.uniform(90, 160, (8, 8))
    out = color.combine(color.grey(painted_y), content)
    assert out.dtype == np.float32 and out.shape == (8, 8, 3)
    np.testing.assert_allclose(color.rgb_to_ycc(out)[..., 1:], color.rgb_to_ycc(content)[..., 1:], atol=1e-3)
    np.testing.assert_allclose(color.luminance(out), painted_y, atol=1e-3)
    # A coloured painted image gives the same result: only its luma counts.
    tinted = color.ycc_to_rgb(np.stack([painted_y, np.full_like(painted_y, 20.0), np.full_like(painted_y, -15.0)], -1))
    np.testing.assert_allclose(color.combine(tinted, content), out, atol=1e-3)


def test_combine_clamps_luma_rather_than_clipping_channels():
    # Pure red made bright: clipping the channels would give pink; the colour must stay
    # red, at the brightest luma red can have.
    red = np.array([[[255.0, 0.0, 0.0]]])
    out = color.combine(color.grey(np.array([[250.0]])), red)
    np.testing.assert_allclose(out, red, atol=1e-3)
    dark = color.combine(color.grey(np.array([[0.0]])), np.array([[[40.0, 200.0, 90.0]]]))
    assert (dark >= 0).all() and (dark <= 255).all()
    np.testing.assert_allclose(color.rgb_to_ycc(dark)[0, 0, 1:], color.rgb_to_ycc(np.array([40.0, 200.0, 90.0]))[1:],
                               atol=1e-3)
