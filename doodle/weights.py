"""Pretrained VGG19 weights: where they come from, how to read them, where they live.

Every reader turns a weight file into the same thing: numpy parameters
``{"conv1_1": {"kernel": (3, 3, Cin, Cout) float32 HWIO, "bias": (Cout,) float32}, …}``
for cross-correlation (``flax.linen.Conv``), plus the :class:`~doodle.vgg.Preprocess`
the weights were trained with. :func:`load` wraps them in an
:class:`~doodle.extractor.Extractor`.

Formats, and what each one's arrays mean:

* neural-doodle's ``vgg19_conv.pkl.bz2``: a bz2 pickle of ``[W, b, W, b, …]`` for
  conv1_1…conv5_4, ``W`` (out, in, 3, 3) as Lasagne stores it. Caffe convention.
* PyTorch ``.pth`` (zip, pre-1.6 stream and early-2017 tar layouts), torchvision key names
  (``features.0.weight`` …), ``W`` (out, in, kh, kw) cross-correlation.
* safetensors: timm's naming (as torchvision) or doodle's own (``conv1_1.kernel``
  HWIO, preprocessing in the header's ``__metadata__``).
* Keras ``…_notop.h5`` (HWIO cross-correlation, Caffe convention), via optional h5py.
* ``.npz`` in doodle's own layout.

Pickles (neural-doodle's file, PyTorch's) are read with restricted unpicklers: only
the handful of globals that rebuild arrays are allowed, everything else is refused
before it runs. Nothing here imports torch.
"""
from __future__ import annotations

import bz2
import collections
import contextlib
import dataclasses
import errno
import hashlib
import http.client
import importlib
import io
import json
import math
import os
import pickle
import re
import struct
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Collection, Mapping, NamedTuple, Optional, Sequence, Union

import numpy as np

from doodle import vgg
from doodle.errors import DoodleError, InputError, WriteError

if TYPE_CHECKING:  # imported lazily: `doodle weights list` should not pay for jax
    from doodle.extractor import Extractor

Params = dict[str, dict[str, np.ndarray]]
ProgressFn = Callable[[int, Optional[int]], None]  # (bytes done, bytes in all or None)
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

# Our parameter names, in network order: "conv1_1" … "conv5_4".
CONV_NAMES: tuple[str, ...] = tuple(f"conv{name}" for name in vgg.LAYER_NAMES)


def _torch_indices() -> tuple[int, ...]:
    """Index of each conv in torchvision's ``features`` Sequential.

    Each conv is followed by a ReLU (two entries), each block by a pooling (one).
    """
    indices, i, block = [], 0, 1
    for _, layer_block, _, _ in vgg.LAYERS:
        if layer_block != block:
            i, block = i + 1, layer_block
        indices.append(i)
        i += 2
    return tuple(indices)


# (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
TORCH_INDICES: tuple[int, ...] = _torch_indices()
TORCH_KEYS: dict[str, tuple[str, str]] = {
    conv: (f"features.{i}.weight", f"features.{i}.bias") for conv, i in zip(CONV_NAMES, TORCH_INDICES)
}
KERAS_GROUPS: dict[str, str] = {
    f"conv{name}": "block{}_conv{}".format(*name.split("_")) for name in vgg.LAYER_NAMES
}
DOODLE_KEYS: dict[str, tuple[str, str]] = {conv: (f"{conv}.kernel", f"{conv}.bias") for conv in CONV_NAMES}

# Key of doodle's JSON metadata (safetensors __metadata__ entry, npz array name).
META_KEY = "doodle"
NPZ_META_KEY = "__doodle__"
METADATA_VERSION = 1

# ---------------------------------------------------------------------------------
# Known sources
# ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Source:
    """A pretrained VGG19 that ``doodle weights download NAME`` can fetch.

    Checks are only those published by the upstream project; None means unknown,
    and the downloader then reports the sha256 it computed instead of verifying.
    """

    name: str  # what users type
    url: str
    filename: str  # name in the cache (ranged sources: the compact file)
    format: str  # "lasagne", "torch", "safetensors", "keras-h5"
    convention: str  # key of CONVENTIONS
    approx_mb: int  # download size, for display
    licence: str  # one-line note; check upstream before redistributing
    size: Optional[int] = None  # exact bytes, when known
    sha256: Optional[str] = None  # full hex digest, when known
    sha256_prefix: Optional[str] = None  # torch hub's "name-<sha256 prefix>.pth" convention
    md5: Optional[str] = None  # Keras publishes md5s
    ranged: bool = False  # safetensors: fetch only the conv tensors with Range requests
    note: str = ""


SOURCES: tuple[Source, ...] = (
    # Preference order of find_cached(): the reference's own weights first.
    Source(
        name="neural-doodle",
        url="https://github.com/alexjc/neural-doodle/releases/download/v0.0/vgg19_conv.pkl.bz2",
        filename="vgg19_conv.pkl.bz2",
        format="lasagne",
        convention="caffe",
        approx_mb=80,
        licence="VGG19 by Simonyan & Zisserman (CC BY 4.0), converted for Lasagne by alexjc/neural-doodle",
        note="the reference implementation's weights; no published checksum",
    ),
    Source(
        name="jcjohnson-caffe",
        url="https://web.eecs.umich.edu/~justincj/models/vgg19-d01eb7cb.pth",
        filename="vgg19-d01eb7cb.pth",
        format="torch",
        convention="caffe",
        approx_mb=548,
        licence="VGG19 by Simonyan & Zisserman (CC BY 4.0), converted from Caffe by Justin Johnson",
        note="original Caffe weights in PyTorch layout (used by neural-style-pt); no published checksum",
    ),
    Source(
        name="keras",
        url=(
            "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
            "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
        ),
        filename="vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        format="keras-h5",
        convention="caffe",
        approx_mb=80,
        licence="VGG19 by Simonyan & Zisserman (CC BY 4.0), converted by the Keras team",
        # keras.applications.vgg19 passes this md5 as file_hash to get_file.
        md5="253f8cb515780f3b799900260a226db6",
        note="needs h5py: pip install 'doodle[h5]'",
    ),
    Source(
        name="timm",
        url="https://huggingface.co/timm/vgg19.tv_in1k/resolve/main/model.safetensors",
        filename="vgg19.tv_in1k-conv.safetensors",
        format="safetensors",
        convention="torchvision",
        approx_mb=80,
        licence="torchvision's VGG19 ImageNet weights (BSD-3-Clause code; ImageNet terms may apply), via timm",
        ranged=True,
        note="only the conv tensors are fetched (HTTP Range); whole-file checksum cannot apply",
    ),
    Source(
        name="torchvision",
        url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
        filename="vgg19-dcbb9e9d.pth",
        format="torch",
        convention="torchvision",
        approx_mb=548,
        licence="torchvision's VGG19 ImageNet weights (BSD-3-Clause code; ImageNet terms may apply)",
        size=574_673_361,
        # torchvision loads this with check_hash=True: the file name carries the
        # first 8 hex digits of its sha256 (torch hub convention).
        sha256_prefix="dcbb9e9d",
    ),
)


def sources() -> tuple[Source, ...]:
    """The known sources, in preference order (read at call time, so tests can patch)."""
    return SOURCES


def get_source(name: str) -> Source:
    """The known source called ``name`` (or whose file is called ``name``)."""
    for src in sources():
        if name in (src.name, src.filename):
            return src
    raise InputError(
        f"unknown weights {name!r}",
        f"known weights: {', '.join(s.name for s in sources())}; or give a file path.",
    )


def _find_source(name: str) -> Optional[Source]:
    try:
        return get_source(name)
    except InputError:
        return None


# ---------------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------------


def cache_dir(env: Optional[Mapping[str, str]] = None) -> Path:
    """``$DOODLE_CACHE``, else ``$XDG_CACHE_HOME/doodle``, else ``~/.cache/doodle``."""
    env = os.environ if env is None else env
    if env.get("DOODLE_CACHE"):
        return Path(env["DOODLE_CACHE"]).expanduser()
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]).expanduser() / "doodle"
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".cache" / "doodle"


