"""Values as strict JSON takes them (the log, the provenance record, batch records).

Apart from :mod:`doodle.run.reporting` so that reading a painting's record (``doodle
info``) needs neither numpy nor the reporting machinery.
"""
from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path
from typing import Any, Mapping


def jsonable(value: Any) -> Any:
    """``value`` with tuples as lists, paths as strings and NaN/inf as null.

    Strict JSON has no NaN: ``json.dumps`` would write a bare ``NaN`` that jq and
    most parsers reject, so a diverged loss becomes null instead.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    numpy = sys.modules.get("numpy")  # a numpy scalar exists only once numpy is imported
    if numpy is not None and isinstance(value, numpy.generic):
        return jsonable(value.item())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    return str(value)
