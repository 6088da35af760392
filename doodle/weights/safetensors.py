"""safetensors: an 8-byte header length, a JSON header, then raw little-endian tensors.

Two namings are read: timm's (as torchvision's, ``features.0.weight`` …) and
doodle's own (``conv1_1.kernel`` HWIO, preprocessing in the header's
``__metadata__``), which is also what doodle writes. Offsets and sizes in the
header are checked before a byte of data is read.
"""
from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any, Collection, Mapping, Optional

import numpy as np

from doodle.errors import InputError
from doodle.weights.layout import PathLike
from doodle.weights.raw import BFLOAT16, bfloat16_to_float32, itemsize

_DTYPES = {"F32": "<f4", "F16": "<f2", "BF16": BFLOAT16, "F64": "<f8"}
_CODES = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.float64): "F64"}
# Refused beyond this: a header is a few kB, a corrupt length must not be allocated.
MAX_HEADER = 100 * 2**20


def parse_safetensors_header(head: bytes, what: str = "the file") -> tuple[dict[str, dict], dict[str, str], int]:
    """(tensors, metadata, data start) from the first bytes of a safetensors file.

    ``head`` must hold the 8-byte length and the whole JSON header.
    """
    if len(head) < 8:
        raise InputError(f"{what} is truncated (no safetensors header)")
    (n,) = struct.unpack("<Q", head[:8])
    if n > MAX_HEADER or len(head) < 8 + n:
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
        if not _entry_ok(entry):
            raise InputError(f"{what} has a corrupt safetensors entry for {name!r}")
    return header, {str(k): str(v) for k, v in metadata.items()}, 8 + n


def _entry_ok(entry: Any) -> bool:
    """Whether a header entry is ``{"dtype": str, "shape": [int ≥ 0], "data_offsets": [begin ≤ end]}``."""
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("dtype"), str)
        and isinstance(entry.get("shape"), list)
        and all(isinstance(d, int) and d >= 0 for d in entry["shape"])
        and isinstance(entry.get("data_offsets"), list)
        and len(entry["data_offsets"]) == 2
        and all(isinstance(o, int) and o >= 0 for o in entry["data_offsets"])
        and entry["data_offsets"][0] <= entry["data_offsets"][1]
    )


def decode_tensor(name: str, entry: Mapping[str, Any], data: bytes, what: str) -> np.ndarray:
    """One safetensors tensor from its raw little-endian bytes."""
    code = _DTYPES.get(entry["dtype"])
    if code is None:
        raise InputError(f"tensor {name} in {what} has unsupported dtype {entry['dtype']}", "use F32, F16 or BF16.")
    shape = tuple(entry["shape"])
    count = math.prod(shape)
    if len(data) != count * itemsize(code):
        raise InputError(f"tensor {name} in {what} has {len(data)} bytes for shape {shape}", "the file is corrupt.")
    if code == BFLOAT16:
        return bfloat16_to_float32(np.frombuffer(data, "<u2")).reshape(shape)
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
        if n > min(MAX_HEADER, size):
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
            tensors[name] = decode_tensor(name, entry, f.read(end - begin), what)
    return tensors, metadata


def write_safetensors(path: PathLike, tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> None:
    """Write ``tensors`` (float32/float16/float64, in the given order) as safetensors."""
    header: dict[str, Any] = {"__metadata__": dict(metadata)} if metadata else {}
    offset = 0
    arrays = []
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        code = _CODES.get(array.dtype.newbyteorder("="))
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