def cache_problem(env: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """Why :func:`cache_dir` cannot keep anything (None when it can): it, or a folder
    above it, is a file; the nearest existing folder is read-only; or it lies in a
    HOME that does not exist (a daemon's or a container's unset home).

    Painting does not need the cache, so the CLI warns and paints on; but JAX, told
    to keep compiled programs there, would print a warning for every program.
    """
    env = os.environ if env is None else env
    folder = cache_dir(env)
    home = env.get("HOME")
    if not env.get("DOODLE_CACHE") and not env.get("XDG_CACHE_HOME") and home and not os.path.isdir(home):
        return f"the cache folder {str(folder)!r} is in HOME {home!r}, which does not exist"
    existing = folder
    while not os.path.lexists(existing) and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        where = "is a file" if existing == folder else f"is under {str(existing)!r}, a file"
        return f"the cache folder {str(folder)!r} {where}"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"the cache folder {str(folder)!r} is not writable"
    return None


def builtin_extractor(last: str = "5_4", cache: Optional[PathLike] = None) -> "Extractor":
    """:func:`doodle.extractor.builtin`, its calibration means kept in the cache folder.

    The means are a function of the seed, the activation level and the numerics of
    this JAX build on this platform, so the file is named after all of them; a
    missing, unreadable or short file means calibrating again (and rewriting it).
    """
    import jax

    from doodle import extractor

    folder = Path(cache if cache is not None else cache_dir()) / "builtin"
    name = (f"calibration-{extractor.BUILTIN_SEED}-{extractor.BUILTIN_ACTIVATION:g}-"
            f"jax{jax.__version__}-{jax.default_backend()}.json")
    path = folder / name
    try:
        means = tuple(float(v) for v in json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        means = ()
    ext = extractor.builtin(last=last, calibration=means)
    if len(ext.calibration) > len(means):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(list(ext.calibration)))
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache only costs the calibration next time
    return ext


def cached_path(source: Source, cache: PathLike) -> Path:
    """Where ``source`` lives in ``cache`` once downloaded (it may not exist)."""
    return Path(cache) / source.filename


def _imported_name(path: Path) -> str:
    """Cache file name of an imported file: ``vgg19-dcbb9e9d.pth`` -> ``vgg19-dcbb9e9d-conv.safetensors``."""
    name = path.name
    for suffix in (".pkl.bz2", ".pkl", ".pth", ".pt", ".bin", ".safetensors", ".h5", ".hdf5", ".npz"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if name.endswith("-conv"):
        name = name[: -len("-conv")]
    return f"{name}-conv.safetensors"


def find_cached(cache: PathLike) -> Optional[Path]:
    """The first pretrained file in ``cache``: known sources in :data:`SOURCES` order,
    then imported files (``*-conv.safetensors``) by name; None if there is none."""
    cache = Path(cache)
    for src in sources():
        path = cached_path(src, cache)
        if path.is_file():
            return path
    if cache.is_dir():
        imported = sorted(p for p in cache.glob("*-conv.safetensors") if p.is_file())
        if imported:
            return imported[0]
    return None


# ---------------------------------------------------------------------------------
# Validation and layout conversion
# ---------------------------------------------------------------------------------


def _as_float32(array: Any, what: str) -> np.ndarray:
    """A float32 C-contiguous copy of ``array``; refuses non-numeric data."""
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiu" or array.dtype.hasobject:
        kind = getattr(array, "dtype", type(array).__name__)
        raise InputError(f"{what} is not a numeric array (it is {kind})", "the weight file is not a VGG19 file.")
    out = np.ascontiguousarray(array, dtype=np.float32)
    if not np.all(np.isfinite(out)):
        raise InputError(f"{what} contains NaN or infinity", "the weight file is corrupt.")
    return out


def _check_shape(conv: str, part: str, array: np.ndarray, want: tuple[int, ...], layout: str, key: str) -> None:
    """Raise InputError naming the layer if ``array`` is not ``want`` (in the file's layout)."""
    if tuple(array.shape) != tuple(want):
        raise InputError(
            f"layer {conv} {part} ({key}) has shape {tuple(array.shape)}, expected {tuple(want)} {layout}",
            "the file is not VGG19, or not the layout its format promises.",
        )


def _layers_to_read(present: Callable[[str], bool], partial: bool, what: str) -> list[str]:
    """Which convs to read: all 16, or with ``partial`` the present prefix conv1_1…convK.

    Raises InputError naming the first missing layer.
    """
    names: list[str] = []
    for conv in CONV_NAMES:
        if present(conv):
            if len(names) < CONV_NAMES.index(conv):
                missing = CONV_NAMES[len(names)]
                raise InputError(f"layer {missing} is missing from {what} but later layers are present")
            names.append(conv)
        elif not partial:
            raise InputError(f"layer {conv} is missing from {what}", "VGG19 needs conv1_1 … conv5_4.")
    if not names:
        raise InputError(f"no VGG19 conv layers found in {what}", "is this a VGG19 weight file?")
    return names


def validate(params: Mapping[str, Mapping[str, Any]], *, partial: bool = False) -> Params:
    """Check HWIO parameters against :func:`doodle.vgg.param_shapes`.

    Returns float32 copies ``{"conv1_1": {"kernel": (3, 3, 3, 64), "bias": (64,)}, …}``;
    with ``partial`` only a prefix conv1_1…convK is required.
    """
    shapes = vgg.param_shapes()
    names = _layers_to_read(lambda conv: conv in params, partial, "the parameters")
    out: Params = {}
    for conv in names:
        layer = params[conv]
        entry = {}
        for part in ("kernel", "bias"):
            if part not in layer:
                raise InputError(f"layer {conv} has no {part}")
            array = _as_float32(np.asarray(layer[part]), f"layer {conv} {part}")
            _check_shape(conv, part, array, shapes[conv][part], "(HWIO)" if part == "kernel" else "", part)
            entry[part] = array
        out[conv] = entry
    return out


def params_from_lasagne(arrays: Sequence[Any], *, partial: bool = False, flip: bool = True) -> Params:
    """neural-doodle's flat list ``[W (out, in, 3, 3), b (out,), …]`` -> HWIO params.

    neural-doodle builds VGG19 from ``lasagne.layers.Conv2DLayer`` with its default
    ``flip_filters=True``: Theano's conv2d then computes a true convolution, i.e. it
    flips each 3×3 filter before sliding it. ``flax.linen.Conv`` cross-correlates, so
    to compute what the reference computed the kernel is transposed to HWIO *and*
    flipped in both spatial axes (``flip=True``, the default). Whether the stored
    filters were themselves pre-flipped relative to the Caffe release does not
    matter: the reference's network is defined by how it used them. tests/
    test_weights.py checks this against a numpy true convolution of the file's
    arrays; ``flip=False`` exists only to experiment.
    """
    if not isinstance(arrays, (list, tuple)):
        raise InputError("the pickle does not hold a list of arrays", "is this neural-doodle's vgg19_conv.pkl.bz2?")
    shapes = vgg.param_shapes()
    count = min(len(arrays) // 2, len(CONV_NAMES))  # neural-doodle itself reads data[:32]
    names = _layers_to_read(lambda conv: CONV_NAMES.index(conv) < count, partial, "the pickle")
    out: Params = {}
    for i, conv in enumerate(names):
        kh, kw, cin, cout = shapes[conv]["kernel"]
        w = _as_float32(arrays[2 * i], f"layer {conv} W")
        b = _as_float32(arrays[2 * i + 1], f"layer {conv} b")
        _check_shape(conv, "W", w, (cout, cin, kh, kw), "(out, in, h, w)", f"item {2 * i}")
        _check_shape(conv, "b", b, (cout,), "", f"item {2 * i + 1}")
        kernel = w.transpose(2, 3, 1, 0)
        if flip:
            kernel = kernel[::-1, ::-1]
        out[conv] = {"kernel": np.ascontiguousarray(kernel), "bias": b}
    return out


def params_from_torch(state: Mapping[str, Any], *, partial: bool = False) -> Params:
    """torchvision-named ``{"features.0.weight": (out, in, kh, kw), …}`` -> HWIO params.

    PyTorch's conv2d cross-correlates, as flax does: transpose only, no flip. Keys
    other than the 16 convs (``classifier.*``) are ignored.
    """
    shapes = vgg.param_shapes()
    names = _layers_to_read(lambda conv: TORCH_KEYS[conv][0] in state, partial, "the state dict")
    out: Params = {}
    for conv in names:
        wkey, bkey = TORCH_KEYS[conv]
        if bkey not in state:
            raise InputError(f"layer {conv} has no bias ({bkey})")
        kh, kw, cin, cout = shapes[conv]["kernel"]
        w = _as_float32(state[wkey], f"layer {conv} weight ({wkey})")
        b = _as_float32(state[bkey], f"layer {conv} bias ({bkey})")
        _check_shape(conv, "weight", w, (cout, cin, kh, kw), "(out, in, kh, kw)", wkey)
        _check_shape(conv, "bias", b, (cout,), "", bkey)
        out[conv] = {"kernel": np.ascontiguousarray(w.transpose(2, 3, 1, 0)), "bias": b}
    return out


def params_from_doodle(tensors: Mapping[str, Any], *, partial: bool = False) -> Params:
    """doodle's layout ``{"conv1_1.kernel": (3, 3, 3, 64) HWIO, "conv1_1.bias": (64,), …}``."""
    names = _layers_to_read(lambda conv: DOODLE_KEYS[conv][0] in tensors, partial, "the file")
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


def metadata_for(preprocess: vgg.Preprocess, convention: str, **extra: Any) -> dict[str, str]:
    """doodle's metadata: one JSON string (safetensors metadata values must be strings)."""
    record = {
        "version": METADATA_VERSION,
        "convention": convention,
        "preprocess": dataclasses.asdict(preprocess),
        **{k: v for k, v in extra.items() if v is not None},
    }
    return {META_KEY: json.dumps(record, sort_keys=True)}


def _parse_metadata(text: Optional[str]) -> Optional[dict[str, Any]]:
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


# ---------------------------------------------------------------------------------
# Restricted unpickling
# ---------------------------------------------------------------------------------


class _Refused(pickle.UnpicklingError):
    """A pickle asked for a global outside the allowlist."""


def _numpy_attr(name: str) -> Any:
    """``numpy._core.multiarray._reconstruct`` and friends on numpy 1 and 2."""
    for module in ("numpy._core." + name.rsplit(".", 1)[0], "numpy.core." + name.rsplit(".", 1)[0]):
        try:
            return getattr(importlib.import_module(module), name.rsplit(".", 1)[1])
        except (ImportError, AttributeError):
            continue
    raise ImportError(name)  # pragma: no cover - numpy always has one of them


def _safe_dtype(*args: Any) -> np.dtype:
    """``numpy.dtype`` that refuses object dtypes (which would let a pickle hold anything)."""
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise _Refused("numpy object arrays")
    return dtype


def _codecs_encode(text: Any, encoding: str = "utf-8") -> bytes:
    """Protocol-2 pickles spell ``bytes`` as ``_codecs.encode(str, "latin1")``."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Refused("_codecs.encode with other than (str, 'latin1')")
    return text.encode("latin1")


class _Marker(NamedTuple):
    """Stands for a global the pickle may name but never call (immutable: BUILD cannot alter it)."""

    name: str


_NDARRAY = _Marker("numpy.ndarray")


def _numpy_globals() -> dict[tuple[str, str], Any]:
    reconstruct = _numpy_attr("multiarray._reconstruct")
    frombuffer = _numpy_attr("numeric._frombuffer")

    def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
        # numpy pickles an array as _reconstruct(ndarray, (0,), b"b") then BUILD. The
        # pickle only gets a marker for ndarray, so it can never call ndarray(...)
        # itself (shape, buffer, strides of its choosing).
        if subtype is not _NDARRAY:
            raise _Refused("numpy _reconstruct of something other than ndarray")
        return reconstruct(np.ndarray, shape, dtype)

    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): _NDARRAY,
        ("numpy", "dtype"): _safe_dtype,
        ("_codecs", "encode"): _codecs_encode,
    }
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = _reconstruct
        allowed[(f"{package}.numeric", "_frombuffer")] = frombuffer
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals in ``allowed``; anything else raises before it runs.

    Every way a pickle names a callable (GLOBAL, STACK_GLOBAL, INST, OBJ via the
    class, EXT via the copyreg registry) goes through ``find_class``.
    """

    def __init__(self, file: BinaryIO, allowed: Mapping[tuple[str, str], Any], persistent_load: Any = None):
        super().__init__(file, encoding="latin1")  # latin1: also reads Python 2 numpy pickles
        self._allowed = allowed
        self._persistent = persistent_load

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise _Refused(f"{module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        # A method delegating, not an instance attribute: the C unpickler binds
        # persistent_load when __init__ runs.
        if self._persistent is None:
            raise _Refused("persistent references")
        return self._persistent(pid)


def _refusal(what: str, exc: _Refused) -> InputError:
    return InputError(
        f"refused to load {what}: its pickle asks for {exc}, which weight files never need",
        "only arrays are read from pickles; the file may be malicious, or it is not a weight file.",
    )


def _unpickle(file: BinaryIO, allowed: Mapping[tuple[str, str], Any], what: str, persistent_load: Any = None) -> Any:
    """One pickle from ``file`` through the allowlist; every failure is an InputError."""
    try:
        return _RestrictedUnpickler(file, allowed, persistent_load).load()
    except _Refused as exc:
        raise _refusal(what, exc) from None
    except InputError:
        raise
    except Exception as exc:  # truncated/corrupt data raises almost anything
        raise InputError(f"{what} is corrupt or truncated ({type(exc).__name__}: {exc})", "download it again.") from None


# ---------------------------------------------------------------------------------
# neural-doodle's pickle
# ---------------------------------------------------------------------------------


def read_lasagne_pkl(data: bytes, what: str = "the pickle") -> list[np.ndarray]:
    """The array list in neural-doodle's ``vgg19_conv.pkl.bz2`` (bz2 or plain pickle bytes)."""
    if data[:3] == b"BZh":
        try:
            data = bz2.decompress(data)
        except (OSError, EOFError, ValueError) as exc:
            raise InputError(f"{what} is corrupt or truncated (bz2: {exc})", "download it again.") from None
    arrays = _unpickle(io.BytesIO(data), _numpy_globals(), what)
    if not isinstance(arrays, (list, tuple)) or not all(isinstance(a, np.ndarray) for a in arrays):
        raise InputError(f"{what} does not hold a list of arrays", "is this neural-doodle's vgg19_conv.pkl.bz2?")
    for a in arrays:
        if a.dtype.hasobject:
            raise InputError(f"{what} holds object arrays", "weight files hold numbers only.")
    return list(arrays)


# ---------------------------------------------------------------------------------
# PyTorch checkpoints, without torch
# ---------------------------------------------------------------------------------

# torch storage classes and dtypes -> numpy dtype codes ("bf16" decoded by hand).
_TORCH_STORAGE_DTYPES = {
    "FloatStorage": "<f4",
    "HalfStorage": "<f2",
    "DoubleStorage": "<f8",
    "BFloat16Storage": "bf16",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}
_TORCH_DTYPES = {
    "float32": "<f4", "float": "<f4", "float16": "<f2", "half": "<f2", "float64": "<f8", "double": "<f8",
    "bfloat16": "bf16", "int64": "<i8", "long": "<i8", "int32": "<i4", "int": "<i4", "int16": "<i2",
    "short": "<i2", "int8": "i1", "uint8": "u1", "bool": "?",
}
# Written first by torch.save's pre-1.6 ("legacy") format.
_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_TORCH_LEGACY_HEAD = b"\x80\x02\x8a\x0a" + _TORCH_LEGACY_MAGIC.to_bytes(10, "little")


class _TorchType(NamedTuple):
    """What a ``torch.FloatStorage`` / ``torch.float32`` global stands for (immutable:
    a pickle's BUILD cannot alter it)."""

    dtype: Optional[str]  # numpy code, or None for UntypedStorage (bytes)


class _StorageRef(NamedTuple):
    key: str  # name of the storage's bytes (zip entry data/<key>, or legacy key)
    dtype: Optional[str]  # element type; None: untyped bytes
    offset: int  # in elements of dtype (legacy views), else 0


class _TensorRef(NamedTuple):
    storage: _StorageRef
    offset: int  # in elements
    size: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: str


def _itemsize(dtype: str) -> int:
    return 2 if dtype == "bf16" else np.dtype(dtype).itemsize


def _ints(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise _Refused(f"a tensor {what} that is not a tuple of ints")
    return tuple(value)


def _tensor_ref(storage: Any, offset: Any, size: Any, stride: Any, dtype: Optional[str]) -> _TensorRef:
    if not isinstance(storage, _StorageRef):
        raise _Refused("a tensor built from something other than a storage")
    if not isinstance(offset, int) or offset < 0:
        raise _Refused("a negative tensor offset")
    dtype = dtype or storage.dtype
    if dtype is None:
        raise _Refused("an untyped tensor")
    size, stride = _ints(size, "size"), _ints(stride, "stride")
    if len(size) != len(stride) or any(s < 0 for s in size + stride):
        raise _Refused("a tensor with a malformed size or stride")
    return _TensorRef(storage, offset, size, stride, dtype)


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any) -> _TensorRef:
    """torch._utils._rebuild_tensor (torch < 0.4)."""
    return _tensor_ref(storage, storage_offset, size, stride, None)


def _rebuild_tensor_v2(storage: Any, storage_offset: Any, size: Any, stride: Any, *_: Any, **__: Any) -> _TensorRef:
    """torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])."""
    return _tensor_ref(storage, storage_offset, size, stride, None)


def _rebuild_tensor_v3(
    storage: Any, storage_offset: Any, size: Any, stride: Any, requires_grad: Any = False,
    backward_hooks: Any = None, dtype: Any = None, *_: Any, **__: Any,
) -> _TensorRef:
    """torch._utils._rebuild_tensor_v3: the dtype is an argument (with untyped storages)."""
    if not isinstance(dtype, _TorchType) or dtype.dtype is None:
        raise _Refused("a tensor without a known dtype")
    return _tensor_ref(storage, storage_offset, size, stride, dtype.dtype)


def _rebuild_parameter(data: Any, *_: Any, **__: Any) -> Any:
    """torch._utils._rebuild_parameter: a Parameter is its data here."""
    if not isinstance(data, _TensorRef):
        raise _Refused("a parameter that is not a tensor")
    return data


class _TarKey(NamedTuple):
    """A tensor named by key in torch's tar layout (resolved once its metadata is read)."""

    key: str


def _torch_globals() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch", "UntypedStorage"): _TorchType(None),
        ("torch.storage", "UntypedStorage"): _TorchType(None),
        ("_codecs", "encode"): _codecs_encode,
    }
    for name, code in _TORCH_STORAGE_DTYPES.items():
        allowed[("torch", name)] = _TorchType(code)
        allowed[("torch.cuda", name)] = _TorchType(code)  # saved from a GPU: same bytes
    for name, code in _TORCH_DTYPES.items():
        allowed[("torch", name)] = _TorchType(code)
    for name, code in _TORCH_STORAGE_DTYPES.items():  # tar layout names tensor types too
        tensor = name.replace("Storage", "Tensor")
        allowed[("torch", tensor)] = allowed[("torch.cuda", tensor)] = _TorchType(code)
    return allowed


def _key(value: Any) -> str:
    """A storage/tensor key as a string (keys are ints in the tar layout, strings since)."""
    if isinstance(value, bytes):
        value = value.decode("latin1")
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _Refused("a malformed storage key")
    value = str(value)
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", value):
        raise _Refused("a malformed storage key")
    return value


def _storage_from_pid(pid: Any, storages: dict[str, tuple[Optional[str], int]]) -> _StorageRef:
    """Resolve ``('storage', type, key, location, numel[, view])``; records each root storage."""
    if not isinstance(pid, tuple) or len(pid) not in (5, 6):
        raise _Refused("a persistent reference that is not a storage")
    kind, storage_type, key, _location, numel = pid[:5]
    if isinstance(kind, bytes):
        kind = kind.decode("latin1")
    if kind != "storage" or not isinstance(storage_type, _TorchType):
        raise _Refused("a persistent reference that is not a storage")
    key = _key(key)
    if not isinstance(numel, int) or numel < 0:
        raise _Refused("a malformed storage reference")
    storages.setdefault(key, (storage_type.dtype, numel))
    offset = 0
    view = pid[5] if len(pid) == 6 else None
    if view is not None:  # legacy views: (view_key, offset, size) into the root storage
        if not isinstance(view, tuple) or len(view) != 3 or not isinstance(view[1], int) or view[1] < 0:
            raise _Refused("a malformed storage view")
        offset = view[1]
    return _StorageRef(key, storage_type.dtype, offset)


def _materialize(ref: _TensorRef, data: bytes, big_endian: bool = False) -> np.ndarray:
    """The array ``ref`` describes, copied out of its storage's bytes; bounds-checked
    (a lying size or stride must never read outside ``data``)."""
    itemsize = _itemsize(ref.dtype)
    start = (ref.storage.offset + ref.offset) * itemsize
    if ref.storage.dtype is not None and _itemsize(ref.storage.dtype) != itemsize:
        raise InputError("a tensor's dtype does not match its storage", "the file is corrupt.")
    available = (len(data) - start) // itemsize if start <= len(data) else -1
    count = math.prod(ref.size)  # Python ints: a corrupt size must not overflow
    last = sum((n - 1) * s for n, s in zip(ref.size, ref.stride)) if count else -1
    if available < 0 or last >= available:
        raise InputError("a tensor reaches past the end of its storage", "the file is corrupt or truncated.")
    raw_dtype = np.dtype("<u2") if ref.dtype == "bf16" else np.dtype(ref.dtype)
    if big_endian:
        raw_dtype = raw_dtype.newbyteorder(">")
    flat = np.frombuffer(data, dtype=raw_dtype, count=max(available, 0) if count else 0, offset=start)
    if count == 0:
        return np.zeros(ref.size, raw_dtype.newbyteorder("="))
    view = np.lib.stride_tricks.as_strided(
        flat, shape=ref.size, strides=tuple(s * itemsize for s in ref.stride), writeable=False
    )
    array = np.array(view, dtype=raw_dtype.newbyteorder("="))
    if ref.dtype == "bf16":  # bfloat16 is the top half of a float32
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array


def _state_dict(obj: Any, what: str, resolve: Callable[[Any], Any] = lambda v: v) -> dict[str, _TensorRef]:
    """The ``{name: tensor}`` mapping in an unpickled checkpoint (``resolve`` maps
    placeholders to tensors)."""
    tensors = (_TensorRef, _TarKey)
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model", "model_state_dict"):
            inner = obj.get(key)
            if isinstance(inner, Mapping) and any(isinstance(v, tensors) for v in inner.values()):
                obj = inner
                break
    if not isinstance(obj, Mapping):
        raise InputError(f"{what} does not hold a state dict", "save model.state_dict(), not the model.")
    state = {}
    for key, value in obj.items():
        value = resolve(value)
        if isinstance(key, str) and isinstance(value, _TensorRef):
            state[key[len("module."):] if key.startswith("module.") else key] = value
    return state


def _wanted(state: Mapping[str, _TensorRef], wanted: Optional[Collection[str]]) -> dict[str, _TensorRef]:
    return {k: v for k, v in state.items() if wanted is None or k in wanted}


def _read_torch_zip(path: Path, wanted: Optional[Collection[str]]) -> dict[str, np.ndarray]:
    """torch.save's zip layout: ``<root>/data.pkl`` + ``<root>/data/<key>`` storages."""
    what = path.name
    try:
        with zipfile.ZipFile(path) as zf:
            _check_zip_members(zf, what)
            names = zf.namelist()
            pkls = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
            if len(pkls) != 1:
                raise InputError(f"{what} is a zip file but not a PyTorch checkpoint (no single data.pkl)")
            root = pkls[0][: -len("data.pkl")]
            big_endian = False
            if root + "byteorder" in names:
                big_endian = zf.read(root + "byteorder").strip() == b"big"
            storages: dict[str, tuple[Optional[str], int]] = {}
            with zf.open(pkls[0]) as f:
                obj = _unpickle(
                    io.BytesIO(f.read()), _torch_globals(), what,
                    persistent_load=lambda pid: _storage_from_pid(pid, storages),
                )
            state = _wanted(_state_dict(obj, what), wanted)
            blobs: dict[str, bytes] = {}
            out = {}
            for name, ref in state.items():
                key = ref.storage.key
                if key not in blobs:
                    entry = f"{root}data/{key}"
                    if entry not in names:
                        raise InputError(f"{what} lacks the data of tensor {name} ({entry})", "the file is corrupt.")
                    blobs[key] = zf.read(entry)
                out[name] = _materialize(ref, blobs[key], big_endian)
            return out
    except InputError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, KeyError, RuntimeError,
            NotImplementedError) as exc:
        raise InputError(f"{what} is corrupt or truncated ({type(exc).__name__}: {exc})", "download it again.") from None


# The largest member a checkpoint's zip may declare: VGG19's largest tensor (fc6,
# 102,760,448 float32 values, 411 MB) with room to spare. zipfile inflates a member
# up to its declared size only, so this bounds what a zip bomb can make us allocate.
_ZIP_MAX_MEMBER = 768 * 2**20
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


def _check_zip_members(zf: zipfile.ZipFile, what: str) -> None:
    """InputError for a member doodle will not read: encrypted, compressed with a
    method zipfile lacks, or declaring more bytes than any VGG19 tensor needs."""
    for member in zf.infolist():
        if member.flag_bits & 0x1:
            raise InputError(f"{what} is password-protected ({member.filename}).",
                             "Use an unencrypted checkpoint, as torch.save writes.")
        if member.compress_type not in _ZIP_METHODS:
            raise InputError(f"{what} uses zip compression method {member.compress_type} "
                             f"({member.filename}), which doodle cannot read.",
                             "Use the checkpoint as torch.save wrote it (stored, uncompressed).")
        if member.file_size > _ZIP_MAX_MEMBER:
            raise InputError(f"{what}: {member.filename} declares {member.file_size:,} bytes, more than any "
                             f"VGG19 tensor needs ({_ZIP_MAX_MEMBER:,}).", "The file is not a VGG19 checkpoint.")


def _read_torch_legacy(path: Path, wanted: Optional[Collection[str]]) -> dict[str, np.ndarray]:
    """torch.save's pre-1.6 layout: magic, protocol and sys_info pickles, the object
    pickle, a pickle of storage keys, then per key an int64 element count and the raw
    elements. Storages not wanted are skipped with seek."""
    what = path.name
    allowed = _torch_globals()
    with open(path, "rb") as f:
        if _unpickle(f, {}, what) != _TORCH_LEGACY_MAGIC:
            raise InputError(f"{what} is not a PyTorch checkpoint")
        _unpickle(f, {}, what)  # protocol version
        sys_info = _unpickle(f, {}, what)
        big_endian = isinstance(sys_info, dict) and sys_info.get("little_endian") is False
        storages: dict[str, tuple[Optional[str], int]] = {}
        obj = _unpickle(f, allowed, what, persistent_load=lambda pid: _storage_from_pid(pid, storages))
        keys = _unpickle(f, {}, what)
        if not isinstance(keys, list) or not all(isinstance(k, (str, bytes)) for k in keys):
            raise InputError(f"{what} is corrupt (bad storage key list)")
        state = _wanted(_state_dict(obj, what), wanted)
        needed = {ref.storage.key for ref in state.values()}
        size = os.fstat(f.fileno()).st_size
        blobs: dict[str, bytes] = {}
        for key in keys:
            key = key.decode("latin1") if isinstance(key, bytes) else key
            head = f.read(8)
            if len(head) < 8 or key not in storages:
                raise InputError(f"{what} is corrupt or truncated (storage {key})", "download it again.")
            numel = struct.unpack("<q" if not big_endian else ">q", head)[0]
            dtype = storages[key][0] or "u1"
            nbytes = numel * _itemsize(dtype)
            if numel < 0 or f.tell() + nbytes > size:
                raise InputError(f"{what} is truncated (storage {key})", "download it again.")
            if key in needed:
                blobs[key] = f.read(nbytes)
            else:
                f.seek(nbytes, os.SEEK_CUR)
        out = {}
        for name, ref in state.items():
            if ref.storage.key not in blobs:
                raise InputError(f"{what} lacks the data of tensor {name}", "the file is corrupt.")
            out[name] = _materialize(ref, blobs[ref.storage.key], big_endian)
        return out


def _read_exact(f: BinaryIO, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise InputError(f"{what} is truncated", "download it again.")
    return data


def _tar_pid(pid: Any) -> _TarKey:
    """Persistent ids of the tar layout's object pickle: a tensor's key. (Tuples name
    module classes of whole pickled models: refused.)"""
    if isinstance(pid, tuple):
        raise _Refused("a pickled module (save model.state_dict() instead)")
    return _TarKey(_key(pid))


def _read_torch_tar(path: Path, wanted: Optional[Collection[str]]) -> dict[str, np.ndarray]:
    """torch.save's tar layout (torch < 0.1.10, early 2017): members ``pickle`` (the
    object; tensors as persistent keys), ``tensors`` (per tensor: key, storage key,
    type, then int32 ndim, 4 pad bytes, int64 sizes, strides and offset) and
    ``storages`` (per storage: key, location, type, then int64 element count and the
    elements; then a pickled list of views (key, root key, offset, size))."""
    what = path.name
    allowed = _torch_globals()
    try:
        with tarfile.open(path, mode="r:") as tar:

            def member(name: str) -> BinaryIO:
                f = tar.extractfile(name)
                if f is None:
                    raise InputError(f"{what} lacks its {name!r} entry", "the file is corrupt.")
                return f  # type: ignore[return-value]

            # The small members are read whole: the unpickler then checks lengths
            # against what is there instead of allocating what a corrupt file claims.
            with member("pickle") as f:
                obj = _unpickle(io.BytesIO(f.read()), allowed, what, persistent_load=_tar_pid)

            layouts: dict[str, tuple[str, int, tuple[int, ...], tuple[int, ...]]] = {}
            with member("tensors") as raw:
                f = io.BytesIO(raw.read())
                count = _unpickle(f, {}, what)
                if not isinstance(count, int) or count < 0:
                    raise InputError(f"{what} is corrupt (tensor count)")
                for _ in range(count):
                    record = _unpickle(f, allowed, what)
                    if not isinstance(record, tuple) or len(record) != 3:
                        raise InputError(f"{what} is corrupt (tensor record)")
                    (ndim,) = struct.unpack("<i", _read_exact(f, 4, what))
                    _read_exact(f, 4, what)  # ndim was once written as 8 bytes
                    if not 0 <= ndim <= 16:
                        raise InputError(f"{what} is corrupt (a tensor of {ndim} dimensions)")
                    size = struct.unpack(f"<{ndim}q", _read_exact(f, 8 * ndim, what))
                    stride = struct.unpack(f"<{ndim}q", _read_exact(f, 8 * ndim, what))
                    (offset,) = struct.unpack("<q", _read_exact(f, 8, what))
                    layouts[_key(record[0])] = (_key(record[1]), offset, size, stride)

            with member("storages") as f:
                count = _unpickle(f, {}, what)
                if not isinstance(count, int) or count < 0:
                    raise InputError(f"{what} is corrupt (storage count)")
                where: dict[str, tuple[Optional[str], int, int]] = {}  # key -> dtype, position, numel
                for _ in range(count):
                    record = _unpickle(f, allowed, what)
                    if not isinstance(record, tuple) or len(record) != 3 or not isinstance(record[2], _TorchType):
                        raise InputError(f"{what} is corrupt (storage record)")
                    dtype = record[2].dtype or "u1"
                    (numel,) = struct.unpack("<q", _read_exact(f, 8, what))
                    if numel < 0:
                        raise InputError(f"{what} is corrupt (storage size)")
                    where[_key(record[0])] = (dtype, f.tell(), numel)
                    f.seek(numel * _itemsize(dtype), os.SEEK_CUR)
                views = {}
                for view in _unpickle(f, {}, what) or ():
                    if not isinstance(view, (tuple, list)) or len(view) != 4 or not isinstance(view[2], int):
                        raise InputError(f"{what} is corrupt (storage view)")
                    views[_key(view[0])] = (_key(view[1]), view[2])

                def resolve(value: Any) -> Any:
                    if not isinstance(value, _TarKey) or value.key not in layouts:
                        return value
                    storage_key, offset, size, stride = layouts[value.key]
                    root, view_offset = views.get(storage_key, (storage_key, 0))
                    if root not in where:
                        raise InputError(f"{what} lacks storage {root}", "the file is corrupt.")
                    dtype = where[root][0]
                    try:
                        return _tensor_ref(_StorageRef(root, dtype, view_offset), offset, size, stride, dtype)
                    except _Refused as exc:
                        raise _refusal(what, exc) from None

                state = _wanted(_state_dict(obj, what, resolve), wanted)
                out, blobs = {}, {}
                for name, ref in state.items():
                    key = ref.storage.key
                    if key not in blobs:
                        dtype, position, numel = where[key]
                        f.seek(position)
                        blobs[key] = _read_exact(f, numel * _itemsize(dtype), what)
                    out[name] = _materialize(ref, blobs[key])
                return out
    except InputError:
        raise
    except _Refused as exc:
        raise _refusal(what, exc) from None
    except (tarfile.TarError, OSError, EOFError, ValueError, KeyError, struct.error) as exc:
        raise InputError(f"{what} is corrupt or truncated ({type(exc).__name__}: {exc})", "download it again.") from None


def _is_tar(head: bytes) -> bool:
    return len(head) >= 262 and head[257:262] == b"ustar"


def read_torch(path: PathLike, wanted: Optional[Collection[str]] = None) -> dict[str, np.ndarray]:
    """Tensors of a PyTorch checkpoint (``torch.save`` of a state dict) as numpy arrays.

    All three layouts are read without torch: zip (torch >= 1.6), the stream of
    pickles before it (torchvision's 2017 files), and the early-2017 tar.
    ``wanted``: names to materialise (None: all); others are skipped.
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(512)
    if head[:4] == b"PK\x03\x04":
        return _read_torch_zip(path, wanted)
    if head[: len(_TORCH_LEGACY_HEAD)] == _TORCH_LEGACY_HEAD:
        return _read_torch_legacy(path, wanted)
    if _is_tar(head):
        return _read_torch_tar(path, wanted)
    raise InputError(f"{path.name} is not a PyTorch checkpoint")


# ---------------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------------

_ST_DTYPES = {"F32": "<f4", "F16": "<f2", "BF16": "bf16", "F64": "<f8"}
_ST_CODES = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.float64): "F64"}
_ST_MAX_HEADER = 100 * 2**20


def parse_safetensors_header(head: bytes, what: str = "the file") -> tuple[dict[str, dict], dict[str, str], int]:
    """(tensors, metadata, data start) from the first bytes of a safetensors file.

    ``head`` must hold the 8-byte length and the whole JSON header.
    """
    if len(head) < 8:
        raise InputError(f"{what} is truncated (no safetensors header)")
    (n,) = struct.unpack("<Q", head[:8])
    if n > _ST_MAX_HEADER or len(head) < 8 + n:
        raise InputError(f"{what} is truncated or not safetensors (header of {n} bytes)", "download it again.")
    try:
        header = json.loads(head[8 : 8 + n].decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("header is not an object")
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: [[[[… nested
        raise InputError(f"{what} has a corrupt safetensors header ({type(exc).__name__})",
                         "download it again.") from None
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise InputError(f"{what} has corrupt safetensors metadata")
    for name, entry in header.items():
        ok = (
            isinstance(entry, dict)
            and isinstance(entry.get("dtype"), str)
            and isinstance(entry.get("shape"), list)
            and all(isinstance(d, int) and d >= 0 for d in entry["shape"])
            and isinstance(entry.get("data_offsets"), list)
            and len(entry["data_offsets"]) == 2
            and all(isinstance(o, int) and o >= 0 for o in entry["data_offsets"])
            and entry["data_offsets"][0] <= entry["data_offsets"][1]
        )
        if not ok:
            raise InputError(f"{what} has a corrupt safetensors entry for {name!r}")
    return header, {str(k): str(v) for k, v in metadata.items()}, 8 + n


def _decode_st(name: str, entry: Mapping[str, Any], data: bytes, what: str) -> np.ndarray:
    """One safetensors tensor from its raw little-endian bytes."""
    code = _ST_DTYPES.get(entry["dtype"])
    if code is None:
        raise InputError(f"tensor {name} in {what} has unsupported dtype {entry['dtype']}", "use F32, F16 or BF16.")
    shape = tuple(entry["shape"])
    count = math.prod(shape)
    if len(data) != count * _itemsize(code):
        raise InputError(f"tensor {name} in {what} has {len(data)} bytes for shape {shape}", "the file is corrupt.")
    if code == "bf16":
        return (np.frombuffer(data, "<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)
    return np.frombuffer(data, code).astype(np.dtype(code).newbyteorder("="), copy=True).reshape(shape)


def read_safetensors(
    path: PathLike, wanted: Optional[Collection[str]] = None
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors, metadata) of a safetensors file; ``wanted`` limits what is read."""
    path = Path(path)
    what = path.name
    size = path.stat().st_size
    with open(path, "rb") as f:
        first = f.read(8)
        if len(first) < 8:
            raise InputError(f"{what} is truncated (no safetensors header)")
        (n,) = struct.unpack("<Q", first)
        if n > min(_ST_MAX_HEADER, size):
            raise InputError(f"{what} is truncated or not safetensors", "download it again.")
        header, metadata, start = parse_safetensors_header(first + f.read(n), what)
        tensors = {}
        for name, entry in header.items():
            if wanted is not None and name not in wanted:
                continue
            begin, end = entry["data_offsets"]
            if start + end > size:
                raise InputError(f"{what} is truncated (tensor {name} ends past the end)", "download it again.")
            f.seek(start + begin)
            tensors[name] = _decode_st(name, entry, f.read(end - begin), what)
    return tensors, metadata


def write_safetensors(path: PathLike, tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> None:
    """Write ``tensors`` (float32/float16/float64, in the given order) as safetensors."""
    header: dict[str, Any] = {"__metadata__": dict(metadata)} if metadata else {}
    offset = 0
    arrays = []
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        code = _ST_CODES.get(array.dtype.newbyteorder("="))
        if code is None:
            raise ValueError(f"cannot write dtype {array.dtype} for {name}")
        nbytes = array.size * array.dtype.itemsize
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + nbytes]}
        arrays.append(array.astype(array.dtype.newbyteorder("<"), copy=False))
        offset += nbytes
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * (-len(blob) % 8)  # writers pad the header so the data is 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for array in arrays:
            f.write(array.tobytes())


# ---------------------------------------------------------------------------------
# Keras h5 and npz
# ---------------------------------------------------------------------------------


def read_keras_h5(path: PathLike, *, partial: bool = False) -> Params:
    """Keras ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` -> HWIO params.

    Groups ``block1_conv1`` … hold a kernel (3, 3, in, out), already HWIO for
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
            names = _layers_to_read(lambda conv: KERAS_GROUPS[conv] in root, partial, what)
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
        raise InputError(f"{what} is corrupt or truncated ({type(exc).__name__}: {exc})", "download it again.") from None


def read_npz(path: PathLike) -> tuple[dict[str, np.ndarray], Optional[str]]:
    """(arrays, doodle metadata JSON or None) of an ``.npz``; pickled content refused."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files if k != NPZ_META_KEY}
            meta = str(z[NPZ_META_KEY][()]) if NPZ_META_KEY in z.files else None
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise InputError(f"refused to load {path.name}: it holds pickled objects", "weight files hold numbers only.") from None
        raise InputError(f"{path.name} is corrupt or truncated ({exc})", "download it again.") from None
    except Exception as exc:  # numpy's header parser raises SyntaxError, TokenError… on damaged files
        raise InputError(f"{path.name} is corrupt or truncated ({type(exc).__name__}: {exc})", "download it again.") from None
    return arrays, meta


# ---------------------------------------------------------------------------------
# Format detection and loading
# ---------------------------------------------------------------------------------

FORMATS = ("lasagne", "torch", "safetensors", "keras-h5", "npz")


def detect_format(path: PathLike) -> str:
    """One of :data:`FORMATS`, from the file's first bytes (names can lie)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"weights file {str(path)!r} not found", "give a file path, or a name from: doodle weights list.")
    with open(path, "rb") as f:
        head = f.read(512)
    if not head:
        raise InputError(f"weights file {path.name} is empty", "download it again.")
    if _is_tar(head):  # torch.save's early-2017 layout
        return "torch"
    if head[:3] == b"BZh":
        return "lasagne"
    if head[:14] == _TORCH_LEGACY_HEAD:
        return "torch"
    if head[:8] == b"\x89HDF\r\n\x1a\n":
        return "keras-h5"
    if head[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(f"{path.name} is a corrupt or truncated zip file ({exc})", "download it again.") from None
        if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            return "torch"
        if names and all(n.endswith(".npy") for n in names):
            return "npz"
        raise InputError(f"{path.name} is a zip file of neither PyTorch nor numpy arrays")
    if head[:1] == b"\x80":  # a plain (uncompressed) pickle: neural-doodle's list
        return "lasagne"
    if len(head) >= 9 and head[8:9] == b"{":
        return "safetensors"
    raise InputError(
        f"cannot tell the format of {path.name}",
        "known formats: neural-doodle .pkl.bz2, PyTorch .pth, .safetensors, Keras .h5, .npz.",
    )


def convention_from_name(name: str) -> Optional[str]:
    """The convention of a known file, from its name (torch hub names carry a hash)."""
    for src in sources():
        stem = src.filename.split(".")[0]
        if src.filename in name or (src.format == "torch" and stem in name):
            return src.convention
    return None


@dataclasses.dataclass(frozen=True)
class Loaded:
    """What a file held, before it becomes an Extractor."""

    params: Params  # HWIO float32
    preprocess: vgg.Preprocess
    format: str
    convention: str  # "caffe", "torchvision", "custom"; "(assumed)" appended when guessed
    dtype: str  # of the stored weights
    metadata: Optional[dict[str, Any]] = None  # doodle's record, if the file has one


def _convention(preprocess: vgg.Preprocess) -> str:
    for name, known in CONVENTIONS.items():
        if known == preprocess:
            return name
    return "custom"


def _choose(convention: Optional[str], path: Path, default: str) -> tuple[str, vgg.Preprocess]:
    """Explicit convention, else from the file name, else ``default`` marked assumed."""
    if convention is not None:
        if convention not in CONVENTIONS:
            raise InputError(f"unknown convention {convention!r}", f"use one of: {', '.join(CONVENTIONS)}.")
        return convention, CONVENTIONS[convention]
    named = convention_from_name(path.name)
    if named is not None:
        return named, CONVENTIONS[named]
    return f"{default} (assumed)", CONVENTIONS[default]


def _from_doodle_layout(
    tensors: Mapping[str, np.ndarray], meta_text: Optional[str], path: Path, convention: Optional[str],
    partial: bool, fmt: str,
) -> Loaded:
    record = _parse_metadata(meta_text)
    params = params_from_doodle(tensors, partial=partial)
    dtype = str(next(iter(tensors.values())).dtype) if tensors else "float32"
    if convention is None and record is not None:
        return Loaded(params, record["preprocess"], fmt, record.get("convention", _convention(record["preprocess"])), dtype, record)
    label, preprocess = _choose(convention, path, "caffe")
    return Loaded(params, preprocess, fmt, label, dtype, record)


def read_weights(path: PathLike, *, convention: Optional[str] = None, partial: bool = False) -> Loaded:
    """Read any supported weight file: HWIO params and the convention they expect.

    Args:
      path: the file; its format is told by its content.
      convention: "caffe" or "torchvision" to override what the file says or its name
        implies. Torch-named files whose name is unknown are assumed torchvision;
        doodle-layout files without metadata are assumed caffe.
      partial: accept a prefix conv1_1…convK instead of all 16 layers.
    """
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "lasagne":
        arrays = read_lasagne_pkl(path.read_bytes(), path.name)
        label, preprocess = _choose(convention, path, "caffe")
        label = label.replace(" (assumed)", "")  # neural-doodle's file is caffe by construction
        dtype = str(arrays[0].dtype) if arrays else "float32"
        return Loaded(params_from_lasagne(arrays, partial=partial), preprocess, fmt, label, dtype)
    if fmt == "torch":
        keys = {k for pair in TORCH_KEYS.values() for k in pair}
        state = read_torch(path, keys)
        label, preprocess = _choose(convention, path, "torchvision")
        dtype = str(next(iter(state.values())).dtype) if state else "float32"
        return Loaded(params_from_torch(state, partial=partial), preprocess, fmt, label, dtype)
    if fmt == "safetensors":
        tensors, metadata = read_safetensors(path)
        if any(k in tensors for pair in DOODLE_KEYS.values() for k in pair):
            return _from_doodle_layout(tensors, metadata.get(META_KEY), path, convention, partial, fmt)
        label, preprocess = _choose(convention, path, "torchvision")
        dtype = str(next(iter(tensors.values())).dtype) if tensors else "float32"
        return Loaded(params_from_torch(tensors, partial=partial), preprocess, fmt, label, dtype)
    if fmt == "keras-h5":
        label, preprocess = _choose(convention, path, "caffe")
        return Loaded(read_keras_h5(path, partial=partial), preprocess, fmt, label.replace(" (assumed)", ""), "float32")
    arrays_npz, meta = read_npz(path)
    return _from_doodle_layout(arrays_npz, meta, path, convention, partial, fmt)


def to_extractor(loaded: Loaded, name: str) -> "Extractor":
    """Wrap read weights as an Extractor (parameters as jax arrays)."""
    import jax

    from doodle.extractor import Extractor
    from doodle.options import PRETRAINED

    # device_put, not jnp.asarray: no small program per array shape at start-up.
    params = jax.device_put({conv: dict(layer) for conv, layer in loaded.params.items()})
    return Extractor(
        params=params,
        preprocess=loaded.preprocess,
        name=name,
        style_layers=PRETRAINED.style_layers,
        pretrained=True,
        content_layers=PRETRAINED.content_layers,
        content_weight=PRETRAINED.content_weight,
    )


def load_file(
    path: PathLike, *, convention: Optional[str] = None, partial: bool = False, name: Optional[str] = None
) -> "Extractor":
    """An Extractor from a weight file of any supported format (see :func:`read_weights`)."""
    path = Path(path)
    return to_extractor(read_weights(path, convention=convention, partial=partial), name or path.name)


def resolve_path(spec: PathLike, cache: Optional[PathLike] = None) -> tuple[Path, Optional[Source]]:
    """The file ``spec`` names: an existing path, or a known source's cached file."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path, _find_source(path.name)
    src = _find_source(str(spec))
    if src is None:
        if os.sep in str(spec) or path.suffix:
            raise InputError(f"weights file {str(spec)!r} not found", "check the path.")
        get_source(str(spec))  # raises "unknown weights", listing the known names
    cached = cached_path(src, cache if cache is not None else cache_dir())  # type: ignore[arg-type]
    if not cached.is_file():
        raise InputError(f"weights {src.name!r} are not downloaded", f"run: doodle weights download {src.name}")
    return cached, src


def load(spec: PathLike, cache: Optional[PathLike] = None, *, convention: Optional[str] = None,
         partial: bool = False) -> "Extractor":
    """An Extractor from a path or a known source name (looked up in ``cache``)."""
    path, src = resolve_path(spec, cache)
    if convention is None and src is not None:
        convention = src.convention
    return load_file(path, convention=convention, partial=partial, name=src.name if src else path.name)


def resolve(spec: str, cache: Optional[PathLike] = None, last: str = "5_4") -> "Extractor":
    """What ``doodle paint --weights SPEC`` means: "builtin", "auto" (the first cached
    pretrained file, else built-in), a known source name, or a path. ``last``: how
    deep to build the built-in network (see :func:`builtin_extractor`)."""
    if spec == "builtin":
        return builtin_extractor(last, cache)
    if spec == "auto":
        found = find_cached(cache if cache is not None else cache_dir())
        if found is None:
            return builtin_extractor(last, cache)
        return load(found, cache)
    return load(spec, cache)


# ---------------------------------------------------------------------------------
# Digests, info, import
# ---------------------------------------------------------------------------------


def file_digests(path: PathLike, chunk: int = 1 << 20) -> tuple[str, str]:
    """(sha256, md5) hex digests of a file."""
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), md5.hexdigest()


def info(spec: PathLike, cache: Optional[PathLike] = None) -> dict[str, Any]:
    """What a weight file (path or known source name) holds.

    Returns ``{"path", "source", "format", "convention", "preprocess", "layers",
    "dtype", "size", "sha256"}``; ``layers`` are names such as ``"1_1"``.
    """
    path, src = resolve_path(spec, cache)
    loaded = read_weights(path, convention=src.convention if src else None, partial=True)
    sha256, _ = file_digests(path)
    record = loaded.metadata or {}
    return {
        "path": str(path),
        "source": src.name if src else record.get("source"),
        "format": loaded.format,
        "convention": loaded.convention,
        "preprocess": dataclasses.asdict(loaded.preprocess),
        "layers": [conv[len("conv"):] for conv in loaded.params],
        "dtype": loaded.dtype,
        "size": path.stat().st_size,
        "sha256": sha256,
    }


def import_weights(
    path: PathLike, cache: PathLike, *, float16: bool = False, convention: Optional[str] = None,
    partial: bool = False,
) -> Path:
    """Convert any supported file to a compact conv-only safetensors in ``cache``.

    The result uses doodle's naming (``conv1_1.kernel`` HWIO) with the preprocessing,
    the original file name and its sha256 in the metadata; all 16 layers are
    required unless ``partial``. ``float16`` halves the size (the weights are used
    as float32).
    """
    path = Path(path)
    loaded = read_weights(path, convention=convention, partial=partial)
    sha256, _ = file_digests(path)
    src = _find_source(path.name)
    label = loaded.convention.replace(" (assumed)", "")
    meta = metadata_for(
        loaded.preprocess, label, source=(src.name if src else path.name), source_sha256=sha256,
        source_format=loaded.format,
    )
    cache = Path(cache)
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot use the cache folder {str(cache)!r}: {e.strerror or e}.",
                         "Set DOODLE_CACHE, or give --cache-dir, to a writable folder.") from None
    out = cache / _imported_name(path)
    tmp = out.with_name(out.name + ".tmp")
    try:
        write_safetensors(tmp, export_tensors(loaded.params, float16=float16), meta)
        os.replace(tmp, out)
    except BaseException as e:  # a full disk, a read-only folder, Ctrl-C: no half-written .tmp stays
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(e, OSError):
            raise _cache_write_error(out, e) from None
        raise
    return out


