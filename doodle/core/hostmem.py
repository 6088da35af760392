"""Giving the memory a process has freed back to the system (glibc's ``malloc_trim``).

On a CPU, XLA allocates each evaluation's buffers with the C library's ``malloc``
and frees them after. glibc keeps much of what is freed for reuse rather than
returning it, so a long run's peak RSS grows past what any one evaluation holds
alive: a whole 3-phase run peaked 25–30 % above its first evaluations
(bench/RESULTS.md). Trimming at each matching keeps the run near the latter, for a
few per cent more time (pages handed back are faulted in again).
"""
from __future__ import annotations

import ctypes
import functools
from typing import Callable, Optional


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Optional[Callable[[int], int]]:
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library the process already uses
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to call
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release() -> bool:
    """Return freed heap memory to the system; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def available() -> bool:
    """Whether :func:`release` can do anything here (glibc)."""
    return _malloc_trim() is not None
