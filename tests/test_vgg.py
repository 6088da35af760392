"""Network shapes, layer bookkeeping, preprocessing, the built-in extractor."""
import re

import numpy as np
import pytest

from doodle.core import extractor, vgg
from doodle.run import resolve


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
    assert not builtin_extractor.pretrained and resolve.kind_of(builtin_extractor).style_layers == ("2_1", "3_1", "4_1")
    assert not builtin_extractor.pretrained


def test_unknown_layer_is_named():
    with pytest.raises(ValueError, match="'6_1'"):
        vgg.check_layers(["3_1", "6_1"])


def test_a_shorter_builtin_network_has_the_full_ones_weights(builtin_extractor):
    from doodle.core.extractor import builtin

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


# --- VGG16: the network the weights describe ------------------------------------


def test_vgg16_tables():
    assert vgg.layer_names("vgg16") == ("1_1", "1_2", "2_1", "2_2", "3_1", "3_2", "3_3", "4_1", "4_2", "4_3",
                                        "5_1", "5_2", "5_3")
    assert sum(9 * cin * cout + cout for _, _, cin, cout in vgg.layers_of("vgg16")) == 14_714_688  # torchvision's
    with pytest.raises(ValueError, match="VGG16 has no layer '3_4'"):
        vgg.check_layers(["3_1", "3_4"], "vgg16")


def test_vgg16_pools_after_conv3_3(builtin_extractor):
    """Without conv3_4 the block ends at relu3_3: relu4_1 is conv4_1 of its 2×2 average."""
    import jax
    import jax.numpy as jnp

    params16 = {k: v for k, v in builtin_extractor.params.items() if k != "conv3_4"}
    assert vgg.arch_of(params16) == "vgg19"  # 4_4 and 5_4 still there
    params16 = {k: v for k, v in params16.items() if k[len("conv"):] in vgg.layer_names("vgg16")}
    assert vgg.arch_of(params16) == "vgg16"
    img = np.random.default_rng(2).uniform(0, 255, (16, 16, 3)).astype(np.float32)
    out = vgg.features(params16, img, ["3_3", "4_1"], builtin_extractor.preprocess)
    r33 = np.asarray(out["3_3"], np.float64)
    pooled = r33.reshape(2, 2, 2, 2, 256).mean(axis=(1, 3))
    k, b = (np.asarray(builtin_extractor.params["conv4_1"][p]) for p in ("kernel", "bias"))
    conv = jax.lax.conv_general_dilated(jnp.asarray(pooled[None], jnp.float32), jnp.asarray(k), (1, 1), "SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))[0]
    np.testing.assert_allclose(np.asarray(out["4_1"]), np.maximum(np.asarray(conv) + b, 0), rtol=1e-4, atol=1e-2)


def test_planner_counts_the_network_used():
    """A VGG16 run up to relu4_1 holds no conv3_4: neither its weights nor its two
    (conv, ReLU) activations at a quarter of the size; a VGG19 plan is unchanged."""
    from doodle.plan import planner

    h, w = 64, 48
    assert (planner._param_bytes("4_1", "vgg19") - planner._param_bytes("4_1", "vgg16")
            == (9 * 256 * 256 + 256) * 4)
    assert planner._param_bytes("4_1") == planner._param_bytes("4_1", "vgg19")
    assert (planner._activation_bytes(h, w, "4_1", arch="vgg19") - planner._activation_bytes(h, w, "4_1", arch="vgg16")
            == 2 * (h // 4) * (w // 4) * 256 * 4)
    args = ((h, w), (h, w), ("3_1", "4_1"), ("4_2",), True)
    assert planner.phase_fixed_bytes(*args, arch="vgg16") < planner.phase_fixed_bytes(*args)
    plan16 = planner.plan(*args, 1, {"cpu": 64 * 2**30}, arch="vgg16")
    plan19 = planner.plan(*args, 1, {"cpu": 64 * 2**30})
    assert plan16.phases[0].peak_bytes < plan19.phases[0].peak_bytes


def _vgg16_extractor():
    """A VGG16 extractor of zeros (np.zeros is lazy: no 59 MB actually written)."""
    params = {conv: {p: np.zeros(shape, np.float32) for p, shape in parts.items()}
              for conv, parts in vgg.param_shapes("vgg16").items()}
    return extractor.Extractor(params, vgg.Preprocess(), "vgg16 zeros", pretrained=True, arch=vgg.arch_of(params))


@pytest.mark.parametrize("field", ["style_layers", "content_layers"])
def test_a_layer_vgg16_lacks_is_one_input_error(field):
    from doodle.run import api
    from doodle.errors import InputError
    from doodle.plan.options import Options

    ext = _vgg16_extractor()
    assert ext.arch == "vgg16"
    style = np.full((32, 32, 3), 128, np.uint8)
    with pytest.raises(InputError) as err:
        api.paint(style, content=style, options=Options.of(iterations=1, phases=1, **{field: ("3_1", "4_4")}),
                  extractor=ext)
    assert "VGG16" in str(err.value) and "4_4" in str(err.value) and "\n" not in str(err.value)
    assert "5_3" in err.value.hint


def test_cli_names_the_network_when_a_layer_is_missing(tmp_path):
    """doodle paint --weights <a VGG16 file> --style-layers 3_4: one line, exit 2."""
    import imageio.v3 as iio
    from click.testing import CliRunner

    from doodle import cli, weights

    params = {c: {"kernel": np.zeros(s["kernel"], np.float16), "bias": np.zeros(s["bias"], np.float16)}
              for c, s in vgg.param_shapes("vgg16").items()}
    path = tmp_path / "vgg16-conv.safetensors"
    weights.write_safetensors(path, weights.export_tensors(params, float16=True),
                              weights.metadata_for(weights.CAFFE, "caffe"))
    iio.imwrite(tmp_path / "style.png", np.full((32, 32, 3), 128, np.uint8))
    result = CliRunner().invoke(cli.main, [
        "paint", "--style", str(tmp_path / "style.png"), "--output-size", "32x32", "-o", str(tmp_path / "out.png"),
        "--weights", str(path), "--style-layers", "3_1,3_4", "--iterations", "1", "--phases", "1"],
        catch_exceptions=False)
    lines = [line for line in result.stderr.splitlines() if line.startswith("doodle: error:")]
    assert result.exit_code == 2, result.stderr
    assert len(lines) == 1 and "VGG16" in lines[0] and "3_4" in lines[0], result.stderr
    assert not (tmp_path / "out.png").exists()
