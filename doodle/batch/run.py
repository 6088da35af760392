"""Painting a batch: check every job, skip the finished ones, paint the rest.

:func:`paint_many` is the one orchestration behind ``doodle batch`` and the Python
API. Each job goes through :func:`doodle.run.api.prepare`, as ``doodle paint`` does,
before any painting starts; a job that cannot be painted is reported and left out (or
the batch refused, ``strict``). The rest go to an executor (:class:`InProcess`,
:class:`doodle.batch.workers.Workers`, :class:`doodle.batch.on_ray.Ray`), which paints
each through :func:`paint_prepared` and hands back a :class:`JobResult` as each ends.
Nothing here prints: progress goes to a callback, as a :class:`BatchProgress`.
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Any, Callable, Iterable, Mapping, Optional, Protocol, Sequence, Union

import numpy as np

from doodle.batch import record
from doodle.batch.cache import Shared
from doodle.batch.jobs import Job, JobError, job_from_dict, job_options
from doodle.errors import DoodleError, InputError, OptionError
from doodle.run import render

PAINTED, SKIPPED, FAILED, INVALID = "painted", "skipped", "failed", "invalid"

Notice = Callable[[str], None]
Entry = Union[Job, JobError, Mapping[str, Any]]


@dataclasses.dataclass(frozen=True)
class JobResult:
    """How one job ended: ``status`` is "painted", "skipped" (its output and record are
    up to date), "failed" (it ran and failed: ``error`` says why) or "invalid" (refused
    before painting: ``field`` names the key at fault, where one is)."""

    index: int  # position in the batch, 0-based
    line: int  # the JOBS file's line
    output: Optional[str]
    status: str
    seconds: float = 0.0
    error: Optional[str] = None
    field: Optional[str] = None
    random_seed: Optional[int] = None
    attempts: int = 0  # paintings started: 1, or more when a worker died
    worker: str = ""  # where it was painted: "pid 123", a Ray node's id


@dataclasses.dataclass(frozen=True)
class BatchProgress:
    """The batch so far, after each job ends (``last``; None as painting starts)."""

    total: int
    painted: int
    skipped: int
    failed: int  # failed and invalid
    invalid: int  # of which invalid
    seconds: float  # since painting started
    last: Optional[JobResult] = None

    @property
    def remaining(self) -> int:
        return self.total - self.painted - self.skipped - self.failed

    @property
    def per_minute(self) -> float:
        """Paintings finished per minute (skipped jobs do not count)."""
        return 60.0 * self.painted / self.seconds if self.seconds > 0 else 0.0

    @property
    def eta(self) -> float:
        """Seconds until the last job is done at the rate so far (NaN before a job ends)."""
        rate = self.per_minute
        return 60.0 * self.remaining / rate if rate > 0 else (0.0 if self.remaining == 0 else math.nan)


@dataclasses.dataclass(frozen=True)
class Task:
    """A checked job an executor paints: its random seed is fixed (drawn here when the
    job leaves it to chance, so a retry paints the same picture) and ``digest`` is what
    its record will say it was painted from."""

    index: int
    job: Job
    random_seed: int
    digest: str


class Executor(Protocol):
    def run(self, tasks: Sequence[Task], done: Callable[[JobResult], None], notice: Notice) -> None:
        """Paint ``tasks`` (any order), calling ``done`` with each one's result as it ends."""


class InvalidBatch(InputError):
    """A ``strict`` batch with invalid jobs (exit 2); ``results`` lists them."""

    def __init__(self, results: Sequence[JobResult]) -> None:
        super().__init__(f"{len(results)} of the jobs are invalid; nothing was painted.",
                         "Fix them, or drop --strict to paint the others.")
        self.results = list(results)


def paint_many(jobs: Iterable[Entry], executor: Optional[Executor] = None, *, force: bool = False,
               strict: bool = False, progress: Optional[Callable[[BatchProgress], None]] = None,
               notice: Notice = lambda s: None) -> list[JobResult]:
    """Paint every job; a :class:`JobResult` per job, in the jobs' order.

    ``jobs``: :class:`~doodle.batch.jobs.Job`, JSON-like dicts (paths relative to the
    working directory) or the :class:`~doodle.batch.jobs.JobError` of a line that did
    not parse. ``executor``: default :class:`InProcess`. Every job is checked first
    (:func:`check`); ``strict`` raises :class:`InvalidBatch` if any is invalid. A job
    whose output exists with a matching record is skipped unless ``force``. Each output
    is written atomically as its painting ends, then its record. A KeyboardInterrupt
    stops the batch (finished outputs stay) and is raised again.
    """
    jobs = list(jobs)
    tasks, early = check(jobs, force=force, notice=notice)
    if strict and any(r.status == INVALID for r in early):
        raise InvalidBatch([r for r in early if r.status == INVALID])
    tally = Tally(len(jobs), progress)
    for result in early:
        tally(result)
    tally.start()
    (executor or InProcess()).run(tasks, tally, notice)
    return sorted(tally.results, key=lambda r: r.index)


