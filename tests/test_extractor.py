"""Pinning a network's layers (extractor.pin) and the extractors' defaults."""
import numpy as np
import jax.numpy as jnp

from doodle.core import extractor, vgg
from doodle.plan.options import BUILTIN, PRETRAINED


def _trained_like(seed: int = 0, last: str = "3_1") -> dict:
    """A small VGG prefix with non-zero biases, as trained weights have (not homogeneous)."""
    rng = np.random.default_rng(seed)
    names = vgg.LAYER_NAMES[: vgg.LAYER_NAMES.index(last) + 1]
    return {f"conv{n}": {"kernel": rng.normal(0, np.sqrt(2 / (9 * cin)), (3, 3, cin, cout)).astype(np.float32),
                         "bias": rng.normal(0.5, 0.5, cout).astype(np.float32)}
            for n, _, cin, cout in vgg.LAYERS if n in names}


def test_pinned_layers_are_the_raw_ones_times_one_number_each():
    raw = _trained_like()
    names = [n[4:] for n in raw]
    pinned, means = extractor.pin(raw, vgg.Preprocess(), 100.0)
    image = jnp.asarray(np.random.default_rng(1).uniform(0, 255, (20, 24, 3)), jnp.float32)
    a = vgg.features(raw, image, names, vgg.Preprocess())
    b = vgg.features(pinned, image, names, vgg.Preprocess())
    for name, mean in zip(names, means):
        np.testing.assert_allclose(np.asarray(b[name]), np.asarray(a[name]) * (100.0 / mean), rtol=2e-4, atol=1e-3)


def test_pinned_means_on_the_calibration_image_are_the_activation():
    names = [n[4:] for n in _trained_like()]
    pinned, means = extractor.pin(_trained_like(), vgg.Preprocess(), 100.0)
    out = vgg.features(pinned, extractor._calibration_image(), names, vgg.Preprocess())
    raw = vgg.features(_trained_like(), extractor._calibration_image(), names, vgg.Preprocess())
    for name, mean in zip(names, means):
        assert abs(float(jnp.mean(out[name])) - 100.0) < 0.05, name
        assert abs(float(jnp.mean(raw[name])) - mean) < 1e-3 * mean, name  # the means are the raw net's


def test_pin_reuses_given_means_and_holds_the_gain_past_a_dead_layer():
    raw = _trained_like()
    raw["conv2_1"]["bias"][:] = -1e6  # relu2_1 and everything after it dead on every image
    pinned, means = extractor.pin(raw, vgg.Preprocess(), 100.0)
    assert means[2] == 0.0
    assert all(np.isfinite(np.asarray(layer["kernel"])).all() for layer in pinned.values())
    again, same = extractor.pin(_trained_like(), vgg.Preprocess(), 100.0, means=(1.0, 2.0, 4.0, 8.0, 16.0))
    assert same == (1.0, 2.0, 4.0, 8.0, 16.0)  # no calibration pass when the means are given
    np.testing.assert_allclose(np.asarray(again["conv1_2"]["kernel"]), _trained_like()["conv1_2"]["kernel"] * 0.5,
                               rtol=1e-6)
    np.testing.assert_allclose(np.asarray(again["conv1_2"]["bias"]), _trained_like()["conv1_2"]["bias"] * 50.0,
                               rtol=1e-6)


def test_pretrained_doodles_are_not_quilted_by_default_but_builtin_ones_are():
    assert BUILTIN.quilt_with_maps and not PRETRAINED.quilt_with_maps
