"""Paintings one at a time: a queue, one painting thread, and each job's events.

Every painting goes through :func:`doodle.run.api.prepare` with files the server wrote
itself (the doodle, a content photo) and the style's pack name or kept files, then
:func:`doodle.batch.run.paint_prepared` with one :class:`doodle.batch.cache.Shared`
for the server's life, so the extractor, the compiled programs and the styles'
network passes carry over from one painting to the next, as in ``doodle batch``.

A job's events are small JSON-able dicts (what ``doodle paint`` prints: phase,
iteration, loss, ETA; a preview image every few iterations) appended to a list that
any number of readers (browser tabs) replay and follow.
"""
from __future__ import annotations

import base64
import collections
import dataclasses
import secrets
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Collection, Optional

import numpy as np

from doodle.io import imaging
from doodle.errors import DoodleError, InputError
from doodle.plan.options import Options
from doodle.run import render
from doodle.run.reporting import format_duration, seconds_per_iteration
from doodle.serve import quality as presets

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "finished", "failed", "cancelled"
ENDED = (DONE, FAILED, CANCELLED)
KEPT_JOBS = 64  # finished jobs whose images stay in memory (older ones' files stay on disk)
PREVIEW_SECONDS = 1.0  # at most one preview image this often (the first iteration's always)


class Cancelled(Exception):
    """Raised from the progress callback to stop a painting."""


@dataclasses.dataclass(frozen=True)
class Request:
    """A painting asked for: arrays in, checked already."""

    style_id: str
    doodle: np.ndarray  # (H, W, 3) uint8 in the style map's colours
    quality: str = "normal"
    output_size: Optional[tuple[int, int]] = None  # (width, height); None: the doodle's
    random_seed: Optional[int] = None
    content: Optional[np.ndarray] = None  # a photo for semantic style transfer


class Job:
    """One painting: its state, its events, and when done its PNG and its doodle's."""

    def __init__(self, request: Request, name: str) -> None:
        self.id = secrets.token_hex(8)
        self.name = name  # "painting-20260101-120000-ab12": the files' stem
        self.request = request
        self.state = QUEUED
        self.events: list[dict] = []
        self.cancel = threading.Event()
        self.painting: Optional[bytes] = None  # PNG with its provenance
        self.doodle: Optional[bytes] = None  # PNG as received
        self.lock = threading.Lock()

    def emit(self, event: dict) -> None:
        with self.lock:
            self.events.append(event)

    def since(self, index: int) -> list[dict]:
        with self.lock:
            return self.events[index:]

    def forget_previews(self) -> None:
        """Drop every preview image but the last (a finished job is replayed, not watched)."""
        with self.lock:  # copies, not edits: a reader may be writing out the old dicts now
            self.events[:-1] = [{k: v for k, v in e.items() if k != "image"} for e in self.events[:-1]]


