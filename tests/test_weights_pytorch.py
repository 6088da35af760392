"""PyTorch checkpoints in all three layouts (doodle/weights/pytorch.py, pytorch_pickle.py)."""
from __future__ import annotations

import numpy as np
import pytest

from doodle import weights
from doodle.errors import InputError
from weight_files import (
    bf16_round, legacy_state, torch_index, torch_state, write_torch_legacy, write_torch_tar, write_torch_zip,
)
from weight_refs import file_params
from weight_refs import (
    IMAGE, assert_every_layer, assert_first_layer, assert_tagged, caffe_input_chw, correlate_chw, oihw_weights,
    tagged_oihw, torch_reference,
    torchvision_input_chw,
)


@pytest.mark.parametrize("layout", ["zip", "legacy", "tar"])
def test_torchvision_pth_is_correlation_in_normalised_rgb(tmp_path, layout):
    w = oihw_weights(1)
    path = tmp_path / "vgg19-dcbb9e9d.pth"  # the name says torchvision convention
    if layout == "zip":
        write_torch_zip(path, *torch_state(w))
    elif layout == "legacy":  # torchvision's vgg19-dcbb9e9d.pth is in this layout
        write_torch_legacy(path, *legacy_state(w))
    else:
        write_torch_tar(path, w)
    assert weights.detect_format(path) == "torch"
    ext = weights.load_file(path, partial=True)
    assert ext.preprocess == weights.TORCHVISION
    assert_first_layer(ext, correlate_chw(torchvision_input_chw(IMAGE), *w["conv1_1"]))
    assert_every_layer(file_params(ext), torch_reference(w))
    if layout != "tar":
        state = weights.read_torch(path)
        np.testing.assert_array_equal(state["classifier.0.weight"], np.arange(12, dtype=np.float32).reshape(3, 4))


def test_caffe_pth_is_correlation_in_bgr(tmp_path):
    w = oihw_weights(2)
    path = write_torch_zip(tmp_path / "vgg19-d01eb7cb.pth", *torch_state(w), root="vgg19-d01eb7cb")
    ext = weights.load_file(path, partial=True)
    assert ext.preprocess == weights.CAFFE
    assert_first_layer(ext, correlate_chw(caffe_input_chw(IMAGE), *w["conv1_1"]))
    # an explicit convention overrides the name
    assert weights.load_file(path, partial=True, convention="torchvision").preprocess == weights.TORCHVISION


@pytest.mark.parametrize("kind", ["HalfStorage", "BFloat16Storage", "untyped-v3"])
def test_torch_half_bfloat16_and_untyped_storages(tmp_path, kind):
    w = oihw_weights(3)
    if kind == "HalfStorage":
        stored = {c: (a.astype(np.float16), b.astype(np.float16)) for c, (a, b) in w.items()}
        ref = {c: (a.astype(np.float32), b.astype(np.float32)) for c, (a, b) in stored.items()}
        state, storages = torch_state(stored, type_name="HalfStorage")
    elif kind == "BFloat16Storage":
        ref = {c: (bf16_round(a), bf16_round(b)) for c, (a, b) in w.items()}
        stored = {c: ((a.view(np.uint32) >> 16).astype(np.uint16), (b.view(np.uint32) >> 16).astype(np.uint16))
                  for c, (a, b) in w.items()}
        state, storages = torch_state(stored, type_name="BFloat16Storage")
    else:
        stored = {c: (a.astype(np.float16), b.astype(np.float16)) for c, (a, b) in w.items()}
        ref = {c: (a.astype(np.float32), b.astype(np.float32)) for c, (a, b) in stored.items()}
        state, storages = torch_state(stored, untyped=True)
        for t in state.values():
            t.rebuild, t.dtype = "v3", "float16"
        state["classifier.0.weight"].dtype = "float32"  # its storage holds float32 bytes
    path = write_torch_zip(tmp_path / "vgg19-dcbb9e9d.pth", state, storages)
    ext = weights.load_file(path, partial=True)
    assert_every_layer(file_params(ext), torch_reference(ref))


def test_torch_tensor_past_its_storage_is_refused(tmp_path):
    w = oihw_weights(names=("conv1_1",))
    state, storages = torch_state(w)
    state["features.0.bias"].args = (storages[1], 10, (64,), (1,))  # 10 + 64 > 64 elements
    path = write_torch_zip(tmp_path / "t.pth", state, storages)
    with pytest.raises(InputError, match="past the end"):
        weights.load_file(path, partial=True)


def test_torch_unknown_name_is_assumed_torchvision(tmp_path):
    path = write_torch_zip(tmp_path / "model.pth", *torch_state(oihw_weights()))
    assert weights.info(path)["convention"] == "torchvision (assumed)"


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_torchvision_vgg16_and_vgg19_numbering(tmp_path, arch):
    """torchvision's vgg16-397923af.pth numbers its convs 0…28, vgg19's 0…34: each
    whole file reads as its own network, its classifier ignored."""
    w = tagged_oihw(arch)
    path = write_torch_zip(tmp_path / f"{arch}.pth", *torch_state(w, torch_index(arch)))
    loaded = weights.read_weights(path)
    assert loaded.convention == "torchvision (assumed)"
    assert_tagged(loaded.params, arch, torch_reference(w))
    ext = weights.to_extractor(loaded, "x")
    assert ext.arch == arch
    assert weights.info(path)["network"] == {"vgg16": "VGG16, 13 conv layers", "vgg19": "VGG19, 16 conv layers"}[arch]
