"""Batch jobs: what to paint, one painting each, read from JSON Lines or a glob.

A job is a JSON object whose keys are ``doodle paint``'s long option names with
underscores: the inputs (``style``, a path or a pack name or a list of them;
``style_map``, ``content``, ``map``, ``output``) and any option (``iterations``,
``random_seed``, ``output_size`` as "WxH"…). Relative paths resolve against a base
folder (the JOBS file's). Nothing here loads an image or imports JAX: a job that
parses may still fail to prepare (a missing file, maps that do not fit), which
:func:`doodle.batch.run.check` finds before any painting starts.
"""
from __future__ import annotations

import dataclasses
import glob as globbing
import json
import os
import typing
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from doodle.errors import InputError, OptionError
from doodle.plan.options import CONCERN_OF, CONCERNS, DEFAULTS, LIBRARY_ONLY, Options, validate
from doodle.plan.text import TEXT

INPUT_KEYS = ("style", "style_map", "content", "map", "output")
# The Options fields whose `doodle paint` flags are about one run's reporting, not the
# painting (a batch reports for itself: -q, --log-json; it writes no frames).
RUN_ONLY = ("print_every", "save_every", "frames_dir")
# `doodle paint`'s flags that are no Options field and no input (a batch has its own
# --force; tests/test_batch.py checks that these, the inputs and the option keys are
# all of paint's flags).
PAINT_ONLY = ("animation", "log_json", "quiet", "compile_cache", "like", "allow_changed_inputs", "force")
# Seeds that are not image paths.
SEED_WORDS = ("auto", "noise", "content")


def option_keys() -> tuple[str, ...]:
    """The option keys a job may hold: the :class:`~doodle.plan.options.Options` fields that
    ``doodle paint`` has a flag for (all but :data:`~doodle.plan.options.LIBRARY_ONLY`),
    less the run-only ones."""
    return tuple(k for k in CONCERN_OF if k not in RUN_ONLY + LIBRARY_ONLY)


@dataclasses.dataclass(frozen=True)
class Job:
    """One painting of a batch. Paths are as resolved against the base folder; a style
    that names a style pack stays its name. ``fields`` holds the options the job gives
    (typed: tuples, numbers), applied by :func:`job_options`."""

    style: tuple[str, ...]
    output: str
    style_map: Optional[tuple[Optional[str], ...]] = None
    content: Optional[str] = None
    map: Optional[str] = None  # noqa: A003 - the option's name
    fields: tuple[tuple[str, Any], ...] = ()
    line: int = 0  # the JOBS file's line (1-based), or the position in a list

    def get(self, key: str, default: Any = None) -> Any:
        """The value the job gives an option, or ``default``."""
        return dict(self.fields).get(key, default)


class JobError(InputError):
    """A job that cannot be painted: where (``line``), which key (``field``; None: the
    whole job) and why (``reason``). Raised while parsing, listed by :func:`read_jobs`."""

    def __init__(self, line: int, field: Optional[str], reason: str) -> None:
        super().__init__(f"line {line}: " + (f"{field}: " if field else "") + reason)
        self.line, self.field, self.reason = line, field, reason


def job_options(job: Job) -> tuple[Options, frozenset[str]]:
    """(the job's options, the option keys it leaves unset: a style pack's
    recommendations apply to those, as they do to flags ``doodle paint`` was not given).

    The one place a batch builds :class:`Options`: from the defaults and the fields."""
    given = dict(job.fields)
    return DEFAULTS.replace(**given), frozenset(k for k in option_keys() if k not in given)


def job_from_dict(obj: Any, line: int = 0, base: Union[str, os.PathLike, None] = None,
                  defaults: Mapping[str, Any] = {}, out_dir: Union[str, os.PathLike, None] = None) -> Job:
    """A :class:`Job` from a JSON object; :class:`JobError` naming the key at fault.

    ``base``: the folder relative paths resolve against (default: the working
    directory); ``out_dir``: the one a relative ``output`` resolves against instead.
    ``defaults``: typed option fields for keys the object does not give (``doodle
    batch``'s option flags), already converted by :func:`convert_options`.
    """
    if not isinstance(obj, Mapping):
        raise JobError(line, None, f"a job must be a JSON object, got {type(obj).__name__}.")
    folder = Path(base) if base is not None else Path.cwd()
    fields = dict(defaults)
    fields.update(convert_options({k: v for k, v in obj.items() if k not in INPUT_KEYS}, folder, line))
    for key in ("style", "output"):
        if obj.get(key) is None:
            raise JobError(line, key, "is missing." + (" Give the painting's file name." if key == "output" else ""))
    job = Job(
        style=tuple(_style(v, folder, line) for v in _strings(obj["style"], "style", line)),
        style_map=(None if obj.get("style_map") is None else
                   tuple(None if v is None else _path(v, folder) for v in _strings(obj["style_map"], "style_map",
                                                                                  line, nulls=True))),
        content=_one_path(obj, "content", folder, line),
        map=_one_path(obj, "map", folder, line),
        output=_one_path(obj, "output", Path(out_dir) if out_dir is not None else folder, line),
        fields=tuple(sorted(fields.items())),
        line=line,
    )
    try:
        validate(job_options(job)[0])
    except OptionError as e:
        raise JobError(line, e.field, f"{e.problem} {e.hint}".strip()) from None
    return job


