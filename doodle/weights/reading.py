"""Any supported weight file -> doodle's parameters and the convention they expect.

The format is told by the file's content (:mod:`doodle.weights.detect`); the
convention by the caller, else the file's own metadata, else its name when it is a
known source's, else the format's usual one, marked "(assumed)".
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np

from doodle.core import vgg
from doodle.errors import InputError
from doodle.weights.catalog import convention_from_name
from doodle.weights.detect import detect_format
from doodle.weights.keras import read_keras_h5
from doodle.weights.lasagne import params_from_lasagne, read_lasagne_pkl
from doodle.weights.layout import (
    CONVENTIONS, DOODLE_KEYS, META_KEY, TORCH_KEYS_OF, Params, PathLike, convention_of, params_from_doodle,
    params_from_torch, parse_metadata,
)
from doodle.weights.npz import read_npz
from doodle.weights.onnx import read_onnx
from doodle.weights.pytorch import read_torch
from doodle.weights.safetensors import read_safetensors

ASSUMED = " (assumed)"


@dataclasses.dataclass(frozen=True)
class Loaded:
    """What a file held, before it becomes an Extractor."""

    params: Params  # HWIO float32
    preprocess: vgg.Preprocess
    format: str
    convention: str  # "caffe", "torchvision", "custom"; "(assumed)" appended when guessed
    dtype: str  # of the stored weights
    metadata: Optional[dict[str, Any]] = None  # doodle's record, if the file has one


def read_weights(path: PathLike, *, convention: Optional[str] = None, partial: bool = False) -> Loaded:
    """Read any supported weight file: HWIO params and the convention they expect.

    Args:
      path: the file; its format is told by its content.
      convention: "caffe" or "torchvision" to override what the file says or its name
        implies. Torch-named files whose name is unknown are assumed torchvision;
        doodle-layout files without metadata are assumed caffe; ONNX graphs are
        torchvision if fed NCHW, caffe if fed NHWC (Keras), else assumed torchvision.
      partial: accept a prefix conv1_1…convK instead of all the network's layers
        (13 for VGG16, 16 for VGG19).
    """
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "lasagne":
        arrays = read_lasagne_pkl(path.read_bytes(), path.name)
        label, preprocess = _choose(convention, path, "caffe")
        label = label.replace(ASSUMED, "")  # neural-doodle's file is caffe by construction
        dtype = str(arrays[0].dtype) if arrays else "float32"
        return Loaded(params_from_lasagne(arrays, partial=partial), preprocess, fmt, label, dtype)
    if fmt == "torch":
        # Either network's conv keys: VGG16 numbers its convs from conv4_1 on differently.
        keys = {k for table in TORCH_KEYS_OF.values() for pair in table.values() for k in pair}
        state = read_torch(path, keys)
        label, preprocess = _choose(convention, path, "torchvision")
        return Loaded(params_from_torch(state, partial=partial), preprocess, fmt, label, _stored_dtype(state))
    if fmt == "safetensors":
        tensors, metadata = read_safetensors(path)
        if any(k in tensors for pair in DOODLE_KEYS.values() for k in pair):
            return _from_doodle_layout(tensors, metadata.get(META_KEY), path, convention, partial, fmt)
        label, preprocess = _choose(convention, path, "torchvision")
        return Loaded(params_from_torch(tensors, partial=partial), preprocess, fmt, label, _stored_dtype(tensors))
    if fmt == "onnx":
        found = read_onnx(path, partial=partial)
        # The graph's input layout says who exported it: NCHW torch.onnx.export of
        # torchvision's models, NHWC tf2onnx of Keras's (Caffe convention).
        label, preprocess = _choose(convention, path, "caffe" if found.layout == "NHWC" else "torchvision")
        if found.layout is not None:
            label = label.replace(ASSUMED, "")
        return Loaded(found.params, preprocess, fmt, label, found.dtype)
    if fmt == "keras-h5":
        label, preprocess = _choose(convention, path, "caffe")
        return Loaded(read_keras_h5(path, partial=partial), preprocess, fmt, label.replace(ASSUMED, ""), "float32")
    arrays_npz, meta = read_npz(path)
    return _from_doodle_layout(arrays_npz, meta, path, convention, partial, fmt)


def _stored_dtype(tensors: Mapping[str, np.ndarray]) -> str:
    """The dtype the file stores its weights in (the first tensor's)."""
    return str(next(iter(tensors.values())).dtype) if tensors else "float32"


def _choose(convention: Optional[str], path: Path, default: str) -> tuple[str, vgg.Preprocess]:
    """Explicit convention, else from the file name, else ``default`` marked assumed."""
    if convention is not None:
        if convention not in CONVENTIONS:
            raise InputError(f"unknown convention {convention!r}", f"use one of: {', '.join(CONVENTIONS)}.")
        return convention, CONVENTIONS[convention]
    named = convention_from_name(path.name)
    if named is not None:
        return named, CONVENTIONS[named]
    return f"{default}{ASSUMED}", CONVENTIONS[default]


def _from_doodle_layout(
    tensors: Mapping[str, np.ndarray], meta_text: Optional[str], path: Path, convention: Optional[str],
    partial: bool, fmt: str,
) -> Loaded:
    """Loaded from doodle's own layout (safetensors or npz): the file's metadata
    says its convention, unless the caller does."""
    record = parse_metadata(meta_text)
    params = params_from_doodle(tensors, partial=partial)
    dtype = _stored_dtype(tensors)
    if convention is None and record is not None:
        label = record.get("convention", convention_of(record["preprocess"]))
        return Loaded(params, record["preprocess"], fmt, label, dtype, record)
    label, preprocess = _choose(convention, path, "caffe")
    return Loaded(params, preprocess, fmt, label, dtype, record)
