"""What PyTorch pickles hold, rebuilt without torch.

All of torch.save's layouts pickle the checkpoint's object (a state dict) with
tensors standing for ``torch._utils._rebuild_tensor*`` calls over storages named by
persistent ids. Here those calls build :class:`TensorRef` records (storage key,
offset, size, stride, dtype) instead of tensors; :func:`materialize` copies one out
of its storage's bytes once the layout has found them. The allowlist
(:func:`torch_globals`) names every global a checkpoint may use.
"""
from __future__ import annotations

import collections
import math
import re
from typing import Any, Callable, Collection, Mapping, NamedTuple, Optional

import numpy as np

from doodle.errors import InputError
from doodle.weights.raw import BFLOAT16, bfloat16_to_float32, itemsize
from doodle.weights.unpickle import Refused, codecs_encode

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


class TorchType(NamedTuple):
    """What a ``torch.FloatStorage`` / ``torch.float32`` global stands for (immutable:
    a pickle's BUILD cannot alter it)."""

    dtype: Optional[str]  # numpy code, or None for UntypedStorage (bytes)


class StorageRef(NamedTuple):
    key: str  # name of the storage's bytes (zip entry data/<key>, or legacy key)
    dtype: Optional[str]  # element type; None: untyped bytes
    offset: int  # in elements of dtype (legacy views), else 0


class TensorRef(NamedTuple):
    storage: StorageRef
    offset: int  # in elements
    size: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: str


def _ints(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise Refused(f"a tensor {what} that is not a tuple of ints")
    return tuple(value)


def tensor_ref(storage: Any, offset: Any, size: Any, stride: Any, dtype: Optional[str]) -> TensorRef:
    """A checked TensorRef from what a pickle passed (anything it passes may be a lie)."""
    if not isinstance(storage, StorageRef):
        raise Refused("a tensor built from something other than a storage")
    if not isinstance(offset, int) or offset < 0:
        raise Refused("a negative tensor offset")
    dtype = dtype or storage.dtype
    if dtype is None:
        raise Refused("an untyped tensor")
    size, stride = _ints(size, "size"), _ints(stride, "stride")
    if len(size) != len(stride) or any(s < 0 for s in size + stride):
        raise Refused("a tensor with a malformed size or stride")
    return TensorRef(storage, offset, size, stride, dtype)


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any) -> TensorRef:
    """torch._utils._rebuild_tensor (torch < 0.4)."""
    return tensor_ref(storage, storage_offset, size, stride, None)


def _rebuild_tensor_v2(storage: Any, storage_offset: Any, size: Any, stride: Any, *_: Any, **__: Any) -> TensorRef:
    """torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])."""
    return tensor_ref(storage, storage_offset, size, stride, None)


def _rebuild_tensor_v3(
    storage: Any, storage_offset: Any, size: Any, stride: Any, requires_grad: Any = False,
    backward_hooks: Any = None, dtype: Any = None, *_: Any, **__: Any,
) -> TensorRef:
    """torch._utils._rebuild_tensor_v3: the dtype is an argument (with untyped storages)."""
    if not isinstance(dtype, TorchType) or dtype.dtype is None:
        raise Refused("a tensor without a known dtype")
    return tensor_ref(storage, storage_offset, size, stride, dtype.dtype)


def _rebuild_parameter(data: Any, *_: Any, **__: Any) -> Any:
    """torch._utils._rebuild_parameter: a Parameter is its data here."""
    if not isinstance(data, TensorRef):
        raise Refused("a parameter that is not a tensor")
    return data


class TarKey(NamedTuple):
    """A tensor named by key in torch's tar layout (resolved once its metadata is read)."""

    key: str


def torch_globals() -> dict[tuple[str, str], Any]:
    """Every global a state dict's pickle may name, in any of torch.save's layouts."""
    allowed: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch", "UntypedStorage"): TorchType(None),
        ("torch.storage", "UntypedStorage"): TorchType(None),
        ("_codecs", "encode"): codecs_encode,
    }
    for name, code in _TORCH_STORAGE_DTYPES.items():
        allowed[("torch", name)] = TorchType(code)
        allowed[("torch.cuda", name)] = TorchType(code)  # saved from a GPU: same bytes
    for name, code in _TORCH_DTYPES.items():
        allowed[("torch", name)] = TorchType(code)
    for name, code in _TORCH_STORAGE_DTYPES.items():  # tar layout names tensor types too
        tensor = name.replace("Storage", "Tensor")
        allowed[("torch", tensor)] = allowed[("torch.cuda", tensor)] = TorchType(code)
    return allowed


