"""``doodle batch --ray auto|ADDRESS``: each painting a Ray task on an existing cluster.

Ray schedules: each task asks for one GPU where the cluster has GPUs (``num_gpus=1``),
else ``num_cpus`` CPUs, and Ray retries a task whose worker or node died (up to
``retries`` more times, its ``max_retries``). The driver prepares each job where its
files are and ships the arrays through Ray's object store, each style image and
style map once however many jobs use it. A Ray worker process keeps its extractor,
compiled programs and style passes between tasks (:class:`~doodle.batch.cache.Shared`).
Paintings come back to the driver, which writes them; with ``shared_out`` (``doodle
batch --out-dir`` on a folder every node sees at the same path) the workers write
them themselves. Ray is an optional extra: ``pip install 'doodle[ray]'``.
"""
from __future__ import annotations

import os
from typing import Any, Callable, NamedTuple, Optional, Sequence

from doodle.batch.cache import Shared
from doodle.core.memo import array_key
from doodle.batch.run import (FAILED, PAINTED, JobResult, Notice, Task, attempt, failure, input_records,
                              paint_prepared, prepare_job, save)
from doodle.errors import InputError

INSTALL = "pip install 'doodle[ray]' (from a checkout: pip install -e '.[ray]')"


def require_ray() -> Any:
    """The ray module; InputError (exit 2) saying how to install it when it is missing."""
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs Ray, which is not installed.", f"Install it: {INSTALL}.") from None
    return ray


class Ray:
    """Paint on a Ray cluster (``address``: "auto", "HOST:PORT", "ray://…"; ignored when
    this process is already connected). ``initializer`` runs once in each worker
    process before its first painting (picklable)."""

    def __init__(self, address: str = "auto", *, shared_out: bool = False,
                 initializer: Optional[Callable[[], None]] = None, retries: int = 2, num_cpus: float = 1,
                 window: Optional[int] = None) -> None:
        self.address, self.shared_out, self.initializer = address, shared_out, initializer
        self.retries, self.num_cpus, self.window = retries, num_cpus, window

    def run(self, tasks: Sequence[Task], done: Callable[[JobResult], None], notice: Notice = lambda s: None) -> None:
        ray = require_ray()
        connected_here = not ray.is_initialized()
        if connected_here:
            try:
                ray.init(address=self.address, logging_level="error", log_to_driver=False)
            except (ConnectionError, ValueError, RuntimeError) as e:
                raise InputError(f"cannot reach the Ray cluster at {self.address!r}: {e}",
                                 "Start one (ray start --head) or give its address.") from None
        pending: dict[Any, Task] = {}
        try:
            resources = ray.cluster_resources()
            gpus = resources.get("GPU", 0)
            wants = {"num_gpus": 1} if gpus >= 1 else {"num_cpus": self.num_cpus}
            # Ray sets OMP_NUM_THREADS to a task's CPUs, and numpy's BLAS then sums the
            # distribution terms' projections in another order than a plain `doodle
            # paint` on that machine would (another picture, by a level here and
            # there). The workers get the driver's setting; empty (unset) leaves BLAS
            # its default, as in a shell.
            threads = {"env_vars": {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "")}}
            remote = ray.remote(_paint_remote).options(max_retries=self.retries, runtime_env=threads, **wants)
            slots = int(gpus) if gpus >= 1 else int(resources.get("CPU", 1) // self.num_cpus)
            window = self.window or max(2, 2 * slots)  # prepared and shipped ahead, not all at once
            puts: dict[tuple, Any] = {}

            def put(array: Any) -> Any:
                key = array_key(array)
                if key not in puts:
                    puts[key] = ray.put(array)
                return puts[key]

            for task in tasks:
                while len(pending) >= window:
                    done(_collect(ray, pending))
                try:
                    prepared = prepare_job(task.job)
                    files = input_records(prepared)  # here, where the files are
                except Exception as e:  # its files changed since the batch was checked
                    done(JobResult(task.index, task.job.line, task.job.output, FAILED, error=failure(e),
                                   random_seed=task.random_seed))
                    continue
                skeleton, args = _split(prepared.problem, put)
                ref = remote.remote(self.initializer, task, prepared.options, files, skeleton, self.shared_out, *args)
                pending[ref] = task
            while pending:
                done(_collect(ray, pending))
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        finally:
            if connected_here:
                ray.shutdown()


def _collect(ray: Any, pending: dict) -> JobResult:
    """Wait for any task to end; its result, its painting written here if it came back."""
    ready, _ = ray.wait(list(pending), num_returns=1)
    task = pending.pop(ready[0])
    try:
        result, image, text = ray.get(ready[0])
    except ray.exceptions.RayError as e:  # its worker or node died on every try, or it was cancelled
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return JobResult(task.index, task.job.line, task.job.output, FAILED, error=f"Ray: {reason}",
                         random_seed=task.random_seed, attempts=1)
    if image is not None:
        written = attempt(task, lambda: save(task, image, text), result.worker)
        if written.status != PAINTED:
            return written
    return result


class _Slot(NamedTuple):
    """Where an array of a problem sent to Ray went: the index of its task argument."""

    index: int


def _split(problem: Any, put: Callable[[Any], Any]) -> tuple[Any, list]:
    """(the problem with its arrays replaced by :class:`_Slot`, the task's arguments):
    styles and style maps as object-store references (``put``: once each), the rest as
    values."""
    args: list = []

    def slot(value: Any, shared: bool) -> Any:
        if isinstance(value, tuple):
            return tuple(slot(v, shared) for v in value)
        if value is None or not hasattr(value, "shape"):
            return value
        args.append(put(value) if shared else value)
        return _Slot(len(args) - 1)

    skeleton = problem._replace(style=slot(problem.style, True), style_map=slot(problem.style_map, True),
                                content=slot(problem.content, False), target_map=slot(problem.target_map, False),
                                seed=slot(problem.seed, False))
    return skeleton, args


def _fill(skeleton: Any, arrays: Sequence[Any]) -> Any:
    def fill(value: Any) -> Any:
        if isinstance(value, _Slot):
            return arrays[value.index]
        if isinstance(value, tuple):
            return tuple(fill(v) for v in value)
        return value

    return skeleton._replace(**{k: fill(getattr(skeleton, k)) for k in ("style", "style_map", "content",
                                                                       "target_map", "seed")})


_SHARED: Optional[Shared] = None  # a Ray worker process's shared state, kept between its tasks


def _paint_remote(initializer: Optional[Callable[[], None]], task: Task, options: Any, files: Optional[list],
                  skeleton: Any, write: bool, *arrays: Any) -> tuple[JobResult, Any, Any]:
    """The Ray task: paint one prepared job; (its result, and unless written here the
    image and its provenance fields)."""
    global _SHARED
    import ray

    if _SHARED is None:
        if initializer is not None:
            initializer()
        _SHARED = Shared()
    shared, problem, out = _SHARED, _fill(skeleton, arrays), {}

    def paint() -> None:
        out["image"], out["text"] = paint_prepared(problem, options, task.random_seed, shared, files)
        if write:
            save(task, out["image"], out["text"])

    result = attempt(task, paint, f"node {ray.get_runtime_context().get_node_id()[:12]}")
    return result, (None if write else out.get("image")), (None if write else out.get("text"))