class Tally:
    """Collects results and tells ``progress`` after each."""

    def __init__(self, total: int, progress: Optional[Callable[[BatchProgress], None]]) -> None:
        self.total, self.progress = total, progress or (lambda p: None)
        self.results: list[JobResult] = []
        self.started = time.perf_counter()

    def start(self) -> None:
        self.started = time.perf_counter()
        self.progress(self.snapshot(None))

    def snapshot(self, last: Optional[JobResult]) -> BatchProgress:
        counts = {s: sum(r.status == s for r in self.results) for s in (PAINTED, SKIPPED, FAILED, INVALID)}
        return BatchProgress(self.total, counts[PAINTED], counts[SKIPPED], counts[FAILED] + counts[INVALID],
                             counts[INVALID], time.perf_counter() - self.started, last)

    def __call__(self, result: JobResult) -> None:
        self.results.append(result)
        self.progress(self.snapshot(result))


def check(jobs: Sequence[Entry], *, force: bool = False,
          notice: Notice = lambda s: None) -> tuple[list[Task], list[JobResult]]:
    """(the tasks to paint, the results of the jobs that need no painting: invalid or
    finished). Each job is prepared as ``doodle paint`` would prepare it (its files read,
    its maps checked, its output's folder probed), and no two may write one output."""
    tasks: list[Task] = []
    early: list[JobResult] = []
    outputs: dict[str, int] = {}  # output path -> line of the job writing it
    for index, entry in enumerate(jobs):
        job = entry
        try:
            if isinstance(entry, Mapping):
                job = job_from_dict(entry, index + 1)
            if isinstance(job, JobError):
                raise job
            _check_files(job)
            prepared = prepare_job(job, lambda s, line=job.line: notice(f"line {line}: {s}"))
            _check_output(job, prepared, outputs)
        except DoodleError as e:
            early.append(invalid(index, e, job if isinstance(job, Job) else None))
            continue
        outputs[_same(job.output)] = job.line
        digest = record.digest(prepared.problem, prepared.options)
        seed = None if force else record.finished(job.output, digest)
        if seed is not None:
            early.append(JobResult(index, job.line, job.output, SKIPPED, random_seed=seed))
            continue
        drawn = prepared.options.painting.random_seed
        tasks.append(Task(index, job, drawn if drawn is not None else render.fresh_seed(), digest))
    return tasks, early


def invalid(index: int, e: DoodleError, job: Optional[Job] = None) -> JobResult:
    """The result of a job refused before painting, with the key at fault where known."""
    line = job.line if job is not None else getattr(e, "line", index + 1)
    output = job.output if job is not None else None
    if isinstance(e, JobError):
        return JobResult(index, line, output, INVALID, error=e.reason, field=e.field)
    if isinstance(e, OptionError):
        return JobResult(index, line, output, INVALID, error=f"{e.problem} {e.hint}".strip(), field=e.field)
    return JobResult(index, line, output, INVALID, error=str(e))


def _check_files(job: Job) -> None:
    """JobError naming the key whose file does not exist (styles that are pack names
    are left to the pack lookup)."""
    for key in ("style", "style_map", "content", "map"):
        value = getattr(job, key)
        for path in value if isinstance(value, tuple) else (value,):
            if path is not None and os.path.isabs(path) and not os.path.exists(path):
                raise JobError(job.line, key, f"{path!r} does not exist.")


