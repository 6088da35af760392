""".npz in doodle's layout (doodle/weights/npz.py)."""
from __future__ import annotations

import numpy as np
import pytest

from doodle import weights
from doodle.errors import InputError
from weight_files import doodle_metadata
from weight_refs import file_params
from weight_refs import (
    IMAGE, assert_every_layer, assert_tagged, caffe_input_chw, correlate_hwc, hwio_reference, hwio_weights, relu1_1,
    tagged_hwio,
)


@pytest.mark.parametrize("with_metadata", [True, False])
def test_npz(tmp_path, with_metadata):
    k = hwio_weights(6)
    arrays = {f"{c}.{p}": a for c, (kk, bb) in k.items() for p, a in (("kernel", kk), ("bias", bb))}
    if with_metadata:
        arrays["__doodle__"] = np.array(doodle_metadata(order="BGR", mean=(10.0, 20.0, 30.0), std=(1.0, 1.0, 1.0)))
    path = tmp_path / "w.npz"
    np.savez(path, **arrays)
    ext = weights.load_file(path, partial=True)
    if with_metadata:
        x = IMAGE[..., ::-1] - np.array([10, 20, 30], np.float32)
    else:  # no metadata: the Caffe convention is assumed
        x = caffe_input_chw(IMAGE).transpose(1, 2, 0)
    np.testing.assert_allclose(relu1_1(ext), np.maximum(correlate_hwc(x, *k["conv1_1"]), 0), rtol=1e-4, atol=2e-3)
    assert_every_layer(file_params(ext), hwio_reference(k))


def test_npz_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "o.npz"
    np.savez(path, **{"conv1_1.kernel": np.array([object()], dtype=object)})
    with pytest.raises(InputError, match="refused"):
        weights.load_file(path, partial=True)


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_npz_of_either_network(tmp_path, arch):
    k = tagged_hwio(arch, 8)
    path = tmp_path / "w.npz"
    np.savez(path, **{f"{c}.{p}": a for c, (kk, bb) in k.items() for p, a in (("kernel", kk), ("bias", bb))})
    ext = weights.load_file(path)
    assert ext.arch == arch
    assert_tagged(file_params(ext), arch, hwio_reference(k))