class Painter:
    """The queue and its one painting thread.

    ``options``: the server's defaults (every ``doodle paint`` flag); ``unset``: the
    fields left at their defaults, which a style pack's recommendations fill.
    ``keep``: the folder each painting's files go to.
    """

    def __init__(self, styles: Any, options: Options, unset: Collection[str], keep: Path,
                 shared: Any = None) -> None:
        from doodle.batch.cache import Shared

        self.styles = styles
        self.options = options
        self.unset = set(unset)
        self.keep = keep
        self.shared = shared if shared is not None else Shared()
        self.jobs: dict[str, Job] = {}
        self.pending: collections.deque[Job] = collections.deque()
        self.running: Optional[Job] = None
        self.lock = threading.Condition()
        self.stopped = False
        self.dropped = False  # a painting was under way when the server stopped
        self.thread = threading.Thread(target=self._work, name="painter", daemon=True)
        self.thread.start()

    # --- the queue -----------------------------------------------------------------

    def submit(self, request: Request) -> Job:
        job = Job(request, time.strftime("painting-%Y%m%d-%H%M%S-") + secrets.token_hex(2))
        with self.lock:
            self.jobs[job.id] = job
            self.pending.append(job)
            self._trim()
            self.lock.notify()
        return job

    def get(self, job_id: str) -> Job:
        with self.lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise InputError("there is no such painting (the server was restarted, or it was long ago).",
                             "Paint it again.")
        return job

    def position(self, job: Job) -> int:
        """How many paintings are ahead of ``job``: 0 while it paints or is next with none painting."""
        with self.lock:
            if job in self.pending:
                return list(self.pending).index(job) + (self.running is not None)
            return 0

    def cancel(self, job: Job) -> None:
        """Stop ``job``: taken off the queue, or stopped at its next iteration."""
        job.cancel.set()
        with self.lock:
            if job in self.pending:
                self.pending.remove(job)
                job.state = CANCELLED
                job.emit({"event": CANCELLED})

    def stop(self) -> None:
        """Drop the painting under way and everything queued (the server is stopping)."""
        with self.lock:
            self.stopped = True
            self.dropped = self.running is not None
            for job in list(self.pending) + ([self.running] if self.running else []):
                job.cancel.set()
            self.lock.notify_all()

    def _trim(self) -> None:
        """Forget all but the last :data:`KEPT_JOBS` finished jobs (their files stay in ``keep``)."""
        ended = [j for j in self.jobs.values() if j.state in ENDED]
        for job in ended[:-KEPT_JOBS]:
            del self.jobs[job.id]

    # --- the painting thread ---------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self.lock:
                while not self.pending and not self.stopped:
                    self.lock.wait()
                if self.stopped:
                    return
                job = self.running = self.pending.popleft()
                job.state = RUNNING
            try:
                self._paint(job)
                job.state = DONE
                job.emit({"event": DONE, "painting": f"/api/jobs/{job.id}/painting.png",
                          "doodle": f"/api/jobs/{job.id}/doodle.png", "name": job.name})
            except Cancelled:
                job.state = CANCELLED
                job.emit({"event": CANCELLED})
            except DoodleError as e:
                job.state = FAILED
                job.emit({"event": FAILED, "error": str(e)})
            except Exception as e:  # a bug or an XLA failure: this painting's, not the server's
                traceback.print_exc()
                job.state = FAILED
                job.emit({"event": FAILED, "error": f"{type(e).__name__}: {e}"})
            finally:
                job.forget_previews()
                with self.lock:
                    self.running = None

    def _paint(self, job: Job) -> None:
        from doodle.run import api
        from doodle.batch.run import input_records, paint_prepared

        request = job.request
        style = self.styles.get(request.style_id)
        folder = self.keep / "paintings"
        folder.mkdir(parents=True, exist_ok=True)
        doodle_path = folder / f"{job.name}_sem.png"
        job.doodle = imaging.encode_image(request.doodle, ".png")
        imaging.write_bytes(doodle_path, job.doodle)
        content_path = None
        if request.content is not None:  # painted over the doodle drawn for it: the doodle's size
            from doodle.core.problem import resize

            content_path = folder / f"{job.name}-photo.png"
            photo = request.content
            if photo.shape[:2] != request.doodle.shape[:2]:
                photo = imaging.to_uint8(resize(photo, request.doodle.shape[:2]))
            imaging.write_image(content_path, photo)
        given = {}
        if request.output_size is not None:
            given["output_size"] = request.output_size
        if request.random_seed is not None:
            given["random_seed"] = request.random_seed
        options = self.options.replace(**given)
        notices: Callable[[str], None] = lambda text: job.emit({"event": "notice", "text": text})
        prepared = api.prepare(style.source, style_map=style.map_source, target_map=str(doodle_path),
                               content=None if content_path is None else str(content_path), options=options,
                               output=str(folder / f"{job.name}.png"), unset=self.unset - set(given),
                               notice=notices)
        options = presets.apply(prepared.options, request.quality)
        seed = render.draw_seed(options)
        files = input_records(prepared._replace(options=options))
        job.emit({"event": "start", "seed": seed, "size": [prepared.problem.size[1], prepared.problem.size[0]],
                  "phases": options.painting.phases, "iterations": options.painting.iterations})
        image, text = paint_prepared(prepared.problem, options, seed, self.shared, files, notices,
                                     callback=Progress(job))
        job.painting = imaging.encode_image(image, ".png", text)
        imaging.write_bytes(folder / f"{job.name}.png", job.painting)


class Progress:
    """A painting's progress callback: events for the page, and the cancel check."""

    def __init__(self, job: Job, clock: Callable[[], float] = time.monotonic) -> None:
        self.job = job
        self.clock = clock
        self.first: Optional[float] = None
        self.shown = -float("inf")  # when the last preview image went out
        self.told = -float("inf")  # when the last event went out

    def __call__(self, p: Any) -> None:
        if self.job.cancel.is_set():
            raise Cancelled()
        event: dict[str, Any] = {"event": p.event, "phase": p.phase, "phases": p.phases,
                                 "iteration": p.iteration, "iterations": p.iterations,
                                 "size": [p.shape[1], p.shape[0]]}
        if p.event == "phase":
            self.first = None
        if p.event == "iteration":
            if p.iteration == 1:
                self.first = p.seconds
            rate = seconds_per_iteration(p.seconds, p.iteration, self.first)
            event.update(loss=float(p.loss), rate=rate, eta=format_duration(rate * (p.iterations - p.iteration)))
        if p.event in ("skipped", "quilted") or p.message:
            event["message"] = p.message
        now = self.clock()
        wanted = p.event in ("done", "quilted") or (p.event == "iteration" and (
            p.iteration == 1 or now - self.shown >= PREVIEW_SECONDS))
        if p.image is not None and wanted:
            jpeg = imaging.encode_image(imaging.to_uint8(p.image), ".jpg")
            event["image"] = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
            self.shown = now
        # On a fast device hundreds of iterations a second would flood the page: the
        # plain iteration events are thinned to ten a second (the phase's last always).
        if p.event == "iteration" and "image" not in event and p.iteration != p.iterations \
                and now - self.told < 0.1:
            return
        self.told = now
        self.job.emit(event)
