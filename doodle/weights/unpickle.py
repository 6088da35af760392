"""Restricted unpickling: the only way doodle reads a pickle.

Weight files in pickle formats (neural-doodle's, PyTorch's) need only a handful of
globals to rebuild their arrays. The unpickler here resolves exactly those a
reader allows and refuses everything else before it runs, so a malicious file
cannot call anything; every failure, refused or corrupt, is an InputError.
"""
from __future__ import annotations

import importlib
import pickle
from typing import Any, BinaryIO, Mapping, NamedTuple

import numpy as np

from doodle.errors import InputError
from doodle.weights.raw import corrupt


class Refused(pickle.UnpicklingError):
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
        raise Refused("numpy object arrays")
    return dtype


def codecs_encode(text: Any, encoding: str = "utf-8") -> bytes:
    """Protocol-2 pickles spell ``bytes`` as ``_codecs.encode(str, "latin1")``."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise Refused("_codecs.encode with other than (str, 'latin1')")
    return text.encode("latin1")


class _Marker(NamedTuple):
    """Stands for a global the pickle may name but never call (immutable: BUILD cannot alter it)."""

    name: str


_NDARRAY = _Marker("numpy.ndarray")


def numpy_globals() -> dict[tuple[str, str], Any]:
    """The globals a pickle of numpy arrays needs: arrays rebuilt, never called freely."""
    reconstruct = _numpy_attr("multiarray._reconstruct")
    frombuffer = _numpy_attr("numeric._frombuffer")

    def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
        # numpy pickles an array as _reconstruct(ndarray, (0,), b"b") then BUILD. The
        # pickle only gets a marker for ndarray, so it can never call ndarray(...)
        # itself (shape, buffer, strides of its choosing).
        if subtype is not _NDARRAY:
            raise Refused("numpy _reconstruct of something other than ndarray")
        return reconstruct(np.ndarray, shape, dtype)

    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): _NDARRAY,
        ("numpy", "dtype"): _safe_dtype,
        ("_codecs", "encode"): codecs_encode,
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
            raise Refused(f"{module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        # A method delegating, not an instance attribute: the C unpickler binds
        # persistent_load when __init__ runs.
        if self._persistent is None:
            raise Refused("persistent references")
        return self._persistent(pid)


def refusal(what: str, exc: Refused) -> InputError:
    """The InputError a refused pickle becomes (readers that catch Refused themselves use it too)."""
    return InputError(
        f"refused to load {what}: its pickle asks for {exc}, which weight files never need",
        "only arrays are read from pickles; the file may be malicious, or it is not a weight file.",
    )


def unpickle(file: BinaryIO, allowed: Mapping[tuple[str, str], Any], what: str, persistent_load: Any = None) -> Any:
    """One pickle from ``file`` through the allowlist; every failure is an InputError."""
    try:
        return _RestrictedUnpickler(file, allowed, persistent_load).load()
    except Refused as exc:
        raise refusal(what, exc) from None
    except InputError:
        raise
    except Exception as exc:  # truncated/corrupt data raises almost anything
        raise corrupt(what, exc) from None
