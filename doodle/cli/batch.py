"""``doodle batch``: many paintings in one run (click only: parsing, printing, exit codes).

The work is :func:`doodle.batch.paint_many`'s; this module reads the jobs, picks the
executor, draws the batch's progress on stderr and writes ``--log-json``. Its option
flags are ``doodle paint``'s, generated from the same Options fields
(:mod:`doodle.cli.options`): given here, they apply to every job that does not set
its own. Errors become their line and exit code through :mod:`doodle.cli.errors`.
"""
from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional, TextIO

import click

from doodle.cli import log as logs
from doodle.cli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, print_error
from doodle.cli.options import concern_options, defaulted, field_option
from doodle.cli.runtime import setup_jax
from doodle.cli.signals import Terminated, signals_as_interrupts
from doodle.errors import DoodleError, InputError, OptionError, error_line
from doodle.plan.options import CONCERNS, DEFAULTS
from doodle.run.reporting import Messages, format_duration

EPILOG = """\b
JOBS is a JSON Lines file (or - for stdin), one object per painting whose keys
are doodle paint's long option names with underscores; relative paths resolve
against the file's folder:
  {"style": "meadow", "map": "a_sem.png", "output": "out/a.png", "random_seed": 1}
  {"style": ["Monet.jpg", "seascape"], "map": "b_sem.png", "output": "out/b.png",
   "iterations": 50, "output_size": "320x240"}
Or the shorthand, a job per doodle (and per seed):
  doodle batch --style meadow --map 'doodles/*_sem.png' --out-dir out/ --seeds 1,2
doodle paint's option flags given here (--iterations 50) apply to every job that
does not set that option itself.
\b
A rerun skips paintings whose output and record (OUTPUT.doodle.json) match the
job; --force paints them again.
\b
Exit codes: 0 every job painted (or up to date), 1 some failed or were invalid,
2 bad batch or usage, 130 interrupted (finished paintings are kept).
"""


def job_options(f: Any) -> Any:
    """``doodle paint``'s flags of the Options fields a job may set (the painting and
    resource fields, --metadata), generated as ``paint``'s are, in the same order."""
    import dataclasses
    import typing

    from doodle.batch.jobs import option_keys

    keys, hints = option_keys(), typing.get_type_hints(CONCERNS["reporting"])
    reporting = [field_option(field, hints[field.name]) for field in dataclasses.fields(CONCERNS["reporting"])
                 if field.name in keys]
    for option in reversed(concern_options("painting") + concern_options("resources") + reporting):
        f = option(f)
    return f


@click.command("batch", epilog=EPILOG)
@click.argument("jobs_file", metavar="[JOBS]", required=False)
@click.option("--style", multiple=True, help="Shorthand: the style (image or pack) of every job; repeat to pool.")
@click.option("--map", "map_glob", metavar="GLOB", help="Shorthand: the doodles, a quoted glob: 'doodles/*_sem.png'.")
@click.option("--out-dir", metavar="DIR",
              help="Where outputs go (shorthand: DIR/NAME.png; JOBS: relative outputs resolve here). With --ray, "
              "a folder every node sees at the same path: the workers write there.")
@click.option("--seeds", metavar="N,N,…", help="Shorthand: paint each doodle once per random seed, as NAME-N.png.")
@click.option("--workers", type=int, help="Paint on N local worker processes [default: in this process].")
@click.option("--ray", "ray_address", metavar="auto|ADDRESS",
              help="Paint each job as a task on a running Ray cluster (needs the ray extra).")
@click.option("--ray-cpus", type=float, default=1.0, show_default=True,
              help="CPUs each Ray task asks for where the cluster has no GPU (with GPUs: one GPU each).")
@click.option("--force", is_flag=True, help="Paint every job, even those whose output is up to date.")
@click.option("--strict", is_flag=True, help="Refuse the whole batch (exit 2) if any job is invalid.")
@click.option("--log-json", metavar="FILE|-", help="JSON Lines: a record per job, then a summary. '-': stdout.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@click.option("--compile-cache/--no-compile-cache", default=True, show_default=True,
              help="Keep compiled programs in the cache folder for faster starts.")
@job_options
def batch(**kw: Any) -> None:
    """Paint many doodles: a JSON Lines file of jobs, or a glob of doodles in one style.

    One process paints the jobs one after another, sharing the extractor, the compiled
    programs and each style's prepared patches; --workers N spreads them over N local
    processes, --ray over a Ray cluster.
    """
    sys.exit(run_batch(kw, defaulted(kw)))