# Errors that say the disk, not the folder the user chose, is the trouble (exit 1).
_DISK_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EIO, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _cache_write_error(out: Path, e: OSError) -> DoodleError:
    """A full disk is a runtime failure (exit 1); a folder doodle may not write, bad input (exit 2)."""
    if e.errno in _DISK_ERRNOS:
        return WriteError(f"cannot write {str(out)!r}: {e.strerror or e}; nothing was imported.",
                          "Free some space, or import into another --cache-dir.", path=str(out))
    return InputError(f"cannot write {str(out)!r}: {e.strerror or e}; nothing was imported.",
                      "Set DOODLE_CACHE, or give --cache-dir, to a writable folder.")


# ---------------------------------------------------------------------------------
# Downloads
# ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Downloaded:
    path: Path
    sha256: str  # of the cached file
    verified: str  # which published checks passed ("sha256", "md5", "size, sha256 prefix"); "" if none known


def _open(url: str, timeout: float, start: int = 0, end: Optional[int] = None) -> http.client.HTTPResponse:
    headers = {"User-Agent": "doodle-weights"}
    if start or end is not None:
        headers["Range"] = f"bytes={start}-{'' if end is None else end}"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _network_error(url: str, exc: BaseException) -> InputError:
    return InputError(f"download from {url} failed ({exc})", "check the connection and run the command again: it resumes.")


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def _fetch_to(url: str, part: Path, progress: Optional[ProgressFn], timeout: float, expected: Optional[int]) -> None:
    """Download ``url`` into ``part``, resuming from what ``part`` already holds."""
    have = part.stat().st_size if part.exists() else 0
    if expected is not None and have > expected:
        part.unlink()
        have = 0
    if expected is not None and have == expected:
        return
    try:
        resp = _open(url, timeout, start=have)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left past what we have
            return
        raise _network_error(url, exc) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _network_error(url, exc) from None
    with resp:
        total: Optional[int] = None
        if have and resp.status == 206:
            match = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != have:
                raise InputError(f"download from {url} resumed at the wrong place", "delete the .part file and retry.")
            total = int(match.group(3)) if match.group(3) != "*" else None
            mode = "ab"
        else:  # the server sent the whole file: start over
            have, mode = 0, "wb"
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        try:
            with open(part, mode) as out:
                if progress:
                    progress(have, total)
                while True:
                    block = resp.read(1 << 20)
                    if not block:
                        break
                    out.write(block)
                    have += len(block)
                    if progress:
                        progress(have, total)
        except (OSError, http.client.HTTPException) as exc:
            raise _network_error(url, exc) from None
    if total is not None and have < total:
        raise _network_error(url, EOFError(f"connection closed after {have} of {total} bytes"))