def storage_key(value: Any) -> str:
    """A storage/tensor key as a string (keys are ints in the tar layout, strings since)."""
    if isinstance(value, bytes):
        value = value.decode("latin1")
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise Refused("a malformed storage key")
    value = str(value)
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", value):
        raise Refused("a malformed storage key")
    return value


def storage_from_pid(pid: Any, storages: dict[str, tuple[Optional[str], int]]) -> StorageRef:
    """Resolve ``('storage', type, key, location, numel[, view])``; records each root storage."""
    if not isinstance(pid, tuple) or len(pid) not in (5, 6):
        raise Refused("a persistent reference that is not a storage")
    kind, storage_type, key, _location, numel = pid[:5]
    if isinstance(kind, bytes):
        kind = kind.decode("latin1")
    if kind != "storage" or not isinstance(storage_type, TorchType):
        raise Refused("a persistent reference that is not a storage")
    key = storage_key(key)
    if not isinstance(numel, int) or numel < 0:
        raise Refused("a malformed storage reference")
    storages.setdefault(key, (storage_type.dtype, numel))
    offset = 0
    view = pid[5] if len(pid) == 6 else None
    if view is not None:  # legacy views: (view_key, offset, size) into the root storage
        if not isinstance(view, tuple) or len(view) != 3 or not isinstance(view[1], int) or view[1] < 0:
            raise Refused("a malformed storage view")
        offset = view[1]
    return StorageRef(key, storage_type.dtype, offset)


def materialize(ref: TensorRef, data: bytes, big_endian: bool = False) -> np.ndarray:
    """The array ``ref`` describes, copied out of its storage's bytes; bounds-checked
    (a lying size or stride must never read outside ``data``)."""
    width = itemsize(ref.dtype)
    start = (ref.storage.offset + ref.offset) * width
    if ref.storage.dtype is not None and itemsize(ref.storage.dtype) != width:
        raise InputError("a tensor's dtype does not match its storage", "the file is corrupt.")
    available = (len(data) - start) // width if start <= len(data) else -1
    count = math.prod(ref.size)  # Python ints: a corrupt size must not overflow
    last = sum((n - 1) * s for n, s in zip(ref.size, ref.stride)) if count else -1
    if available < 0 or last >= available:
        raise InputError("a tensor reaches past the end of its storage", "the file is corrupt or truncated.")
    raw_dtype = np.dtype("<u2") if ref.dtype == BFLOAT16 else np.dtype(ref.dtype)
    if big_endian:
        raw_dtype = raw_dtype.newbyteorder(">")
    flat = np.frombuffer(data, dtype=raw_dtype, count=max(available, 0) if count else 0, offset=start)
    if count == 0:
        return np.zeros(ref.size, raw_dtype.newbyteorder("="))
    view = np.lib.stride_tricks.as_strided(
        flat, shape=ref.size, strides=tuple(s * width for s in ref.stride), writeable=False
    )
    array = np.array(view, dtype=raw_dtype.newbyteorder("="))
    if ref.dtype == BFLOAT16:
        array = bfloat16_to_float32(array)
    return array


def state_dict(obj: Any, what: str, resolve: Callable[[Any], Any] = lambda v: v) -> dict[str, TensorRef]:
    """The ``{name: tensor}`` mapping in an unpickled checkpoint (``resolve`` maps
    placeholders to tensors)."""
    tensors = (TensorRef, TarKey)
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
        if isinstance(key, str) and isinstance(value, TensorRef):
            state[key[len("module."):] if key.startswith("module.") else key] = value
    return state


def wanted_only(state: Mapping[str, TensorRef], wanted: Optional[Collection[str]]) -> dict[str, TensorRef]:
    """The tensors of ``state`` named in ``wanted`` (all of them when None)."""
    return {k: v for k, v in state.items() if wanted is None or k in wanted}


def materialize_all(
    state: Mapping[str, TensorRef], storage_bytes: Callable[[str, str], bytes], big_endian: bool = False
) -> dict[str, np.ndarray]:
    """Every tensor of ``state`` as an array. ``storage_bytes(tensor name, storage key)``
    finds a storage's bytes in the layout; each storage is asked for once, however
    many tensors view it."""
    blobs: dict[str, bytes] = {}
    out = {}
    for name, ref in state.items():
        key = ref.storage.key
        if key not in blobs:
            blobs[key] = storage_bytes(name, key)
        out[name] = materialize(ref, blobs[key], big_endian)
    return out