def convert_options(values: Mapping[str, Any], base: Path, line: int = 0) -> dict[str, Any]:
    """JSON values of option keys -> typed :class:`Options` fields: "WxH", "LOW:HIGH",
    "3_1,4_1" and "8G" as ``doodle paint`` reads them, lists as tuples, and seed or
    weights files resolved against ``base``. JobError for an unknown key or a value of
    the wrong kind (ranges are checked by :func:`job_from_dict`)."""
    keys = option_keys()
    out = {}
    for key, value in values.items():
        if key in RUN_ONLY + PAINT_ONLY:
            raise JobError(line, key, "is about one run's reporting, not a painting: doodle batch takes "
                           "-q and --log-json for the whole batch.")
        if key not in keys:
            raise JobError(line, key, f"unknown key. Keys are doodle paint's long option names with underscores: "
                           f"{', '.join(INPUT_KEYS + keys)}.")
        out[key] = _option(key, value, base, line)
    return out


def _option(key: str, value: Any, base: Path, line: int) -> Any:
    """One option's JSON value as its field's type: the fields ``doodle paint`` reads
    from text ("WxH", "LOW:HIGH", "3_1,4_1", "8G") through the same parsers
    (:data:`doodle.plan.text.TEXT`), lists as tuples, files resolved against ``base``."""
    hint = _hints()[key]
    if hint is bool and not isinstance(value, bool):
        raise JobError(line, key, f"must be true or false, got {json.dumps(value)}.")
    if hint is str and not isinstance(value, str):
        raise JobError(line, key, f"must be text, got {json.dumps(value)}.")
    if key in ("style_layers", "content_layers") and isinstance(value, list):
        value = ",".join(str(v) for v in value)
    if key in TEXT and isinstance(value, str):
        try:
            return TEXT[key].parse(value, key)
        except InputError as e:
            raise JobError(line, key, str(e)) from None
    if key == "seed_range" and isinstance(value, list):
        value = [float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
    if isinstance(value, list):
        return tuple(value)
    if float in (hint, *typing.get_args(hint)) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # 0 as 0.0, as the flag gives it: the painting's record says the same
    if key == "seed" and value not in SEED_WORDS:
        return _path(value, base)
    if key == "weights" and os.path.exists(_path(value, base)):
        return _path(value, base)
    return value


def _hints() -> dict[str, Any]:
    """{flat field name: its type hint}."""
    return {name: hint for cls in CONCERNS.values() for name, hint in typing.get_type_hints(cls).items()}


def _strings(value: Any, key: str, line: int, nulls: bool = False) -> list:
    """A string or a non-empty list of strings (and None, where ``nulls``)."""
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) or (nulls and v is None) for v in values):
        raise JobError(line, key, "must be a file name or a list of them.")
    return values


def _one_path(obj: Mapping[str, Any], key: str, base: Path, line: int) -> Optional[str]:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise JobError(line, key, "must be a file name.")
    if key == "output" and value == "-":
        raise JobError(line, key, "'-' (stdout) cannot take a batch's paintings. Give a file name.")
    return _path(value, base)


def _path(value: str, base: Path) -> str:
    """An absolute path (a Ray worker or a worker process may run elsewhere)."""
    return os.path.abspath(base / os.path.expanduser(value))


def _style(value: str, base: Path, line: int) -> str:
    """A style path resolved against ``base``, or a style pack's name left as it is
    (a file of that name under ``base`` wins over the pack)."""
    from doodle.plan import packs

    path = _path(value, base)
    if os.path.exists(path) or packs.as_pack(value) is None:
        return path
    return value


def read_jobs(lines: Iterable[str], base: Union[str, os.PathLike, None] = None,
              defaults: Mapping[str, Any] = {}, out_dir: Union[str, os.PathLike, None] = None
              ) -> list[Union[Job, JobError]]:
    """Every job of a JSON Lines text, in order: a :class:`Job` per line that parses, a
    :class:`JobError` for one that does not (arguments: :func:`job_from_dict`). Blank
    lines are skipped."""
    jobs: list[Union[Job, JobError]] = []
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            jobs.append(JobError(number, None, f"not JSON: {e.msg} at column {e.colno}."))
            continue
        try:
            jobs.append(job_from_dict(obj, number, base, defaults, out_dir))
        except JobError as e:
            jobs.append(e)
    return jobs


def glob_jobs(style: Sequence[str], pattern: str, out_dir: Union[str, os.PathLike],
              seeds: Sequence[Optional[int]] = (None,), defaults: Mapping[str, Any] = {},
              suffix: str = ".png") -> list[Union[Job, JobError]]:
    """The shorthand ``doodle batch --style S --map 'doodles/*_sem.png' --out-dir out``:
    a job per doodle the glob matches (sorted) and per seed, painted in ``style`` into
    ``out_dir/NAME.png`` (``NAME-SEED.png`` with seeds), NAME being the doodle's file
    name without its semantic-map suffix. InputError when the glob matches nothing."""
    doodles = sorted(globbing.glob(os.path.expanduser(pattern), recursive=True))
    if not doodles:
        raise InputError(f"--map {pattern!r} matches no file.", "Check the pattern (quote it, so the shell leaves "
                         "it to doodle).")
    ext = dict(defaults).get("semantic_ext", DEFAULTS.painting.semantic_ext)
    jobs: list[Union[Job, JobError]] = []
    for doodle in doodles:
        name = Path(doodle).name
        stem = name[: -len(ext)] if name.endswith(ext) and len(name) > len(ext) else Path(doodle).stem
        for seed in seeds:
            name = f"{stem}{'' if seed is None else f'-{seed}'}{suffix}"
            obj: dict[str, Any] = {"style": list(style), "map": doodle, "output": os.path.join(out_dir, name)}
            if seed is not None:
                obj["random_seed"] = seed
            try:
                jobs.append(job_from_dict(obj, len(jobs) + 1, Path.cwd(), defaults))
            except JobError as e:
                jobs.append(e)
    return jobs

