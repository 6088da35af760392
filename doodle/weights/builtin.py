"""The built-in extractor, its calibration means kept in the cache folder.

Calibrating the built-in network is one forward pass at every start-up; its result
depends only on things that do not change between runs, so it is kept beside the
downloaded weights (``<cache>/builtin/``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from doodle.io.cache import cache_dir
from doodle.weights.layout import PathLike

if TYPE_CHECKING:  # imported lazily: `doodle weights list` should not pay for jax
    from doodle.core.extractor import Extractor


def builtin_extractor(last: str = "5_4", cache: Optional[PathLike] = None) -> "Extractor":
    """:func:`doodle.core.extractor.builtin`, its calibration means kept in the cache folder.

    The means are a function of the seed, the activation level and the numerics of
    this JAX build on this platform, so the file is named after all of them; a
    missing, unreadable or short file means calibrating again (and rewriting it).
    """
    import jax

    from doodle.core import extractor

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
