"""Keras h5 (doodle/weights/keras.py): HWIO cross-correlation in BGR, h5py optional."""
from __future__ import annotations

import numpy as np
import pytest

from doodle import weights
from doodle.errors import InputError
from weight_files import keras_groups, write_keras_h5
from weight_refs import file_params
from weight_refs import (
    IMAGE, assert_every_layer, assert_tagged, caffe_input_chw, correlate_hwc, hwio_reference, hwio_weights, relu1_1,
    tagged_hwio,
)


@pytest.mark.parametrize("style", ["keras2", "keras3"])
def test_keras_h5_is_hwio_correlation_in_bgr(tmp_path, style):
    h5py = pytest.importorskip("h5py")
    k = hwio_weights(5)
    path = tmp_path / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    with h5py.File(path, "w") as f:
        root = f if style == "keras2" else f.create_group("model_weights")
        root.attrs["layer_names"] = [weights.KERAS_GROUPS[c].encode() for c in k]
        for conv, (kk, bb) in k.items():
            name = weights.KERAS_GROUPS[conv]
            g = root.create_group(name)
            if style == "keras2":  # the published file: block1_conv1/block1_conv1_W_1:0
                g.attrs["weight_names"] = [f"{name}_W_1:0".encode(), f"{name}_b_1:0".encode()]
                g[f"{name}_W_1:0"], g[f"{name}_b_1:0"] = kk, bb
            else:
                g.create_group(name)
                g[name]["kernel:0"], g[name]["bias:0"] = kk, bb
    assert weights.detect_format(path) == "keras-h5"
    ext = weights.load_file(path, partial=True)
    assert ext.preprocess == weights.CAFFE
    want = correlate_hwc(caffe_input_chw(IMAGE).transpose(1, 2, 0), *k["conv1_1"])
    np.testing.assert_allclose(relu1_1(ext), np.maximum(want, 0), rtol=1e-4, atol=2e-3)
    assert_every_layer(file_params(ext), hwio_reference(k))


def test_keras_h5_without_h5py_says_how_to_install(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_h5py(name, *args, **kwargs):
        if name == "h5py":
            raise ImportError("no h5py")
        return real_import(name, *args, **kwargs)

    path = tmp_path / "w.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    monkeypatch.setattr(builtins, "__import__", no_h5py)
    with pytest.raises(InputError) as err:
        weights.load_file(path, partial=True)
    assert "doodle[h5]" in err.value.hint


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_keras_h5_of_either_network(tmp_path, arch):
    """vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 stops at block5_conv3."""
    pytest.importorskip("h5py")
    k = tagged_hwio(arch, 5)
    path = write_keras_h5(tmp_path / f"{arch}_weights_tf_dim_ordering_tf_kernels_notop.h5", k, keras_groups(arch))
    ext = weights.load_file(path)
    assert ext.arch == arch and ext.preprocess == weights.CAFFE
    assert_tagged(file_params(ext), arch, hwio_reference(k))
