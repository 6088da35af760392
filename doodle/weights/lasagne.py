"""neural-doodle's ``vgg19_conv.pkl.bz2``: the reference implementation's own weights.

A bz2 pickle of ``[W, b, W, b, …]`` for conv1_1…conv5_4, ``W`` (out, in, 3, 3) as
Lasagne stores it; Caffe convention. Read through the restricted unpickler. A
Lasagne VGG16 list (13 conv pairs, often followed by its 3 dense layers' pairs) is
read the same way: the arrays' shapes tell the two networks apart.
"""
from __future__ import annotations

import bz2
import io
from typing import Any, Sequence

import numpy as np

from doodle.core import vgg
from doodle.errors import InputError
from doodle.weights.raw import as_float32
from doodle.weights.layout import CONV_NAMES_OF, Params, check_shape, layers_to_read
from doodle.weights.unpickle import numpy_globals, unpickle


def read_lasagne_pkl(data: bytes, what: str = "the pickle") -> list[np.ndarray]:
    """The array list in neural-doodle's ``vgg19_conv.pkl.bz2`` (bz2 or plain pickle bytes)."""
    if data[:3] == b"BZh":
        try:
            data = bz2.decompress(data)
        except (OSError, EOFError, ValueError) as exc:
            raise InputError(f"{what} is corrupt or truncated (bz2: {exc})", "download it again.") from None
    arrays = unpickle(io.BytesIO(data), numpy_globals(), what)
    if not isinstance(arrays, (list, tuple)) or not all(isinstance(a, np.ndarray) for a in arrays):
        raise InputError(f"{what} does not hold a list of arrays", "is this neural-doodle's vgg19_conv.pkl.bz2?")
    for a in arrays:
        if a.dtype.hasobject:
            raise InputError(f"{what} holds object arrays", "weight files hold numbers only.")
    return list(arrays)


def params_from_lasagne(arrays: Sequence[Any], *, partial: bool = False, flip: bool = True) -> Params:
    """neural-doodle's flat list ``[W (out, in, 3, 3), b (out,), …]`` -> HWIO params.

    neural-doodle builds VGG19 from ``lasagne.layers.Conv2DLayer`` with its default
    ``flip_filters=True``: Theano's conv2d then computes a true convolution, i.e. it
    flips each 3×3 filter before sliding it. ``flax.linen.Conv`` cross-correlates, so
    to compute what the reference computed the kernel is transposed to HWIO *and*
    flipped in both spatial axes (``flip=True``, the default). Whether the stored
    filters were themselves pre-flipped relative to the Caffe release does not
    matter: the reference's network is defined by how it used them. tests/
    test_weights_lasagne.py checks this against a numpy true convolution of the file's
    arrays; ``flip=False`` exists only to experiment.
    """
    if not isinstance(arrays, (list, tuple)):
        raise InputError("the pickle does not hold a list of arrays", "is this neural-doodle's vgg19_conv.pkl.bz2?")
    arch = lasagne_arch(arrays)
    shapes, conv_names = vgg.param_shapes(arch), CONV_NAMES_OF[arch]
    # Pairs past the last conv are dense layers (neural-doodle itself reads data[:32]).
    count = min(len(arrays) // 2, len(conv_names))
    names = layers_to_read(lambda conv: conv_names.index(conv) < count, partial, "the pickle", arch)
    out: Params = {}
    for i, conv in enumerate(names):
        kh, kw, cin, cout = shapes[conv]["kernel"]
        w = as_float32(arrays[2 * i], f"layer {conv} W")
        b = as_float32(arrays[2 * i + 1], f"layer {conv} b")
        check_shape(conv, "W", w, (cout, cin, kh, kw), "(out, in, h, w)", f"item {2 * i}")
        check_shape(conv, "b", b, (cout,), "", f"item {2 * i + 1}")
        kernel = w.transpose(2, 3, 1, 0)
        if flip:
            kernel = kernel[::-1, ::-1]
        out[conv] = {"kernel": np.ascontiguousarray(kernel), "bias": b}
    return out


def lasagne_arch(arrays: Sequence[Any]) -> str:
    """Which network a flat ``[W, b, …]`` list holds, from its shapes.

    The count cannot tell: VGG16's 13 conv pairs and its 3 dense pairs make 32
    arrays, as VGG19's 16 conv pairs do. The first place the two differ can: item 14
    is conv3_4's W (256, 256, 3, 3) in VGG19 and conv4_1's W (512, 256, 3, 3) in
    VGG16. A shorter list is a prefix both networks share (read as VGG16's names,
    which are the same); anything else is left to VGG19's shape checks to refuse.
    """
    if len(arrays) > 14 and getattr(arrays[14], "shape", None) == (512, 256, 3, 3):
        return "vgg16"
    return "vgg19" if len(arrays) > 14 else "vgg16"
