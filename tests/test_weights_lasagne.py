"""neural-doodle's pickle (doodle/weights/lasagne.py): a true convolution, in BGR."""
from __future__ import annotations

import numpy as np
import pytest

from doodle import weights
from doodle.errors import InputError
from weight_files import write_lasagne
from weight_refs import (
    IMAGE, SMALL, assert_every_layer, assert_first_layer, caffe_input_chw, oihw_weights, relu1_1, true_convolve_chw,
)


@pytest.mark.parametrize("protocol,old_names", [(2, True), (3, True), (4, False), (5, False)])
def test_lasagne_pickle_is_true_convolution_in_bgr(tmp_path, protocol, old_names):
    w = oihw_weights()
    path = write_lasagne(tmp_path / "vgg19_conv.pkl.bz2", w, protocol, old_names)
    ext = weights.load_file(path, partial=True)
    assert ext.preprocess == weights.CAFFE and ext.pretrained and ext.style_layers == ("3_1", "4_1")
    assert_first_layer(ext, true_convolve_chw(caffe_input_chw(IMAGE), *w["conv1_1"]))
    assert_every_layer(ext.params, lambda conv, x: true_convolve_chw(x.transpose(2, 0, 1), *w[conv]).transpose(1, 2, 0))


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
