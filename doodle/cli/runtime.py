"""Starting JAX for a command: the platform, a clear line when it cannot start, the
persistent compile cache. All of it must precede JAX's first computation."""
from __future__ import annotations

import os
from typing import Optional

from doodle.errors import DoodleError, InputError
from doodle.run.reporting import Reporter


def start_jax(device: str) -> None:
    """Select the CPU platform for ``--device cpu``, then start JAX's backends now, so
    that a platform that cannot start is one line.

    ``JAX_PLATFORMS=cuda`` on a machine without CUDA makes JAX raise a bare
    AssertionError (an unknown name, a RuntimeError) from deep inside its first
    computation. Named by the user, it is bad input (exit 2); otherwise the machine
    failed (exit 1).
    """
    import jax

    if device == "cpu":
        jax.config.update("jax_platforms", "cpu")
    try:
        jax.devices()
    except (RuntimeError, AssertionError) as e:
        named = os.environ.get("JAX_PLATFORMS")
        if named:
            raise InputError(f"JAX cannot start the platform JAX_PLATFORMS={named!r} names on this machine"
                             + (f" ({e})" if str(e) else ""),
                             "Unset JAX_PLATFORMS, set it to cpu, or give --device cpu.") from None
        raise DoodleError(f"JAX could not start: {e or type(e).__name__}.",
                          "Check the JAX installation, or give --device cpu.") from None


def setup_jax(device: str, compile_cache: bool, reporter: Optional[Reporter] = None) -> None:
    """:func:`start_jax`, then the compile cache; a cache folder that cannot keep
    anything is said once, and the compiled programs are not kept."""
    from doodle.io import cache

    start_jax(device)
    problem = cache.cache_problem()
    if problem is not None and reporter is not None:
        reporter.warning(f"{problem}; painting without a cache (the built-in weights' calibration and compiled "
                         "programs are not kept). Set DOODLE_CACHE to a writable folder.")
    if compile_cache and problem is None:
        enable_compile_cache()


def enable_compile_cache() -> None:
    """Persist compiled XLA programs so a second run compiles (almost) nothing.

    They go to ``doodle.io.cache.cache_dir() / "jax"``, beside downloaded weights: one
    place to find, or delete, everything doodle caches.
    """
    import jax

    from doodle.io import cache

    jax.config.update("jax_compilation_cache_dir", str(cache.cache_dir() / "jax"))
    # Cache every program, however quick to compile (JAX's default skips the quick
    # ones): preparing a phase runs dozens of small ones, and caching them too makes a
    # warm start faster for little disk (bench/RESULTS.md). JAX's own environment
    # variable, when set, wins.
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
