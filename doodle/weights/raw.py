"""Raw data as the readers find it: element types, bfloat16, checked float32 copies,
and the error a damaged file becomes.

Element types are numpy dtype codes (``"<f4"``, ``"<f2"``, …) plus ``"bf16"``, which
numpy lacks: PyTorch and safetensors files both store bfloat16 weights.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from doodle.errors import InputError

BFLOAT16 = "bf16"


def itemsize(dtype: str) -> int:
    """Bytes per element of a dtype code (``"bf16"`` included)."""
    return 2 if dtype == BFLOAT16 else np.dtype(dtype).itemsize


def bfloat16_to_float32(bits: np.ndarray) -> np.ndarray:
    """float32 values of bfloat16 ``bits`` (uint16): bfloat16 is the top half of a float32."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def as_float32(array: Any, what: str) -> np.ndarray:
    """A float32 C-contiguous copy of ``array``; refuses non-numeric data."""
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiu" or array.dtype.hasobject:
        kind = getattr(array, "dtype", type(array).__name__)
        raise InputError(f"{what} is not a numeric array (it is {kind})",
                         "the weight file is not a VGG16 or VGG19 file.")
    out = np.ascontiguousarray(array, dtype=np.float32)
    if not np.all(np.isfinite(out)):
        raise InputError(f"{what} contains NaN or infinity", "the weight file is corrupt.")
    return out


def corrupt(what: str, exc: BaseException) -> InputError:
    """The error for a file a parser choked on: damaged files raise almost anything."""
    return InputError(f"{what} is corrupt or truncated ({type(exc).__name__}: {exc})", "download it again.")