def _same(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _check_output(job: Job, prepared: Any, outputs: Mapping[str, int]) -> None:
    """JobError when the output is another job's or one of this painting's inputs."""
    target = _same(job.output)
    if target in outputs:
        raise JobError(job.line, "output", f"{job.output!r} is also the output of line {outputs[target]}.")
    from doodle.io import imaging

    for key in ("style", "style_map", "content", "map"):
        value = prepared.inputs.get(key)
        if imaging.overwritten(job.output, value if isinstance(value, (tuple, list)) else (value,)) is not None:
            raise JobError(job.line, "output", f"{job.output!r} is an input of this painting ({key}) and "
                           "would be overwritten.")


def prepare_job(job: Job, notice: Notice = lambda s: None) -> Any:
    """:func:`doodle.run.api.prepare` for a job, with the arguments ``doodle paint`` gives it."""
    from doodle.run import api

    options, unset = job_options(job)
    return api.prepare(job.style, style_map=job.style_map, content=job.content, target_map=job.map,
                       options=options, output=job.output, unset=unset, notice=notice)


def input_records(prepared: Any) -> Optional[list[dict]]:
    """The provenance records of a prepared job's input files (taken where the files
    are: by the driver for Ray), or None when its ``metadata`` option is off."""
    from doodle.run import stamp

    return stamp.input_records(prepared.inputs, prepared.options) if prepared.options.reporting.metadata else None


def paint_prepared(problem: Any, options: Any, random_seed: int, shared: Shared, files: Optional[list[dict]] = None,
                   notice: Notice = lambda s: None,
                   callback: Optional[Callable[[Any], None]] = None) -> tuple[np.ndarray, Optional[dict[str, str]]]:
    """Paint a prepared job with ``random_seed`` as ``doodle paint`` paints it
    (:func:`doodle.run.render.render`, with the process's shared extractor and style
    passes): (the (H, W, 3) uint8 image, the text fields of its provenance record, as
    ``doodle paint`` writes them; None without ``files``). ``callback`` also hears
    each :class:`doodle.core.synthesis.Progress` (it may raise to stop the painting)."""
    from doodle.core.problem import styles_of
    from doodle.run import render

    extractor = shared.extractor(options, notice)
    shared.programs_for((tuple(problem.size), tuple(s.shape[:2] for s in styles_of(problem))))
    done = render.render(problem, options, extractor, random_seed=random_seed, files=files, callback=callback,
                         notice=notice, memo=shared.memo)
    return done.image, done.text


def save(task: Task, image: np.ndarray, text: Optional[dict[str, str]] = None) -> None:
    """Write a painting atomically (with its provenance fields), then its record."""
    from doodle.io import imaging

    imaging.write_image(task.job.output, image, text)
    record.write(task.job.output, task.digest, task.random_seed)


def attempt(task: Task, paint: Callable[[], None], worker: str = "") -> JobResult:
    """Run ``paint`` for ``task``; its result, "failed" with the reason if it raised
    (a KeyboardInterrupt is raised again)."""
    start = time.perf_counter()
    common = dict(index=task.index, line=task.job.line, output=task.job.output, random_seed=task.random_seed,
                  attempts=1, worker=worker)
    try:
        paint()
    except Exception as e:  # recorded: one job's failure is not the batch's
        return JobResult(status=FAILED, seconds=time.perf_counter() - start, error=failure(e), **common)
    return JobResult(status=PAINTED, seconds=time.perf_counter() - start, **common)


def failure(e: BaseException) -> str:
    """One line saying why a painting failed."""
    if isinstance(e, DoodleError):
        return str(e)
    if isinstance(e, MemoryError):
        return "out of memory. Use a smaller output_size, or fewer workers."
    return f"{type(e).__name__}: {e}"  # a bug or an XLA failure


def paint_task(task: Task, shared: Shared, notice: Notice = lambda s: None) -> JobResult:
    """Prepare, paint and save one task in this process."""
    def paint() -> None:
        prepared = prepare_job(task.job)
        files = input_records(prepared)
        save(task, *paint_prepared(prepared.problem, prepared.options, task.random_seed, shared, files, notice))

    return attempt(task, paint, f"pid {os.getpid()}")


class InProcess:
    """Paint the jobs one after another in this process, sharing the extractor, the
    compiled programs and each style's network passes (:class:`~doodle.batch.cache.Shared`:
    kept with the executor, so later batches on it share them too). ``extractor``:
    use this one for every job instead of the one its ``weights`` name."""

    def __init__(self, extractor: Any = None) -> None:
        self.shared = Shared(extractor)

    def run(self, tasks: Sequence[Task], done: Callable[[JobResult], None], notice: Notice = lambda s: None) -> None:
        for task in tasks:
            done(paint_task(task, self.shared, notice))
