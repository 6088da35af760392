"""A painting's provenance: how it was made, as a plain JSON-able record.

The record holds the doodle and JAX versions, the device, the extractor ("built-in",
or the weights file's name and sha256), every option (the effective ones: the
random seed and the output size filled in), each input file's role, path as given,
size (bytes and pixels) and sha256, and each phase's size, evaluations and final loss.

The record holds no timings: the same inputs, options and seed on the same machine
and software give a byte-identical file, so a repainting can be checked with ``cmp``.
The seconds each phase took go to ``--log-json`` instead. Paintings of earlier
versions carry them in a second field (:data:`TIMING`), which is still read.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

RECORD, TIMING = "doodle", "doodle-timing"  # the text fields' names (TIMING: read, no longer written)
FORMAT = 1  # the record's layout; bumped when a key changes meaning
ROLES = ("style", "style_map", "content", "map", "seed")  # the inputs' roles, in order


def input_paths(inputs: Mapping[str, Any], seed: str) -> list[tuple[str, str]]:
    """(role, path) of every input file of a painting, from :attr:`doodle.run.api.Prepared.inputs`
    and the ``seed`` option (a path unless auto, noise or content). Arrays given
    through the API have no file and are left out."""
    found = []
    sources = dict(inputs, seed=None if seed in ("auto", "noise", "content") else seed)
    for role in ROLES:
        value = sources.get(role)
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, (str, Path)):
                found.append((role, str(item)))
    return found


def sha256_of(path: str | Path) -> str:
    """The hex sha256 of a file's bytes."""
    from doodle.weights.catalog import file_digests

    return file_digests(path)[0]


def file_record(role: str, path: str) -> dict[str, Any]:
    """One input: its role, path as given, size in bytes and pixels, and sha256."""
    from PIL import Image

    try:
        with Image.open(path) as image:  # the header only
            pixels: Optional[list[int]] = list(image.size)
    except Exception:  # read by imageio, not Pillow: the record goes without
        pixels = None
    return {"role": role, "path": path, "bytes": Path(path).stat().st_size, "pixels": pixels,
            "sha256": sha256_of(path)}


def build(*, version: str, jax_version: str, device: str, extractor: Mapping[str, Any],
          options: Mapping[str, Any], inputs: Sequence[Mapping[str, Any]],
          phases: Iterable[Mapping[str, Any]]) -> dict:
    """The record of a finished painting; ``phases`` as the
    :class:`~doodle.run.reporting.Reporter` keeps them (their seconds left out), ``options`` flat."""
    return {
        "format": FORMAT,
        "doodle": version,
        "jax": jax_version,
        "device": device,
        "extractor": dict(extractor),
        "options": dict(options),
        "random_seed": options.get("random_seed"),
        "inputs": [dict(i) for i in inputs],
        "phases": [{k: v for k, v in p.items() if k != "seconds"} for p in phases],
    }


def to_fields(record: Mapping[str, Any]) -> dict[str, str]:
    """The text field of ``record``, as canonical ASCII JSON (sorted keys, no spaces)."""
    from doodle.io.jsonable import jsonable

    def dump(value):
        return json.dumps(jsonable(value), ensure_ascii=True, sort_keys=True, separators=(",", ":"),
                          allow_nan=False)

    return {RECORD: dump(record)}


def from_fields(fields: Mapping[str, str]) -> Optional[dict[str, Any]]:
    """The record (with the timings of an earlier version's painting under "timing",
    else None there) from an image's text fields; None when there is none, or it is
    no doodle record."""
    try:
        record = json.loads(fields[RECORD])
        timing = json.loads(fields[TIMING]) if TIMING in fields else None
    except (KeyError, ValueError):
        return None
    if not isinstance(record, dict) or "options" not in record or "inputs" not in record:
        return None
    return dict(record, timing=timing)


def changed_inputs(record: Mapping[str, Any], roles: Iterable[str]) -> list[tuple[dict, Optional[str]]]:
    """The recorded inputs of ``roles`` (and the weights file, for the role "weights")
    whose file is gone or whose sha256 is not the recorded one: (input, its sha256
    now, None when it is missing)."""
    changed = []
    extractor = record.get("extractor") or {}
    weights = [{"role": "weights", "path": extractor["file"], "sha256": extractor.get("sha256")}] \
        if "file" in extractor else []
    for item in list(record["inputs"]) + weights:
        if item["role"] not in roles:
            continue
        try:
            now: Optional[str] = sha256_of(item["path"])
        except OSError:
            now = None
        if now != item["sha256"]:
            changed.append((item, now))
    return changed


def extractor_record(name: str, weights_file: Optional[Path]) -> dict[str, Any]:
    """The extractor: {"name": "built-in"}, or the weights file's name, path and sha256."""
    if weights_file is None:
        return {"name": "built-in"}
    from doodle.weights.discover import sha256_of as remembered_sha256  # hashed once per file version

    return {"name": name, "file": str(weights_file), "sha256": remembered_sha256(weights_file)}