def run_batch(kw: dict, unset: set = frozenset()) -> int:
    """The body of ``doodle batch``: its exit code. ``unset``: the arguments left at
    their defaults (their option flags set nothing)."""
    from doodle.batch import FAILED, INVALID, InvalidBatch, paint_many

    reporter = BatchReporter(quiet=kw["quiet"])
    try:
        jobs, where = read_batch(kw, unset)
        executor = make_executor(kw, jobs)
        log = logs.open_log(kw["log_json"]) if kw["log_json"] else None
    except DoodleError as e:
        print_error(e)
        return e.exit_code
    reporter.where, reporter.log = where, log
    code, error = EXIT_OK, None
    with signals_as_interrupts():
        try:
            setup_jax(_device(jobs), kw["compile_cache"], reporter)
            results = paint_many(jobs, executor, force=kw["force"], strict=kw["strict"], progress=reporter,
                                 notice=reporter.notice)
            code = EXIT_FAILURE if any(r.status in (FAILED, INVALID) for r in results) else EXIT_OK
        except InvalidBatch as e:
            for result in e.results:
                reporter.report(result)
            code, error = EXIT_USAGE, print_error(e, reporter)
        except KeyboardInterrupt as e:
            code = 128 + e.signum if isinstance(e, Terminated) else EXIT_INTERRUPTED
            error = "interrupted" if code == EXIT_INTERRUPTED else f"terminated ({e})"
            reporter.break_line()
            click.echo(f"doodle: {error}; finished paintings are kept, a rerun paints the rest", err=True)
        except DoodleError as e:  # the Ray cluster cannot be reached, say
            code, error = e.exit_code, print_error(e, reporter)
        reporter.finish(code, error, _executor_name(kw))
    failed = getattr(log, "failed", None)
    if failed is not None and code == EXIT_OK:  # painted, but the log is incomplete
        print_error(logs.log_error(kw["log_json"], failed), reporter)
        code = EXIT_FAILURE
    return code


def read_batch(kw: dict, unset: set = frozenset()) -> tuple[list, str]:
    """(the jobs: :class:`~doodle.batch.Job` or :class:`~doodle.batch.JobError` each, the
    name that reports use for where they came from). InputError for bad usage."""
    from doodle.batch import glob_jobs, read_jobs

    shorthand = kw["style"] or kw["map_glob"] or kw["seeds"]
    if kw["jobs_file"] is not None and shorthand:
        raise InputError("give either a JOBS file or the shorthand (--style, --map, --seeds), not both.",
                         "See doodle batch --help.")
    if kw["workers"] is not None and kw["ray_address"] is not None:
        raise InputError("--workers and --ray both say where to paint.", "Give one of them.")
    if kw["workers"] is not None and kw["workers"] < 1:
        raise InputError(f"--workers must be at least 1, got {kw['workers']}.", "Leave it out to paint here.")
    if not 0 < kw["ray_cpus"] < float("inf"):
        raise InputError(f"--ray-cpus must be positive, got {kw['ray_cpus']:g}.", "Use e.g. --ray-cpus 2.")
    defaults = flag_defaults(kw, unset)
    out_dir = kw["out_dir"]
    if out_dir is not None:
        try:
            os.makedirs(out_dir, exist_ok=True)
        except OSError as e:
            raise InputError(f"--out-dir {out_dir!r} cannot be created: {e.strerror}.",
                             "Choose another folder.") from None
    if not shorthand:
        if kw["jobs_file"] is None:
            raise InputError("no jobs: give a JOBS file, - for stdin, or the shorthand --style S --map GLOB "
                             "--out-dir DIR.", "See doodle batch --help.")
        jobs = read_jobs(*_lines(kw["jobs_file"]), defaults, out_dir)
        if not jobs:
            raise InputError(f"{_name(kw['jobs_file'])} holds no job.", "Write one JSON object per line.")
        return jobs, _name(kw["jobs_file"])
    if not (kw["style"] and kw["map_glob"] and out_dir):
        raise InputError("the shorthand needs --style, --map and --out-dir.",
                         "E.g. doodle batch --style meadow --map 'doodles/*_sem.png' --out-dir out/.")
    seeds: list[Optional[int]] = [None]
    if kw["seeds"]:
        try:
            seeds = [int(s) for s in kw["seeds"].split(",")]
        except ValueError:
            raise InputError(f"--seeds {kw['seeds']!r} is not a list of whole numbers.", "Use e.g. --seeds 1,2,3.") \
                from None
    return glob_jobs(kw["style"], kw["map_glob"], out_dir, seeds, defaults), "--map"


def flag_defaults(kw: dict, unset: set) -> dict[str, Any]:
    """The option flags given, as typed fields for every job that does not set its
    own (read as ``doodle paint`` reads them; a seed image's path made absolute, as a
    job's is); InputError naming the flag."""
    from doodle.batch.jobs import JobError, convert_options, option_keys
    from doodle.cli.options import options_from
    from doodle.plan.text import TEXT
    from doodle.plan.options import Options, validate

    given = {k: kw[k] for k in option_keys() if k in kw and k not in unset}
    texts = {k: v for k, v in given.items() if k in TEXT}
    parsed = options_from(texts).flat()  # InputError naming the flag
    try:
        fields = {**{k: parsed[k] for k in texts},
                  **convert_options({k: v for k, v in given.items() if k not in TEXT}, Path.cwd())}
        validate(Options.of(**fields))
    except JobError as e:
        raise InputError(f"--{e.field.replace('_', '-')} {e.reason}") from None
    except OptionError as e:
        raise e.as_flag() from None
    return fields


def _name(jobs_file: str) -> str:
    return "stdin" if jobs_file == "-" else jobs_file