def _verify(src: Source, size: int, sha256: str, md5: str) -> tuple[str, str]:
    """(what passed, problem or "") against the source's published checks."""
    passed = []
    if src.size is not None:
        if size != src.size:
            return "", f"size {size} bytes, expected {src.size}"
        passed.append("size")
    if src.sha256 is not None:
        if sha256 != src.sha256.lower():
            return "", f"sha256 {sha256}, expected {src.sha256}"
        passed.append("sha256")
    elif src.sha256_prefix is not None:
        if not sha256.startswith(src.sha256_prefix.lower()):
            return "", f"sha256 {sha256} does not start with {src.sha256_prefix}"
        passed.append("sha256 prefix")
    if src.md5 is not None:
        if md5 != src.md5.lower():
            return "", f"md5 {md5}, expected {src.md5}"
        passed.append("md5")
    return ", ".join(passed), ""


def download(
    source: Union[Source, str], cache: PathLike, *, progress: Optional[ProgressFn] = None, timeout: float = 60.0,
    partial: bool = False,
) -> Downloaded:
    """Fetch a known source into ``cache``: resumable, verified, atomic.

    Bytes go to ``<file>.part`` (a rerun resumes it with a Range request); the file
    is checked against every published size/checksum of the source, deleted on a
    mismatch (nothing is cached), and renamed into place only when it passes.
    Safetensors sources marked ``ranged`` fetch only the conv tensors and store a
    compact conv-only file (``partial``: accept a remote file with only conv1_1…convK,
    for tests). A file already cached is not fetched again.
    """
    src = get_source(source) if isinstance(source, str) else source
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    dest = cached_path(src, cache)
    if not dest.is_file():
        if src.ranged:
            _download_ranged(src, dest, progress, timeout, partial)
        else:
            part = dest.with_name(dest.name + ".part")
            _fetch_to(src.url, part, progress, timeout, src.size)
            sha256, md5 = file_digests(part)
            _, problem = _verify(src, part.stat().st_size, sha256, md5)
            if problem:
                part.unlink()
                raise InputError(
                    f"download of {src.name} is corrupt: {problem}; nothing was cached",
                    "run the command again; if it fails again, the file upstream has changed.",
                )
            os.replace(part, dest)
    sha256, md5 = file_digests(dest)
    passed, problem = ("", "") if src.ranged else _verify(src, dest.stat().st_size, sha256, md5)
    if problem:
        raise InputError(f"cached {dest} does not match {src.name}: {problem}", f"delete it and download again.")
    return Downloaded(dest, sha256, passed)


