"""A painting's provenance on the command line: read it from the image, turn it into
the ``doodle paint`` arguments that repaint it, and ``paint --like`` (those
arguments, with the ones given on the command line instead)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Collection, Mapping

import click

from doodle.errors import InputError

# Each input role's flag, and the paint argument that holds it.
FLAGS = {"style": ("--style", "style"), "style_map": ("--style-map", "style_map"),
         "content": ("--content", "content"), "map": ("--map", "target_map")}
# The seed image is the `seed` option's value; the weights file the `weights` option's.
ARGUMENT_OF = {**{role: key for role, (_, key) in FLAGS.items()}, "seed": "seed", "weights": "weights"}
REPAINTED = ("painting", "resources")  # the concerns --like repeats; reporting is the new run's own


def read_record(painting: str) -> dict[str, Any]:
    """The provenance record of the image ``painting``; InputError when it is no
    image, or carries none."""
    from doodle.io import image_text, imaging
    from doodle.run import provenance

    data = imaging.read_file(painting, "painting")
    try:
        fields = image_text.read_fields(data)
    except ValueError:
        raise InputError(f"painting {painting!r} is not a readable image.", "Give a PNG, JPEG, WebP or TIFF "
                         "file that doodle painted.") from None
    record = provenance.from_fields(fields)
    if record is None:
        raise InputError(f"painting {painting!r} does not say how it was made (no doodle provenance in it).",
                         "doodle writes it into every painting unless given --no-metadata; an image re-saved "
                         "by another program loses it.")
    return record


def arguments(record: Mapping[str, Any]) -> list[str]:
    """The ``doodle paint`` arguments (without -o) that repaint the painting of
    ``record``: its inputs by path, and every painting and resource option that is
    not at its default."""
    from doodle.cli.options import flag_arguments
    from doodle.plan.options import LIBRARY_ONLY
    from doodle.plan.options import CONCERN_OF, DEFAULTS
    from doodle.io.jsonable import jsonable

    args: list[str] = []
    for item in record["inputs"]:
        if item["role"] in FLAGS:
            args += [FLAGS[item["role"]][0], item["path"]]
    defaults = DEFAULTS.flat()
    for name, value in record["options"].items():
        if CONCERN_OF.get(name) in REPAINTED and name not in LIBRARY_ONLY and value != jsonable(defaults[name]):
            args += flag_arguments(name, tuple(value) if isinstance(value, list) else value)
    return args


def repainted_name(painting: str) -> str:
    """Where the command ``doodle info`` prints writes: beside the painting, not over it."""
    p = Path(painting)
    return str(p.with_name(f"{p.stem}-repainted{p.suffix or '.png'}"))


def merge(command: click.Command, kw: Mapping[str, Any], defaults: Collection[str]) -> tuple[dict, set, list[str]]:
    """``paint --like PAINTING``: (the arguments, those left at their defaults,
    warnings). The painting's arguments, each replaced by one given on the command
    line; InputError naming an input whose file changed since (its sha256), unless
    --allow-changed-inputs (then a warning)."""
    from doodle.run import provenance

    painting = kw["like"]
    record = read_record(painting)
    # Under the running command's context: a context of its own would make click cache
    # the command's help option without the group's -h.
    ctx = command.make_context(command.name, arguments(record), parent=click.get_current_context(silent=True))
    source = click.core.ParameterSource.DEFAULT
    from_record = {k for k in ctx.params if ctx.get_parameter_source(k) != source}
    merged = dict(kw)
    for key in from_record & set(defaults):
        merged[key] = ctx.params[key]
    unchecked = {role for role, key in ARGUMENT_OF.items() if key not in defaults}
    warnings = []
    for item, now in provenance.changed_inputs(record, set(ARGUMENT_OF) - unchecked):
        what = f"{item['role'].replace('_', ' ')} {item['path']!r}"
        how = "is missing" if now is None else \
            f"has changed (sha256 {now[:12]}…, painted with {item['sha256'][:12]}…)"
        if now is None:
            raise InputError(f"{what} {how} (read by {painting!r}).",
                             "Restore it, or give that input on the command line.")
        if not kw.get("allow_changed_inputs"):
            raise InputError(f"{what} {how} since {painting!r} was painted.",
                             "Restore it, give that input on the command line, or pass --allow-changed-inputs "
                             "to repaint with it as it is now.")
        warnings.append(f"{what} {how}; repainting with it as it is now (--allow-changed-inputs).")
    return merged, set(defaults) - from_record, warnings
