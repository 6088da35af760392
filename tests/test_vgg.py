"""Network shapes, layer bookkeeping, preprocessing, the built-in extractor."""
import re

import numpy as np
import pytest

from doodle import extractor, vgg


def test_layer_table():
    assert vgg.LAYER_NAMES[0] == "1_1" and vgg.LAYER_NAMES[-1] == "5_4"
    assert len(vgg.LAYER_NAMES) == 16
    assert vgg.CHANNELS["3_1"] == 256 and vgg.IN_CHANNELS["3_1"] == 128


@pytest.mark.parametrize("layer,shape", [("1_1", (37, 29, 64)), ("2_1", (18, 14, 128)),
                                         ("3_1", (9, 7, 256)), ("4_1", (4, 3, 512)), ("4_2", (4, 3, 512))])
def test_feature_shapes(builtin_extractor, layer, shape):
    img = np.zeros((37, 29, 3), np.float32)
    out = vgg.features(builtin_extractor.params, img, [layer], builtin_extractor.preprocess)
    assert out[layer].shape == shape
    assert vgg.feature_size(37, 29, layer) == shape[:2]


def test_only_needed_layers_are_read(builtin_extractor):
    shallow = {k: v for k, v in builtin_extractor.params.items() if k in ("conv1_1", "conv1_2", "conv2_1")}
    out = vgg.features(shallow, np.zeros((8, 8, 3), np.float32), ["2_1"], builtin_extractor.preprocess)
    assert out["2_1"].shape == (4, 4, 128)


def test_first_layer_is_a_correlation_of_preprocessed_bgr(builtin_extractor, rng):
    img = rng.uniform(0, 255, (5, 6, 3)).astype(np.float32)
    k = np.asarray(builtin_extractor.params["conv1_1"]["kernel"])
    x = img[..., ::-1] - np.array([103.939, 116.779, 123.680], np.float32)
    xp = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    ref = np.zeros((5, 6, 64), np.float32)
    for dy in range(3):
        for dx in range(3):
            ref += xp[dy:dy + 5, dx:dx + 6] @ k[dy, dx]
    out = vgg.features(builtin_extractor.params, img, ["1_1"], builtin_extractor.preprocess)["1_1"]
    np.testing.assert_allclose(np.asarray(out), np.maximum(ref, 0), rtol=1e-4, atol=1e-3)


def test_seamless_first_layer_is_a_correlation_of_the_wrapped_image(builtin_extractor, rng):
    """--seamless: the convolution pads with np.pad(mode='wrap'), not with zeros."""
    img = rng.uniform(0, 255, (5, 6, 3)).astype(np.float32)
    k = np.asarray(builtin_extractor.params["conv1_1"]["kernel"])
    x = img[..., ::-1] - np.array([103.939, 116.779, 123.680], np.float32)
    xp = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="wrap")
    ref = np.zeros((5, 6, 64), np.float32)
    for dy in range(3):
        for dx in range(3):
            ref += xp[dy:dy + 5, dx:dx + 6] @ k[dy, dx]
    out = vgg.features(builtin_extractor.params, img, ["1_1"], builtin_extractor.preprocess, wrap=True)["1_1"]
    np.testing.assert_allclose(np.asarray(out), np.maximum(ref, 0), rtol=1e-4, atol=1e-3)
    zero = vgg.features(builtin_extractor.params, img, ["1_1"], builtin_extractor.preprocess)["1_1"]
    assert not np.allclose(np.asarray(zero)[0], np.maximum(ref, 0)[0], rtol=1e-4, atol=1e-3)  # the border differs


