"""Known weights in each framework's file layout, and numpy references of what each
framework computes with them.

The references implement each framework's semantics directly (Caffe/PyTorch and
TensorFlow cross-correlation, Theano/Lasagne true convolution, each convention's
pixel preprocessing), so kernel orientation, channel order and RGB/BGR are proven
by the tests rather than assumed by the loaders. Only conv1_1, conv1_2 and conv2_1
are used, at their real shapes (files are read with ``partial=True``).
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from doodle.core import vgg
from doodle.core.extractor import BUILTIN_ACTIVATION

SMALL = ("conv1_1", "conv1_2", "conv2_1")
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.680], np.float32)
TV_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
TV_STD = np.array([0.229, 0.224, 0.225], np.float32)


def oihw_weights(seed: int = 0, names=SMALL) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{conv: (W (out, in, 3, 3), b (out,))} float32, random (hence asymmetric)."""
    rng = np.random.default_rng(seed)
    out = {}
    for conv in names:
        _, _, cin, cout = vgg.param_shapes()[conv]["kernel"]
        w = (rng.normal(size=(cout, cin, 3, 3)) / np.sqrt(9 * cin)).astype(np.float32)
        b = rng.normal(scale=0.1, size=cout).astype(np.float32)
        out[conv] = (w, b)
    return out


def hwio_weights(seed: int = 0, names=SMALL) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{conv: (K (3, 3, in, out), b)}: Keras / doodle file layout."""
    rng = np.random.default_rng(seed + 100)
    out = {}
    for conv in names:
        shape = vgg.param_shapes()[conv]["kernel"]
        k = (rng.normal(size=shape) / np.sqrt(9 * shape[2])).astype(np.float32)
        out[conv] = (k, rng.normal(scale=0.1, size=shape[3]).astype(np.float32))
    return out


def correlate_chw(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Caffe / PyTorch conv, pad 1: out[o,y,x] = b[o] + Σ w[o,i,u,v] x[i, y+u-1, x+v-1]."""
    c, h, wd = x.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (1, 1), (1, 1)))
    out = np.zeros((w.shape[0], h, wd))
    for u in range(3):
        for v in range(3):
            out += np.einsum("oi,ihw->ohw", w[:, :, u, v], xp[:, u : u + h, v : v + wd])
    return out + b[:, None, None]


