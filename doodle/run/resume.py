"""Resuming a sequence: which frames a rerun must paint, from the records in the files.

Each frame's painting carries its provenance record (:mod:`doodle.run.provenance`):
the map, styles and options it was made from. A rerun keeps the frames whose record
still matches and paints from the first that does not; each frame follows the one
before, so every frame after it is painted again. From Python::

    start = resume.first_to_paint(maps, outputs, options.flat(), styles)
    previous = imageio.v3.imread(outputs[start - 1]) if start else None
    for frame in paint_sequence(style, maps, options=options, start=start, previous=previous): ...
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

# The options that do not change a frame's picture, or are filled in per run: a
# rerun with other values of these still counts its frames as painted.
UNCOMPARED = {"random_seed", "output_size", "print_every", "save_every", "frames_dir", "metadata"}


def first_to_paint(maps: Sequence[str], outputs: Sequence[str], options: Mapping[str, Any],
                   styles: Sequence[Mapping[str, Any]]) -> int:
    """The first frame a rerun must paint: the first whose painting is missing, carries
    no provenance, or was made from another map file (its sha256), other styles, or
    other options (less :data:`UNCOMPARED`); ``len(maps)`` when every one is done.

    Each frame follows the one before, so every frame after it is repainted too.
    ``options``: the run's flat options; ``styles``: the run's style input records
    ({"role", "sha256"}, as :func:`doodle.run.provenance.file_record` makes them).
    """
    from doodle.run import provenance

    wanted_styles = sorted((s["role"], s["sha256"]) for s in styles)
    wanted = {k: v for k, v in options.items() if k not in UNCOMPARED}
    for i, (map_path, output) in enumerate(zip(maps, outputs)):
        record = _record(output)
        if record is None:
            return i
        inputs = record.get("inputs") or []
        maps_then = [x.get("sha256") for x in inputs if x.get("role") == "map"]
        styles_then = sorted((x.get("role"), x.get("sha256")) for x in inputs if x.get("role") in ("style",
                                                                                                   "style_map"))
        options_then = {k: v for k, v in (record.get("options") or {}).items() if k not in UNCOMPARED}
        if (maps_then != [provenance.sha256_of(map_path)] or styles_then != wanted_styles
                or _jsonable(options_then) != _jsonable(wanted)):
            return i
    return len(maps)


def _record(path: str) -> Optional[dict]:
    from doodle.io import image_text
    from doodle.run import provenance

    try:
        return provenance.from_fields(image_text.read_fields(Path(path).read_bytes()))
    except (OSError, ValueError):
        return None


def _jsonable(options: Mapping[str, Any]) -> str:
    import json

    from doodle.io.jsonable import jsonable

    return json.dumps(jsonable(dict(options)), sort_keys=True)
