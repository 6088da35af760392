""".npz in doodle's own layout (``conv1_1.kernel`` HWIO …), its metadata in an array
named ``__doodle__``. Pickled content is refused: numpy never unpickles here."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from doodle.errors import InputError
from doodle.weights.layout import NPZ_META_KEY, PathLike
from doodle.weights.raw import corrupt


def read_npz(path: PathLike) -> tuple[dict[str, np.ndarray], Optional[str]]:
    """(arrays, doodle metadata JSON or None) of an ``.npz``; pickled content refused."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files if k != NPZ_META_KEY}
            meta = str(z[NPZ_META_KEY][()]) if NPZ_META_KEY in z.files else None
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise InputError(f"refused to load {path.name}: it holds pickled objects", "weight files hold numbers only.") from None
        raise InputError(f"{path.name} is corrupt or truncated ({exc})", "download it again.") from None
    except Exception as exc:  # numpy's header parser raises SyntaxError, TokenError… on damaged files
        raise corrupt(path.name, exc) from None
    return arrays, meta
