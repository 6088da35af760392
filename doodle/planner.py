"""Memory and device: where each phase runs.

For now this chooses the device; the memory plan (slice sizes per phase from a
budget) is sized in ``patches.slice_rows_for`` from ``Options.match_memory``.
"""
from __future__ import annotations

import jax

from doodle.errors import InputError


def gpu_devices() -> list:
    """The accelerators JAX can see (empty on a CPU-only machine)."""
    try:
        return [d for d in jax.devices() if d.platform in ("gpu", "cuda", "rocm")]
    except RuntimeError:
        return []


def select_device(name: str):
    """``"cpu"``, ``"gpu"`` or ``"auto"`` (a GPU when there is one) -> a jax.Device."""
    if name == "cpu":
        return jax.devices("cpu")[0]
    gpus = gpu_devices()
    if name == "gpu":
        if not gpus:
            raise InputError("--device gpu: no GPU is visible to JAX.", "Install jax[cuda12] or use --device cpu.")
        return gpus[0]
    if name != "auto":
        raise InputError(f"unknown device {name!r}.", "Use cpu, gpu or auto.")
    return gpus[0] if gpus else jax.devices("cpu")[0]
