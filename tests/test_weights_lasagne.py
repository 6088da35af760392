"""neural-doodle's pickle (doodle/weights/lasagne.py): a true convolution, in BGR."""
from __future__ import annotations

import numpy as np
import pytest

from doodle import weights
from doodle.errors import InputError
from doodle.run import resolve
from weight_files import write_lasagne
from weight_refs import file_params
from weight_refs import (
    IMAGE, SMALL, assert_every_layer, assert_first_layer, assert_tagged, caffe_input_chw, oihw_weights, relu1_1,
    tagged_oihw, true_convolve_chw,
)


@pytest.mark.parametrize("protocol,old_names", [(2, True), (3, True), (4, False), (5, False)])
def test_lasagne_pickle_is_true_convolution_in_bgr(tmp_path, protocol, old_names):
    w = oihw_weights()
    path = write_lasagne(tmp_path / "vgg19_conv.pkl.bz2", w, protocol, old_names)
    ext = weights.load_file(path, partial=True)
    assert ext.preprocess == weights.CAFFE and ext.pretrained and resolve.kind_of(ext).style_layers == ("3_1", "4_1")
    assert_first_layer(ext, true_convolve_chw(caffe_input_chw(IMAGE), *w["conv1_1"]))
    assert_every_layer(file_params(ext), lambda conv, x: true_convolve_chw(x.transpose(2, 0, 1), *w[conv]).transpose(1, 2, 0))


def test_lasagne_without_flip_would_not_match(tmp_path):
    """The flip is observable: unflipped kernels give different features (the check above is not vacuous)."""
    w = oihw_weights()
    arrays = weights.read_lasagne_pkl(write_lasagne(tmp_path / "v.pkl.bz2", w).read_bytes())
    flipped = weights.params_from_lasagne(arrays, partial=True)
    plain = weights.params_from_lasagne(arrays, partial=True, flip=False)
    np.testing.assert_array_equal(flipped["conv1_1"]["kernel"], plain["conv1_1"]["kernel"][::-1, ::-1])
    ref = true_convolve_chw(caffe_input_chw(IMAGE), *w["conv1_1"])
    wrong = weights.to_extractor(weights.Loaded(plain, weights.CAFFE, "lasagne", "caffe", "float32"), "x")
    assert np.abs(relu1_1(wrong) - np.maximum(ref.transpose(1, 2, 0), 0)).max() > 0.1


def test_lasagne_extra_arrays_are_ignored_and_full_file_required(tmp_path):
    w = oihw_weights()
    path = write_lasagne(tmp_path / "v.pkl.bz2", w, extra=[np.zeros(3, np.float32)])
    with pytest.raises(InputError, match="conv2_2"):
        weights.load_file(path)  # not partial: conv2_2 … conv5_4 are required
    assert list(weights.load_file(path, partial=True).params) == list(SMALL)


def _true_reference(w):
    return lambda conv, x: true_convolve_chw(x.transpose(2, 0, 1), *w[conv]).transpose(1, 2, 0)


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_lasagne_list_of_either_network(tmp_path, arch):
    w = tagged_oihw(arch)
    path = write_lasagne(tmp_path / f"{arch}.pkl", w, compress=False)
    loaded = weights.read_weights(path)
    assert loaded.format == "lasagne" and loaded.convention == "caffe"
    assert_tagged(loaded.params, arch, _true_reference(w))


def test_lasagne_vgg16_with_dense_layers_is_not_vgg19(tmp_path):
    """VGG16's 13 conv pairs and 3 dense pairs make 32 arrays, as VGG19's 16 conv pairs
    do: the shapes, not the count, say which (the dense layers are ignored)."""
    w = tagged_oihw("vgg16")
    dense = [np.ones((20, 8), np.float32), np.zeros(8, np.float32), np.ones((8, 6), np.float32),
             np.zeros(6, np.float32), np.ones((6, 4), np.float32), np.zeros(4, np.float32)]
    path = write_lasagne(tmp_path / "vgg16_with_fc.pkl", w, extra=dense, compress=False)
    arrays = weights.read_lasagne_pkl(path.read_bytes())
    assert len(arrays) == 32
    params = weights.params_from_lasagne(arrays)
    assert_tagged(params, "vgg16", _true_reference(w))
    assert weights.info(path)["network"] == "VGG16, 13 conv layers"
    nineteen = [a for conv in tagged_oihw("vgg19").values() for a in conv]
    assert len(nineteen) == 32 and list(weights.params_from_lasagne(nineteen))[-1] == "conv5_4"


def test_lasagne_short_prefix_is_either_network(tmp_path):
    w = oihw_weights()
    path = write_lasagne(tmp_path / "v.pkl.bz2", w)
    assert weights.info(path)["network"] == "VGG16 or VGG19, first 3 conv layers"
