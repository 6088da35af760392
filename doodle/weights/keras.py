"""Keras ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` and its VGG16 twin
``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5``: HWIO cross-correlation
(TensorFlow's conv2d), Caffe convention. Read with the optional h5py."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from doodle.errors import InputError
from doodle.weights.layout import KERAS_GROUPS, Params, PathLike, arch_in, layers_to_read, validate
from doodle.weights.raw import corrupt


def read_keras_h5(path: PathLike, *, partial: bool = False) -> Params:
    """Keras ``vgg19_…_notop.h5`` or ``vgg16_…_notop.h5`` -> HWIO params.

    Groups ``block1_conv1`` … (to ``block5_conv4``, or ``block5_conv3`` in VGG16;
    a full model's ``fc1`` … groups are ignored) hold a kernel (3, 3, in, out), already HWIO for
    cross-correlation (TensorFlow's conv2d), and a bias; dataset names vary with the
    Keras version (``block1_conv1_W_1:0`` or ``kernel:0``), so they are told apart by
    rank. Needs the optional h5py.
    """
    try:
        import h5py  # optional: only this format needs it
    except ImportError:
        raise InputError(
            "reading Keras .h5 weights needs the h5py package", "pip install 'doodle[h5]'"
        ) from None
    path = Path(path)
    what = path.name
    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f
            arch = arch_in(lambda _, conv: KERAS_GROUPS[conv] in root)
            names = layers_to_read(lambda conv: KERAS_GROUPS[conv] in root, partial, what, arch)
            out: Params = {}
            for conv in names:
                group = root[KERAS_GROUPS[conv]]
                arrays: list[np.ndarray] = []
                group.visititems(
                    lambda _, obj: arrays.append(np.asarray(obj[()])) if isinstance(obj, h5py.Dataset) else None
                )
                kernels = [a for a in arrays if a.ndim == 4]
                biases = [a for a in arrays if a.ndim == 1]
                if len(kernels) != 1 or len(biases) != 1:
                    raise InputError(f"layer {conv} ({KERAS_GROUPS[conv]}) in {what} has no single kernel and bias")
                out[conv] = {"kernel": kernels[0], "bias": biases[0]}
            return validate(out, partial=True)
    except InputError:
        raise
    except Exception as exc:  # h5py raises OSError, RuntimeError, KeyError… on damaged files
        raise corrupt(what, exc) from None
