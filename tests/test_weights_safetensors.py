"""safetensors in timm's naming and in doodle's own (doodle/weights/safetensors.py)."""
from __future__ import annotations

import numpy as np
import pytest

from doodle.core import vgg
from doodle import weights
from weight_files import bf16_round, doodle_metadata, st_bytes, timm_tensors, torch_index
from weight_refs import file_params
from weight_refs import (
    IMAGE, assert_every_layer, assert_first_layer, assert_tagged, correlate_chw, correlate_hwc, hwio_reference,
    hwio_weights, oihw_weights, relu1_1, tagged_hwio, tagged_oihw, torch_reference, torchvision_input_chw,
)


@pytest.mark.parametrize("code", ["F32", "BF16"])
def test_timm_safetensors(tmp_path, code):
    w = oihw_weights(4)
    path = tmp_path / "model.safetensors"
    path.write_bytes(st_bytes(timm_tensors(w, code)))
    ext = weights.load_file(path, partial=True)
    assert ext.preprocess == weights.TORCHVISION
    ref = w if code == "F32" else {c: (bf16_round(a), bf16_round(b)) for c, (a, b) in w.items()}
    assert_first_layer(ext, correlate_chw(torchvision_input_chw(IMAGE), *ref["conv1_1"]))
    assert_every_layer(file_params(ext), torch_reference(ref))


def test_doodle_safetensors_carry_their_preprocessing(tmp_path):
    k = hwio_weights()
    path = tmp_path / "mine.safetensors"
    tensors = {f"{c}.{p}": ("F32", a) for c, (kk, bb) in k.items() for p, a in (("kernel", kk), ("bias", bb))}
    path.write_bytes(st_bytes(tensors, {"doodle": doodle_metadata()}))
    ext = weights.load_file(path, partial=True)
    assert ext.preprocess == vgg.Preprocess("RGB", 255.0, (1.0, 2.0, 3.0), (2.0, 3.0, 4.0))
    x = (IMAGE - np.array([1, 2, 3], np.float32)) / np.array([2, 3, 4], np.float32)  # RGB, by hand
    want = np.maximum(correlate_hwc(x, *k["conv1_1"]), 0)
    np.testing.assert_allclose(relu1_1(ext), want, rtol=1e-4, atol=2e-3)
    assert_every_layer(file_params(ext), hwio_reference(k))


def test_timm_vgg16_safetensors(tmp_path):
    """timm's vgg16.tv_in1k: torchvision's VGG16 numbering (conv4_1 is features.17)."""
    w = tagged_oihw("vgg16", 2)
    path = tmp_path / "model.safetensors"
    path.write_bytes(st_bytes(timm_tensors(w, index=torch_index("vgg16"))))
    ext = weights.load_file(path)
    assert ext.arch == "vgg16" and ext.preprocess == weights.TORCHVISION
    assert_tagged(file_params(ext), "vgg16", torch_reference(w))


def test_doodle_vgg16_safetensors_round_trip(tmp_path):
    """doodle's own layout holds either network: a VGG16 export reads back as VGG16."""
    k = tagged_hwio("vgg16", 3)
    path = tmp_path / "mine.safetensors"
    weights.write_safetensors(path, weights.export_tensors({c: {"kernel": a, "bias": b} for c, (a, b) in k.items()}),
                              {"doodle": doodle_metadata()})
    ext = weights.load_file(path)
    assert ext.arch == "vgg16" and "conv3_4" not in ext.params
    assert_tagged(file_params(ext), "vgg16", hwio_reference(k))