def test_seamless_features_are_those_of_the_tiled_image(builtin_extractor, rng):
    """Through pooling too: a tile's wrapped features are the centre of a 3×3 tiling's
    (zero-padded) features, far enough from the tiling's own border."""
    img = rng.uniform(0, 255, (16, 24, 3)).astype(np.float32)
    layers = ["2_1", "3_1"]
    wrapped = vgg.features(builtin_extractor.params, img, layers, builtin_extractor.preprocess, wrap=True)
    tiled = vgg.features(builtin_extractor.params, np.tile(img, (3, 3, 1)), layers, builtin_extractor.preprocess)
    for layer in layers:
        f = vgg.downscale(layer)
        h, w = 16 // f, 24 // f
        centre = np.asarray(tiled[layer])[h:2 * h, w:2 * w]
        np.testing.assert_allclose(np.asarray(wrapped[layer]), centre, rtol=1e-4, atol=1e-2)


def test_builtin_is_deterministic_and_pinned(builtin_extractor):
    again = extractor.builtin()
    np.testing.assert_array_equal(np.asarray(again.params["conv3_1"]["kernel"]),
                                  np.asarray(builtin_extractor.params["conv3_1"]["kernel"]))
    out = vgg.features(builtin_extractor.params, extractor._calibration_image(), vgg.LAYER_NAMES,
                       builtin_extractor.preprocess)
    for layer in vgg.LAYER_NAMES:
        assert abs(float(out[layer].mean()) - extractor.BUILTIN_ACTIVATION) < 1e-3 * extractor.BUILTIN_ACTIVATION
    assert builtin_extractor.style_layers == ("2_1", "3_1", "4_1")
    assert not builtin_extractor.pretrained


def test_unknown_layer_is_named():
    with pytest.raises(ValueError, match="'6_1'"):
        vgg.check_layers(["3_1", "6_1"])


def test_a_shorter_builtin_network_has_the_full_ones_weights(builtin_extractor):
    from doodle.extractor import builtin

    short = builtin(last="2_1")
    assert set(short.params) == {"conv1_1", "conv1_2", "conv2_1"}
    for name, p in short.params.items():
        np.testing.assert_array_equal(np.asarray(p["kernel"]), np.asarray(builtin_extractor.params[name]["kernel"]))


def test_rematerialised_features_wrap_as_the_plain_ones(builtin_extractor, rng):
    # --seamless with --remat: the checkpointed blocks pad circularly too.
    img = rng.uniform(0, 255, (16, 24, 3)).astype(np.float32)
    layers = ("1_1", "2_1", "3_1")
    args = (builtin_extractor.params, img, layers, builtin_extractor.preprocess)
    wrapped = vgg.features(*args, wrap=True)
    both = vgg.features(*args, wrap=True, remat=True)
    zero = vgg.features(*args, remat=True)
    for layer in layers:
        np.testing.assert_allclose(np.asarray(both[layer]), np.asarray(wrapped[layer]), rtol=1e-5, atol=1e-4)
    assert not np.allclose(np.asarray(zero["1_1"]), np.asarray(wrapped["1_1"]), atol=1e-3)


def test_rematerialised_features_are_the_same_and_checkpointed(builtin_extractor, rng):
    import jax
    import jax.numpy as jnp

    img = jnp.asarray(rng.uniform(0, 255, (20, 24, 3)), jnp.float32)
    layers = ("2_1", "3_1")
    plain = vgg.features(builtin_extractor.params, img, layers, builtin_extractor.preprocess)
    remat = vgg.features(builtin_extractor.params, img, layers, builtin_extractor.preprocess, remat=True)
    for layer in layers:
        np.testing.assert_array_equal(np.asarray(remat[layer]), np.asarray(plain[layer]))
    # One checkpoint per block up to relu3_1 (blocks 1, 2, 3): the backward pass keeps
    # only their inputs; without remat there is none.
    jaxpr = str(jax.make_jaxpr(lambda x, r: vgg.features(builtin_extractor.params, x, layers,
                                                         builtin_extractor.preprocess, remat=r),
                                 static_argnums=1)(img, True))
    assert len(re.findall(r"\b(?:checkpoint|remat\d*)\[", jaxpr)) == 3
    jaxpr = str(jax.make_jaxpr(lambda x: vgg.features(builtin_extractor.params, x, layers,
                                                      builtin_extractor.preprocess))(img))
    assert not re.findall(r"\b(?:checkpoint|remat\d*)\[", jaxpr)
