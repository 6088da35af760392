"""What a finished painting was painted from, so that a rerun can skip it.

Beside each output ``out/a.png`` a batch writes ``out/a.png.doodle.json``: the digest
of the painting's checked inputs and options (:func:`digest`), the random seed and
doodle's version. A rerun skips a job whose output exists and whose record holds
the digest the job has now; any change of an input's pixels, an option or the seed
paints it again.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Optional



from doodle.core.memo import array_key

SUFFIX = ".doodle.json"


def digest(problem: Any, options: Any) -> str:
    """sha256 of a painting: the arrays of its :class:`~doodle.core.problem.Problem` (styles,
    maps as snapped, content, seed image; what the painting is made from, wherever it
    came from) and every option, the random seed among them (None, when the job left
    it to chance, matches any seed), and doodle's version."""
    from doodle import __version__
    from doodle.io.jsonable import jsonable

    h = hashlib.sha256()
    _feed(h, tuple(problem))
    h.update(json.dumps(jsonable(dataclasses.asdict(options)), sort_keys=True).encode())
    h.update(__version__.encode())
    return h.hexdigest()


def _feed(h: Any, value: Any) -> None:
    if value is None:
        h.update(b"none;")
    elif isinstance(value, (tuple, list)):
        h.update(b"(")
        for v in value:
            _feed(h, v)
        h.update(b");")
    elif isinstance(value, (int, float, str)):
        h.update(repr(value).encode() + b";")
    else:
        h.update(repr(array_key(value)).encode() + b";")


def path_of(output: str | os.PathLike) -> Path:
    """The record beside ``output``."""
    p = Path(output)
    return p.with_name(p.name + SUFFIX)


def write(output: str | os.PathLike, digest_: str, random_seed: int) -> None:
    """Write the record of a finished painting (atomically; after the image itself,
    so a record never vouches for an image that is not there)."""
    from doodle import __version__
    from doodle.io import imaging

    text = json.dumps({"digest": digest_, "random_seed": random_seed, "version": __version__}, indent=1)
    imaging.write_bytes(path_of(output), (text + "\n").encode())


def finished(output: str | os.PathLike, digest_: str) -> Optional[int]:
    """The random seed of the painting at ``output`` if it exists and was painted from
    ``digest_``; None when it has to be painted (missing, changed, no record)."""
    try:
        if not Path(output).is_file():
            return None
        record = json.loads(path_of(output).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("digest") != digest_:
        return None
    seed = record.get("random_seed")
    return seed if isinstance(seed, int) else None
