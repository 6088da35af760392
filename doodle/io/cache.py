"""doodle's cache folder: one place for everything doodle keeps between runs.

Downloaded and imported weights (:mod:`doodle.weights`), the built-in extractor's
calibration means (``builtin/``) and JAX's compiled programs (``jax/``) all live
here, so there is one folder to find, or delete. Painting never needs it: a folder
that cannot keep anything only costs time (:func:`cache_problem` says why).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional


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