def _fetch_range(url: str, start: int, end: int, timeout: float) -> bytes:
    """Bytes ``start``…``end`` (inclusive) of ``url``; the server must honour Range."""
    try:
        with _open(url, timeout, start=start, end=end) as resp:
            if resp.status != 206:
                raise InputError(f"{url} does not support range requests", "download the whole file and import it.")
            data = resp.read()
    except InputError:
        raise
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _network_error(url, exc) from None
    if len(data) != end - start + 1:
        raise _network_error(url, EOFError(f"got {len(data)} of {end - start + 1} bytes"))
    return data


class _Planned(NamedTuple):
    name: str  # tensor name in the remote file
    start: int  # absolute byte offsets in the remote file
    end: int  # exclusive


def _conv_plan(header: Mapping[str, Mapping[str, Any]], data_start: int, partial: bool = False) -> list[_Planned]:
    """The remote conv tensors (torchvision naming) to fetch, in file order."""
    convs = _layers_to_read(lambda conv: TORCH_KEYS[conv][0] in header, partial, "the remote safetensors file")
    names = [k for conv in convs for k in TORCH_KEYS[conv]]
    missing = [n for n in names if n not in header]
    if missing:
        raise InputError(f"the remote safetensors file lacks {missing[0]}", "it is not a torchvision-named VGG19.")
    plan = [_Planned(n, data_start + header[n]["data_offsets"][0], data_start + header[n]["data_offsets"][1]) for n in names]
    return sorted(plan, key=lambda p: p.start)