def _lines(jobs_file: str) -> tuple[list[str], Path]:
    """(the JOBS file's lines, the folder its relative paths resolve against)."""
    if jobs_file == "-":
        return sys.stdin.read().splitlines(), Path.cwd()
    try:
        text = Path(jobs_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or str(e)
        raise InputError(f"cannot read the jobs file {jobs_file!r}: {reason}.", "Check the path.") from None
    return text.splitlines(), Path(jobs_file).resolve().parent


def make_executor(kw: dict, jobs: list) -> Any:
    """In this process, ``--workers N`` or ``--ray``; the worker processes set JAX up as
    this one does (device, compile cache)."""
    from doodle.batch import InProcess, Ray, Workers
    from doodle.batch.on_ray import require_ray

    setup = functools.partial(setup_jax, _device(jobs), kw["compile_cache"])
    if kw["ray_address"] is not None:
        require_ray()  # exit 2 with how to install it, before anything starts
        return Ray(kw["ray_address"], shared_out=kw["out_dir"] is not None, initializer=setup,
                   num_cpus=kw["ray_cpus"])
    if kw["workers"] is not None:
        return Workers(kw["workers"], initializer=setup)
    return InProcess()


def _executor_name(kw: dict) -> str:
    if kw["ray_address"] is not None:
        return f"ray {kw['ray_address']}"
    return f"{kw['workers']} workers" if kw["workers"] is not None else "in-process"


def _device(jobs: list) -> str:
    """JAX's platform for the batch: the CPU when every job asks for it, else auto."""
    from doodle.batch import Job

    devices = {job.get("device", DEFAULTS.resources.device) for job in jobs if isinstance(job, Job)}
    return "cpu" if devices == {"cpu"} else "auto"


class BatchReporter(Messages):
    """The batch's progress on stderr: one bar redrawn in place on a terminal (done,
    failed, left, paintings per minute, ETA), a plain line per job otherwise; failed and
    invalid jobs always get a line. ``log``: a JSON Lines record per job and a summary."""

    def __init__(self, *, quiet: bool = False, stream: Optional[TextIO] = None, tty: Optional[bool] = None,
                 where: str = "", log: Any = None) -> None:
        super().__init__(stream, tty, quiet)
        self.where, self.log = where, log
        self.last: Any = None  # the latest BatchProgress
        self.started = time.perf_counter()

    def __call__(self, progress: Any) -> None:
        self.last = progress
        if progress.last is not None:
            self.report(progress.last, progress)
        if self.tty and not self.quiet:
            self._bar(progress)

    def report(self, result: Any, progress: Any = None) -> None:
        """A job's line (errors even when quiet) and its --log-json record."""
        from doodle.batch import FAILED, INVALID, SKIPPED

        if self.log is not None:
            self.log.write({"event": "job", **{k: getattr(result, k) for k in (
                "line", "status", "output", "seconds", "error", "field", "random_seed", "attempts", "worker")}})
        where = f"{self.where} line {result.line}" + (f" ({result.output})" if result.output else "")
        if result.status in (FAILED, INVALID):
            self.break_line()
            field = f"{result.field}: " if result.field else ""
            what = "invalid" if result.status == INVALID else "failed"
            self._write(error_line(f"{where} {what}: {field}{result.error}") + "\n")
        elif not self.quiet and not self.tty and progress is not None:
            done = progress.total - progress.remaining
            rate = f" ({progress.per_minute:.2f}/min, ETA {format_duration(progress.eta)})" if progress.painted else ""
            verb = "up to date:" if result.status == SKIPPED else f"painted in {result.seconds:.1f}s:"
            self._write(f"doodle: [{done}/{progress.total}] {verb} {result.output}{rate}\n")

    def _bar(self, p: Any) -> None:
        done = p.total - p.remaining
        width = 20
        filled = width * done // max(p.total, 1)
        self._write(f"\rbatch [{'#' * filled}{'.' * (width - filled)}] {done}/{p.total}  painted {p.painted}  "
                    f"skipped {p.skipped}  failed {p.failed}  left {p.remaining}  {p.per_minute:.2f}/min  "
                    f"ETA {format_duration(p.eta)}\x1b[K")
        self._bar_open = True

    def finish(self, code: int, error: Optional[str], executor: str) -> None:
        """The closing line, and the log's summary."""
        p = self.last
        seconds = time.perf_counter() - self.started
        self.break_line()
        if p is not None and not self.quiet:
            self._write(f"doodle: of {p.total} jobs {p.painted} painted, {p.skipped} up to date, "
                        f"{p.failed - p.invalid} failed, {p.invalid} invalid, {p.remaining} not painted, in "
                        f"{format_duration(seconds)} ({p.per_minute:.2f} paintings/min)\n")
        if self.log is not None:
            counts = {k: getattr(p, k, 0) for k in ("total", "painted", "skipped", "failed", "invalid", "remaining")}
            self.log.write({"event": "summary", "exit_status": code, "error": error, **counts,
                            "per_minute": round(p.per_minute, 3) if p is not None else 0.0,
                            "seconds": round(seconds, 3), "executor": executor})
            self.log.close()

