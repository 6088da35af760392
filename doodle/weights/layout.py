"""doodle's parameter layout, the names other frameworks give the same layers, and
the conversions every reader shares.

doodle's layout: ``{"conv1_1": {"kernel": (3, 3, Cin, Cout) float32 HWIO, "bias":
(Cout,) float32}, …}`` for cross-correlation (``flax.linen.Conv``), plus the
:class:`~doodle.core.vgg.Preprocess` the weights were trained with (their convention).
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np

from doodle.core import vgg
from doodle.errors import InputError
from doodle.weights.raw import as_float32

Params = dict[str, dict[str, np.ndarray]]
PathLike = Union[str, os.PathLike]

# ---------------------------------------------------------------------------------
# Conventions and layer names
# ---------------------------------------------------------------------------------

# Caffe VGG19 (the original release; neural-doodle, Keras, jcjohnson's conversion):
# BGR, 0–255, per-channel mean subtracted. These are Preprocess's defaults.
CAFFE = vgg.Preprocess()
# torchvision's ImageNet training: RGB in [0, 1], normalised by mean and std.
TORCHVISION = vgg.Preprocess(
    order="RGB", scale=1.0, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)
)
CONVENTIONS: dict[str, vgg.Preprocess] = {"caffe": CAFFE, "torchvision": TORCHVISION}

# Our parameter names, in network order: "conv1_1" … "conv5_3" (VGG16) or "conv5_4"
# (VGG19). CONV_NAMES is VGG19's, a superset of VGG16's in the same order.
ARCHS: tuple[str, ...] = tuple(vgg.ARCHS)
CONV_NAMES_OF: dict[str, tuple[str, ...]] = {
    arch: tuple(f"conv{name}" for name in vgg.layer_names(arch)) for arch in ARCHS
}
CONV_NAMES: tuple[str, ...] = CONV_NAMES_OF["vgg19"]


def _torch_indices(arch: str) -> tuple[int, ...]:
    """Index of each conv in torchvision's ``features`` Sequential for ``arch``.

    Each conv is followed by a ReLU (two entries), each block by a pooling (one).
    """
    indices, i, block = [], 0, 1
    for _, layer_block, _, _ in vgg.layers_of(arch):
        if layer_block != block:
            i, block = i + 1, layer_block
        indices.append(i)
        i += 2
    return tuple(indices)


# VGG19: (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34);
# VGG16: (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28).
TORCH_INDICES_OF: dict[str, tuple[int, ...]] = {arch: _torch_indices(arch) for arch in ARCHS}
TORCH_KEYS_OF: dict[str, dict[str, tuple[str, str]]] = {
    arch: {conv: (f"features.{i}.weight", f"features.{i}.bias")
           for conv, i in zip(CONV_NAMES_OF[arch], TORCH_INDICES_OF[arch])}
    for arch in ARCHS
}
TORCH_INDICES: tuple[int, ...] = TORCH_INDICES_OF["vgg19"]
TORCH_KEYS: dict[str, tuple[str, str]] = TORCH_KEYS_OF["vgg19"]
# Keras names a layer the same way in both networks ("block3_conv3").
KERAS_GROUPS: dict[str, str] = {
    f"conv{name}": "block{}_conv{}".format(*name.split("_")) for name in vgg.LAYER_NAMES
}
DOODLE_KEYS: dict[str, tuple[str, str]] = {conv: (f"{conv}.kernel", f"{conv}.bias") for conv in CONV_NAMES}


def arch_in(present: Callable[[str, str], bool]) -> str:
    """Which network a file holds, given ``present(arch, conv)``: VGG19 where any of
    its fourth convs of blocks 3–5 is there, else VGG16 (a prefix up to conv3_3 is
    the same network in both)."""
    return "vgg19" if any(present("vgg19", f"conv{b}_4") for b in (3, 4, 5)) else "vgg16"


def network_of(convs: Sequence[str]) -> str:
    """What the convs ``convs`` (``"conv1_1"`` …, a prefix in network order) are, in
    words: ``"VGG16, 13 conv layers"``, ``"VGG19, 16 conv layers"``, or for a prefix
    ``"VGG19, first 9 of 16 conv layers"`` (``"VGG16 or VGG19, first 3 conv layers"``
    while the prefix stops before conv3_4, where the two networks part)."""
    arch = arch_in(lambda _, conv: conv in convs)
    total = len(CONV_NAMES_OF[arch])
    if len(convs) == total:
        return f"{arch.upper()}, {total} conv layers"
    if "conv3_4" not in convs and len(convs) <= CONV_NAMES_OF["vgg16"].index("conv3_3") + 1:
        return f"VGG16 or VGG19, first {len(convs)} conv layers"
    return f"{arch.upper()}, first {len(convs)} of {total} conv layers"


# Key of doodle's JSON metadata (safetensors __metadata__ entry, npz array name).
META_KEY = "doodle"
NPZ_META_KEY = "__doodle__"
METADATA_VERSION = 1


def convention_of(preprocess: vgg.Preprocess) -> str:
    """The name of the convention ``preprocess`` is, or "custom"."""
    for name, known in CONVENTIONS.items():
        if known == preprocess:
            return name
    return "custom"


# ---------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------


def check_shape(conv: str, part: str, array: np.ndarray, want: tuple[int, ...], layout: str, key: str) -> None:
    """Raise InputError naming the layer if ``array`` is not ``want`` (in the file's layout)."""
    if tuple(array.shape) != tuple(want):
        raise InputError(
            f"layer {conv} {part} ({key}) has shape {tuple(array.shape)}, expected {tuple(want)} {layout}",
            "the file is not VGG16 or VGG19, or not the layout its format promises.",
        )


def layers_to_read(present: Callable[[str], bool], partial: bool, what: str, arch: str = "vgg19") -> list[str]:
    """Which convs of ``arch`` to read: all (13 or 16), or with ``partial`` the present
    prefix conv1_1…convK.

    Raises InputError naming the first missing layer.
    """
    conv_names = CONV_NAMES_OF[arch]
    names: list[str] = []
    for conv in conv_names:
        if present(conv):
            if len(names) < conv_names.index(conv):
                missing = conv_names[len(names)]
                raise InputError(f"layer {missing} is missing from {what} but later layers are present")
            names.append(conv)
        elif not partial:
            raise InputError(f"layer {conv} is missing from {what}",
                             f"{arch.upper()} needs conv1_1 … {conv_names[-1]}.")
    if not names:
        raise InputError(f"no VGG conv layers found in {what}", "is this a VGG16 or VGG19 weight file?")
    return names


def validate(params: Mapping[str, Mapping[str, Any]], *, partial: bool = False) -> Params:
    """Check HWIO parameters against :func:`doodle.core.vgg.param_shapes` of the network
    they describe (:func:`doodle.core.vgg.arch_of`).

    Returns float32 copies ``{"conv1_1": {"kernel": (3, 3, 3, 64), "bias": (64,)}, …}``;
    with ``partial`` only a prefix conv1_1…convK is required.
    """
    arch = vgg.arch_of(params)
    shapes = vgg.param_shapes(arch)
    names = layers_to_read(lambda conv: conv in params, partial, "the parameters", arch)
    out: Params = {}
    for conv in names:
        layer = params[conv]
        entry = {}
        for part in ("kernel", "bias"):
            if part not in layer:
                raise InputError(f"layer {conv} has no {part}")
            array = as_float32(np.asarray(layer[part]), f"layer {conv} {part}")
            check_shape(conv, part, array, shapes[conv][part], "(HWIO)" if part == "kernel" else "", part)
            entry[part] = array
        out[conv] = entry
    return out


# ---------------------------------------------------------------------------------
# Conversions shared by several formats
# ---------------------------------------------------------------------------------


def params_from_torch(state: Mapping[str, Any], *, partial: bool = False) -> Params:
    """torchvision-named ``{"features.0.weight": (out, in, kh, kw), …}`` -> HWIO params.

    PyTorch's conv2d cross-correlates, as flax does: transpose only, no flip. Keys
    other than the convs (``classifier.*``) are ignored. VGG16 and VGG19 number their
    ``features`` differently from conv4_1 on (:data:`TORCH_INDICES_OF`).
    """
    arch = arch_in(lambda a, conv: TORCH_KEYS_OF[a][conv][0] in state)
    keys = TORCH_KEYS_OF[arch]
    shapes = vgg.param_shapes(arch)
    names = layers_to_read(lambda conv: keys[conv][0] in state, partial, "the state dict", arch)
    out: Params = {}
    for conv in names:
        wkey, bkey = keys[conv]
        if bkey not in state:
            raise InputError(f"layer {conv} has no bias ({bkey})")
        kh, kw, cin, cout = shapes[conv]["kernel"]
        w = as_float32(state[wkey], f"layer {conv} weight ({wkey})")
        b = as_float32(state[bkey], f"layer {conv} bias ({bkey})")
        check_shape(conv, "weight", w, (cout, cin, kh, kw), "(out, in, kh, kw)", wkey)
        check_shape(conv, "bias", b, (cout,), "", bkey)
        out[conv] = {"kernel": np.ascontiguousarray(w.transpose(2, 3, 1, 0)), "bias": b}
    return out


def params_from_doodle(tensors: Mapping[str, Any], *, partial: bool = False) -> Params:
    """doodle's layout ``{"conv1_1.kernel": (3, 3, 3, 64) HWIO, "conv1_1.bias": (64,), …}``."""
    arch = arch_in(lambda _, conv: DOODLE_KEYS[conv][0] in tensors)
    names = layers_to_read(lambda conv: DOODLE_KEYS[conv][0] in tensors, partial, "the file", arch)
    params = {}
    for conv in names:
        kkey, bkey = DOODLE_KEYS[conv]
        if bkey not in tensors:
            raise InputError(f"layer {conv} has no bias ({bkey})")
        params[conv] = {"kernel": tensors[kkey], "bias": tensors[bkey]}
    return validate(params, partial=True)


def export_tensors(params: Mapping[str, Mapping[str, Any]], *, float16: bool = False) -> dict[str, np.ndarray]:
    """HWIO params -> doodle's flat naming, in network order, float32 (or float16)."""
    dtype = np.float16 if float16 else np.float32
    out: dict[str, np.ndarray] = {}
    for conv in CONV_NAMES:
        if conv in params:
            kkey, bkey = DOODLE_KEYS[conv]
            out[kkey] = np.ascontiguousarray(np.asarray(params[conv]["kernel"]), dtype=dtype)
            out[bkey] = np.ascontiguousarray(np.asarray(params[conv]["bias"]), dtype=dtype)
    return out


# ---------------------------------------------------------------------------------
# doodle's metadata
# ---------------------------------------------------------------------------------


def metadata_for(preprocess: vgg.Preprocess, convention: str, **extra: Any) -> dict[str, str]:
    """doodle's metadata: one JSON string (safetensors metadata values must be strings)."""
    record = {
        "version": METADATA_VERSION,
        "convention": convention,
        "preprocess": dataclasses.asdict(preprocess),
        **{k: v for k, v in extra.items() if v is not None},
    }
    return {META_KEY: json.dumps(record, sort_keys=True)}


def parse_metadata(text: Optional[str]) -> Optional[dict[str, Any]]:
    """doodle's metadata record, or None when there is none. Raises InputError if malformed."""
    if text is None:
        return None
    try:
        record = json.loads(text)
        p = record["preprocess"]
        preprocess = vgg.Preprocess(
            order=str(p["order"]),
            scale=float(p["scale"]),
            mean=tuple(float(v) for v in p["mean"]),  # type: ignore[arg-type]
            std=tuple(float(v) for v in p["std"]),  # type: ignore[arg-type]
        )
        if preprocess.order not in ("RGB", "BGR") or len(preprocess.mean) != 3 or len(preprocess.std) != 3:
            raise ValueError("bad preprocess")
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"doodle metadata in the file is malformed ({exc})", "re-import the original file.") from None
    record["preprocess"] = preprocess
    return record