def _runs(plan: Sequence[_Planned]) -> list[tuple[int, int]]:
    """Contiguous byte ranges covering ``plan`` (adjacent tensors share one request)."""
    runs: list[tuple[int, int]] = []
    for item in plan:
        if runs and runs[-1][1] == item.start:
            runs[-1] = (runs[-1][0], item.end)
        else:
            runs.append((item.start, item.end))
    return runs


def _download_ranged(
    src: Source, dest: Path, progress: Optional[ProgressFn], timeout: float, partial: bool = False
) -> None:
    """Fetch only the conv tensors of a remote safetensors file and write them, in
    doodle's layout with the source's preprocessing, to ``dest``.

    The tensors' bytes accumulate in ``dest.part`` in plan order, so an interrupted
    fetch resumes; ``dest.part.json`` remembers which remote header they belong to.
    """
    (n,) = struct.unpack("<Q", _fetch_range(src.url, 0, 7, timeout))
    if n > _ST_MAX_HEADER:
        raise InputError(f"{src.url} is not a safetensors file")
    head = _fetch_range(src.url, 0, 8 + n - 1, timeout)
    header, _, data_start = parse_safetensors_header(head, src.url)
    plan = _conv_plan(header, data_start, partial)
    runs = _runs(plan)
    total = sum(e - s for s, e in runs)

    part = dest.with_name(dest.name + ".part")
    state = dest.with_name(dest.name + ".part.json")
    stamp = json.dumps({"url": src.url, "header": hashlib.sha256(head).hexdigest()})
    if not state.is_file() or state.read_text() != stamp:
        part.unlink(missing_ok=True)
        state.write_text(stamp)
    have = part.stat().st_size if part.exists() else 0
    if have > total:
        part.unlink()
        have = 0
    done = 0
    with open(part, "ab") as out:
        if progress:
            progress(have, total)
        for start, end in runs:
            length = end - start
            if done + length <= have:
                done += length
                continue
            skip = max(0, have - done)
            pos = start + skip
            while pos < end:  # in pieces, so progress moves and memory stays small
                stop = min(end, pos + (8 << 20))
                out.write(_fetch_range(src.url, pos, stop - 1, timeout))
                out.flush()
                have += stop - pos
                pos = stop
                if progress:
                    progress(have, total)
            done += length

    # Rebuild tensors from the part file, in plan order.
    blob = part.read_bytes()
    if len(blob) != total:
        raise InputError(f"download of {src.name} is incomplete", "run the command again: it resumes.")
    tensors, offset = {}, 0
    positions = {}
    for start, end in runs:
        positions[start] = offset
        offset += end - start
    run_of = {}
    for start, end in runs:
        for item in plan:
            if start <= item.start and item.end <= end:
                run_of[item.name] = positions[start] + item.start - start
    for item in plan:
        at = run_of[item.name]
        tensors[item.name] = _decode_st(item.name, header[item.name], blob[at : at + item.end - item.start], src.url)
    params = params_from_torch(tensors, partial=partial)
    meta = metadata_for(CONVENTIONS[src.convention], src.convention, source=src.name, source_url=src.url)
    tmp = dest.with_name(dest.name + ".tmp")
    write_safetensors(tmp, export_tensors(params), meta)
    os.replace(tmp, dest)
    part.unlink()
    state.unlink()
