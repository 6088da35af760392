"""``doodle batch --workers N``: N local processes, each painting one job at a time.

Each worker is a fresh Python process (spawned: JAX does not survive a fork) with its
own extractor, compiled programs and style passes (:class:`~doodle.batch.cache.Shared`).
It takes a task over its pipe, paints it, writes the output and its record, and sends
the :class:`~doodle.batch.run.JobResult` back. The parent knows which task each worker
holds, so a worker that dies (killed, out of memory) has its task given to a fresh
worker, up to ``retries`` more times; then that job fails and the others go on.
"""
from __future__ import annotations

import collections
import dataclasses
import multiprocessing
import signal
import sys
import threading
from multiprocessing import connection
from typing import Any, Callable, Optional, Sequence

from doodle.batch.cache import Shared
from doodle.batch.run import FAILED, JobResult, Notice, Task, paint_task


class Workers:
    """Paint on ``n`` local worker processes. ``initializer`` runs first in each (the
    command line's JAX set-up: the device, the compile cache); it must be picklable."""

    def __init__(self, n: int, initializer: Optional[Callable[[], None]] = None, retries: int = 2) -> None:
        if n < 1:
            raise ValueError("Workers needs at least one worker")
        self.n, self.initializer, self.retries = n, initializer, retries

    def run(self, tasks: Sequence[Task], done: Callable[[JobResult], None], notice: Notice = lambda s: None) -> None:
        context = multiprocessing.get_context("spawn")
        queue = collections.deque((task, 1) for task in tasks)  # (task, the how-many-th try)
        workers: list[_Worker] = []
        idle: list[_Worker] = []
        busy: dict[_Worker, tuple[Task, int]] = {}
        try:
            while queue or busy:
                while queue and (idle or len(workers) < self.n):
                    if not idle:
                        workers.append(_Worker(context, self.initializer))
                        idle.append(workers[-1])
                    worker, (task, tries) = idle.pop(), queue.popleft()
                    busy[worker] = (task, tries)
                    worker.give(task)
                ready = set(connection.wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
                for worker in [w for w in busy if w.conn in ready or w.process.sentinel in ready]:
                    task, tries = busy.pop(worker)
                    result = worker.result()
                    if result is not None:
                        done(dataclasses.replace(result, attempts=tries))
                        idle.append(worker)
                        continue
                    workers.remove(worker)
                    code = worker.close()
                    if tries <= self.retries:
                        notice(f"line {task.job.line}: its worker died (exit code {code}); painting it again")
                        queue.appendleft((task, tries + 1))
                    else:
                        done(JobResult(task.index, task.job.line, task.job.output, FAILED, attempts=tries,
                                       random_seed=task.random_seed,
                                       error=f"its worker died on each of {tries} tries (last exit code {code})."))
        except BaseException:
            for worker in workers:
                worker.close(stop=True)
            raise
        for worker in workers:
            worker.close()


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, context: Any, initializer: Optional[Callable[[], None]]) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, initializer), daemon=True)
        # Ctrl-C goes to the whole process group: the parent alone handles it and stops
        # the workers, so none dies halfway through a write. A worker is born with
        # SIGINT ignored (an ignored signal stays ignored across exec).
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            self.process.start()
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)
        child.close()

    def give(self, task: Task) -> None:
        try:
            self.conn.send(task)
        except OSError:  # it died already: result() says so
            pass

    def result(self) -> Optional[JobResult]:
        """Its task's result, or None when it died without one."""
        try:
            if self.conn.poll():
                return self.conn.recv()
        except (EOFError, OSError):
            pass
        return None

    def close(self, stop: bool = False) -> Optional[int]:
        """End the process (``stop``: now, SIGTERM, which a worker turns into a clean
        exit; else once it has read its last task); its exit code."""
        if stop:
            self.process.terminate()
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()
        return self.process.exitcode


def _serve(conn: Any, initializer: Optional[Callable[[], None]]) -> None:
    """A worker's life: set up, then paint each task received until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # unwinds: no half-written file
    if initializer is not None:
        initializer()
    shared = Shared()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if task is None:
            return
        try:
            conn.send(paint_task(task, shared))
        except (BrokenPipeError, OSError):
            return