def true_convolve_chw(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Theano conv2d(filter_flip=True), i.e. Lasagne Conv2DLayer's default, pad 1:
    out[o,y,x] = b[o] + Σ w[o,i,u,v] x[i, y+1-u, x+1-v]."""
    c, h, wd = x.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (1, 1), (1, 1)))
    out = np.zeros((w.shape[0], h, wd))
    for u in range(3):
        for v in range(3):
            out += np.einsum("oi,ihw->ohw", w[:, :, u, v], xp[:, 2 - u : 2 - u + h, 2 - v : 2 - v + wd])
    return out + b[:, None, None]


def correlate_hwc(x: np.ndarray, k: np.ndarray, b: np.ndarray) -> np.ndarray:
    """TensorFlow conv2d, SAME: out[y,x,o] = b[o] + Σ k[u,v,i,o] x[y+u-1, x+v-1, i]."""
    h, wd, _ = x.shape
    xp = np.pad(x.astype(np.float64), ((1, 1), (1, 1), (0, 0)))
    out = np.zeros((h, wd, k.shape[3]))
    for u in range(3):
        for v in range(3):
            out += np.einsum("hwi,io->hwo", xp[u : u + h, v : v + wd], k[u, v])
    return out + b[None, None, :]


def caffe_input_chw(rgb: np.ndarray) -> np.ndarray:
    """BGR, 0–255, Caffe mean subtracted, (3, H, W)."""
    return (rgb[..., ::-1] - CAFFE_MEAN_BGR).transpose(2, 0, 1)


def torchvision_input_chw(rgb: np.ndarray) -> np.ndarray:
    """RGB in [0, 1], ImageNet mean/std, (3, H, W)."""
    return ((rgb / 255.0 - TV_MEAN) / TV_STD).transpose(2, 0, 1)


IMAGE = np.random.default_rng(7).uniform(0, 255, size=(7, 9, 3)).astype(np.float32)


def file_params(extractor) -> dict:
    """The parameters a loaded extractor was read with: :func:`doodle.core.extractor.pin`
    undone with the calibration means it recorded (each layer's kernel was scaled by
    m_(l-1) / m_l, its bias by A / m_l), so a reader's output compares with the file."""
    if not extractor.pretrained:
        return dict(extractor.params)
    names = [n for n in vgg.LAYER_NAMES if f"conv{n}" in extractor.params]
    assert len(extractor.calibration) == len(names)
    out, previous = {}, BUILTIN_ACTIVATION
    for name, mean in zip(names, extractor.calibration):
        if not np.isfinite(mean) or mean <= 0:  # pin's rule for a dead or overflowing layer
            mean = previous
        layer = extractor.params[f"conv{name}"]
        out[f"conv{name}"] = {"kernel": np.asarray(layer["kernel"]) / np.float32(previous / mean),
                              "bias": np.asarray(layer["bias"]) / np.float32(BUILTIN_ACTIVATION / mean)}
        previous = mean
    return out


def relu1_1(extractor) -> np.ndarray:
    """(7, 9, 64) relu1_1 of IMAGE through the loaded extractor, at the file's scale."""
    out = vgg.features(extractor.params, jnp.asarray(IMAGE), ["1_1"], extractor.preprocess)["1_1"]
    gain = BUILTIN_ACTIVATION / extractor.calibration[0] if extractor.pretrained else 1.0
    return np.asarray(out) / np.float32(gain)


def assert_first_layer(extractor, pre_relu_chw: np.ndarray) -> None:
    want = np.maximum(pre_relu_chw.transpose(1, 2, 0), 0)
    np.testing.assert_allclose(relu1_1(extractor), want, rtol=1e-4, atol=2e-3)


def assert_every_layer(params, reference: Callable[[str, np.ndarray], np.ndarray], names=SMALL) -> None:
    """Each loaded layer's conv (lax, HWIO) equals ``reference(conv, x_hwc)`` on random input."""
    assert list(params) == list(names)
    rng = np.random.default_rng(3)
    for conv in names:
        kernel = np.asarray(params[conv]["kernel"])
        x = rng.normal(size=(5, 6, kernel.shape[2])).astype(np.float32)
        got = jax.lax.conv_general_dilated(
            jnp.asarray(x[None]), jnp.asarray(kernel), (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        got = np.asarray(got[0]) + np.asarray(params[conv]["bias"])
        np.testing.assert_allclose(got, reference(conv, x), rtol=1e-4, atol=1e-4, err_msg=conv)


def torch_reference(w: dict) -> Callable[[str, np.ndarray], np.ndarray]:
    return lambda conv, x: correlate_chw(x.transpose(2, 0, 1), *w[conv]).transpose(1, 2, 0)


def hwio_reference(w: dict) -> Callable[[str, np.ndarray], np.ndarray]:
    return lambda conv, x: correlate_hwc(x, *w[conv])


# torchvision's ``features`` index of each conv (each conv is followed by a ReLU, each
# block by a pooling), written out here rather than taken from doodle's tables.
TORCH_INDEX_OF = {
    "vgg16": (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28),
    "vgg19": (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34),
}
CONVS_OF = {
    "vgg16": ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
              "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3"),
    "vgg19": ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3", "conv3_4",
              "conv4_1", "conv4_2", "conv4_3", "conv4_4", "conv5_1", "conv5_2", "conv5_3", "conv5_4"),
}
# (out, in) channels of each conv, per Simonyan & Zisserman's configurations D and E.
CHANNELS_OF = {
    arch: dict(zip(convs, zip(outs, (3,) + outs[:-1])))
    for arch, convs, outs in (
        ("vgg16", CONVS_OF["vgg16"], (64, 64, 128, 128) + (256,) * 3 + (512,) * 6),
        ("vgg19", CONVS_OF["vgg19"], (64, 64, 128, 128) + (256,) * 4 + (512,) * 8),
    )
}


def tag(arch: str, conv: str) -> float:
    """The value every weight of a deep layer of ``tagged_oihw`` holds: its position."""
    return float(CONVS_OF[arch].index(conv) + 1)


def tagged_oihw(arch: str, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every conv of ``arch`` at its real shape, (W (out, in, 3, 3), b) float32:
    the SMALL layers random (for the references above), each deeper one filled with
    its :func:`tag` (cheap to make, and a layer read into the wrong slot shows)."""
    out = dict(oihw_weights(seed))
    for conv in CONVS_OF[arch][len(SMALL):]:
        cout, cin = CHANNELS_OF[arch][conv]
        out[conv] = (np.full((cout, cin, 3, 3), tag(arch, conv), np.float32),
                     np.full(cout, tag(arch, conv), np.float32))
    return out


def tagged_hwio(arch: str, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """:func:`tagged_oihw` in HWIO (Keras / doodle layout), the SMALL layers those of
    :func:`hwio_weights`."""
    out = dict(hwio_weights(seed))
    for conv, (w, b) in tagged_oihw(arch, seed).items():
        if conv not in out:
            out[conv] = (w.transpose(2, 3, 1, 0), b)
    return out


def assert_tagged(params, arch: str, reference: Callable[[str, np.ndarray], np.ndarray]) -> None:
    """``params`` hold exactly ``arch``'s convs in order: the SMALL ones compute what
    ``reference`` does, each deeper one holds its tag at its HWIO shape."""
    assert list(params) == list(CONVS_OF[arch])
    assert_every_layer({c: params[c] for c in SMALL}, reference)
    for conv in CONVS_OF[arch][len(SMALL):]:
        cout, cin = CHANNELS_OF[arch][conv]
        kernel, bias = np.asarray(params[conv]["kernel"]), np.asarray(params[conv]["bias"])
        assert kernel.shape == (3, 3, cin, cout) and bias.shape == (cout,), conv
        # allclose: a loaded extractor's layers come back through file_params (float division).
        np.testing.assert_allclose(kernel, tag(arch, conv), rtol=1e-5, err_msg=conv)
        np.testing.assert_allclose(bias, tag(arch, conv), rtol=1e-5, err_msg=conv)
