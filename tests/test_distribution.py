"""The distribution term against brute force: quantiles, assignment, its loss."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from doodle.core import distribution


def _brute_assign(proj, labels, q, region_labels):
    """Loop by loop: within each region, the pixel of rank r along a direction takes q's
    r-th column. Returns the (K, X) assigned projections."""
    out = np.zeros_like(proj)
    start = 0
    for k in region_labels:
        where = np.flatnonzero(labels == k)
        for d in range(proj.shape[0]):
            ranked = where[np.argsort(proj[d, where], kind="stable")]
            for r, pixel in enumerate(ranked):
                out[d, pixel] = q[d, start + r]
        start += len(where)
    return out


def _case(rng, x=40, m=57, bases=2, c=4):
    style = rng.standard_normal((m, c)).astype(np.float32) + np.repeat(np.arange(3), [20, 20, 17])[:, None] * 3
    style_labels = np.repeat(np.arange(3), [20, 20, 17])
    labels = rng.integers(0, 3, x)
    labels[:3] = (2, 0, 1)
    dirs = distribution.directions(rng, c, bases)
    return style, style_labels, labels, dirs


def test_directions_are_whole_orthonormal_bases(rng):
    d = distribution.directions(rng, 7, 3)
    assert d.shape == (7, 21)
    for b in range(3):
        np.testing.assert_allclose(d[:, 7 * b:7 * b + 7].T @ d[:, 7 * b:7 * b + 7], np.eye(7), atol=1e-5)
    assert not np.allclose(d[:, :7], d[:, 7:14])  # independent bases


def test_quantiles_resample_each_regions_sorted_values(rng):
    style, style_labels, labels, dirs = _case(rng)
    proj = dirs.T @ style.T
    q = distribution.quantiles(proj, style_labels, labels)
    start = 0
    for k in range(3):
        n = int((labels == k).sum())
        values = np.sort(proj[:, style_labels == k], axis=1)
        m = values.shape[1]
        mid = (np.arange(n) + 0.5) / n * m - 0.5  # quantile midpoints in the style's index space
        for d in range(proj.shape[0]):
            np.testing.assert_allclose(q[d, start:start + n], np.interp(mid, np.arange(m), values[d]), rtol=1e-5)
        start += n
    # The same counts: exactly the sorted values.
    same = distribution.quantiles(proj, style_labels, style_labels)
    np.testing.assert_allclose(same[:, :20], np.sort(proj[:, :20], axis=1))


def test_a_label_the_style_lacks_takes_the_whole_style(rng):
    style, style_labels, labels, dirs = _case(rng)
    proj = dirs.T @ style.T
    q = distribution.quantiles(proj, style_labels, np.full(57, 9))
    np.testing.assert_allclose(q, np.sort(proj, axis=1))


@pytest.mark.parametrize("regions", [1, 3])
def test_assign_on_host_and_device_equals_brute_force(rng, regions):
    """The term with assigned targets is the mean squared distance of the projections
    to the brute-force assignment, at any image (here: the assignment's and another)."""
    style, style_labels, labels, dirs = _case(rng)
    if regions == 1:
        style_labels, labels = np.zeros_like(style_labels), np.zeros_like(labels)
    tgt = distribution.target(style, style_labels, labels, dirs)
    pixels = rng.standard_normal((len(labels), style.shape[1])).astype(np.float32)
    placed = _brute_assign(dirs.T @ pixels.T, labels, np.asarray(tgt.quantiles), np.unique(labels))
    other = rng.standard_normal(pixels.shape).astype(np.float32)
    for assigned in (distribution.assign(jnp.asarray(pixels), tgt),
                     distribution.Assigned(*distribution._assign_device(jnp.asarray(pixels), tgt.labels,
                                                                        tgt.directions, tgt.quantiles))):
        for at in (pixels, other):
            expected = np.mean((dirs.T @ at.T - placed) ** 2)
            np.testing.assert_allclose(float(distribution.loss(jnp.asarray(at), assigned)), expected, rtol=1e-4)


def test_loss_at_an_assignment_is_the_sliced_wasserstein_distance(rng):
    """Equal counts per region: the loss is the mean over directions and pixels of the
    squared differences of the sorted projections, region by region."""
    style, style_labels, _, dirs = _case(rng)
    labels = rng.permutation(style_labels)  # the same counts, shuffled
    tgt = distribution.target(style, style_labels, labels, dirs)
    pixels = rng.standard_normal(style.shape).astype(np.float32)
    value = float(distribution.loss(jnp.asarray(pixels), distribution.assign(jnp.asarray(pixels), tgt)))
    brute = 0.0
    for k in range(3):
        a = np.sort(dirs.T @ pixels[labels == k].T, axis=1)
        b = np.sort(dirs.T @ style[style_labels == k].T, axis=1)
        brute += ((a - b) ** 2).sum()
    np.testing.assert_allclose(value, brute / (dirs.shape[1] * len(pixels)), rtol=1e-4)
    # Matching distributions cost nothing: the style against itself, in any order.
    same = distribution.target(style, style_labels, style_labels, dirs)
    assert float(distribution.loss(jnp.asarray(style), distribution.assign(jnp.asarray(style), same))) < 1e-4


def test_labels_of_picks_the_nearest_palette_colour():
    palette = np.eye(3, dtype=np.float32)
    sem = np.array([[[0.9, 0.1, 0.0], [0.2, 0.3, 0.8]]], np.float32)
    np.testing.assert_array_equal(distribution.labels_of(sem, palette), [0, 2])


def test_feature_targets_trace_at_more_values_than_32_bits_count():
    # K·X is a Python int in the trace: past 2**31 (an 8K painting's relu2_1) JAX
    # would refuse it as an int32 operand. Traced only (eval_shape): nothing allocated.
    k, x, c = 640, 4_000_000, 128
    out = jax.eval_shape(distribution._to_features, jax.ShapeDtypeStruct((k, x), jnp.float32),
                         jax.ShapeDtypeStruct((c, k), jnp.float32))
    assert out[0].shape == (x, c) and out[1].shape == ()
