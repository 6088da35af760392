"""What a weights spec names, and what the file holds (doodle/weights/loading.py)."""
import pytest

from doodle import weights
from doodle.errors import InputError
from doodle.weights import catalog
from weight_files import all_formats


def test_info_of_each_format(tmp_path):
    expected = {"lasagne": ("lasagne", "caffe"), "torch-zip": ("torch", "torchvision (assumed)"),
                "torch-tar": ("torch", "torchvision (assumed)"), "keras-h5": ("keras-h5", "caffe"),
                "torch-legacy": ("torch", "torchvision (assumed)"), "safetensors": ("safetensors", "torchvision (assumed)"),
                "npz": ("npz", "caffe (assumed)"), "onnx": ("onnx", "torchvision")}
    for key, path in all_formats(tmp_path).items():
        about = weights.info(path)
        assert (about["format"], about["convention"]) == expected[key], key
        assert about["layers"] == ["1_1", "1_2", "2_1"]


def test_auto_takes_doodles_cache_in_the_order_auto_order_gives(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    from doodle.weights import packaged

    assert weights.weights_file("auto", cache) == packaged.FILE and weights.weights_file("builtin", cache) is None
    vgg16 = cache / weights.get_source("torchvision-vgg16").filename
    vgg16.write_bytes(b"x")
    assert weights.weights_file("auto", cache) == vgg16
    vgg19 = cache / weights.get_source("torchvision").filename
    vgg19.write_bytes(b"x")
    assert weights.weights_file("auto", cache) == vgg19 == weights.find_cached(cache)
    monkeypatch.setattr(catalog, "AUTO_ORDER", ("doodle", "vgg16", "vgg19"))
    assert weights.weights_file("auto", cache) == vgg16 == weights.find_cached(cache)
    assert weights.resolve_path("torchvision-vgg16", cache) == (vgg16, weights.get_source("torchvision-vgg16"))
    with pytest.raises(InputError, match="'keras-vgg16' are not downloaded"):
        weights.resolve_path("keras-vgg16", cache)


def test_auto_paints_with_the_shipped_vgg16_when_nothing_else_is_found(tmp_path):
    from doodle.run import api
    from doodle.plan.options import Options
    from doodle.weights import packaged

    ext = weights.resolve("auto", tmp_path / "empty-cache")
    assert ext.name == packaged.NAME and ext.pretrained and ext.arch == "vgg16"
    assert list(ext.params) == [f"conv{n}" for n in ("1_1", "1_2", "2_1", "2_2", "3_1", "3_2", "3_3", "4_1", "4_2")]
    assert weights.weights_file("auto", tmp_path / "empty-cache") == packaged.FILE
    assert weights.weights_file("packaged") == packaged.FILE
    with pytest.raises(InputError, match="up to 4_2 only, not 5_1"):
        api.check_network_layers(ext, ("3_1", "5_1"), ("4_2",))
    assert api.extractor_kind(Options()).quilt_with_maps is False  # the pretrained defaults
    assert api.extractor_kind(Options.of(weights="builtin")).quilt_with_maps is True


def test_a_files_calibration_means_are_kept_and_a_bad_copy_is_redone(tmp_path, monkeypatch):
    from doodle.core import vgg
    from doodle.weights import packaged
    from doodle.weights import loading

    first = weights.load_file(packaged.FILE)
    kept = loading._means_file(packaged.FILE, weights.read_weights(packaged.FILE, partial=True), None)
    assert kept.is_file()
    calls = []
    real = vgg.features_jit
    monkeypatch.setattr(vgg, "features_jit", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = weights.load_file(packaged.FILE)
    assert calls == [] and again.calibration == first.calibration  # no calibration pass
    kept.write_text("[1.0, 2.0]")  # short: not trusted
    redone = weights.load_file(packaged.FILE)
    assert calls == [1] and redone.calibration == first.calibration
