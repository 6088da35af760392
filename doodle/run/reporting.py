"""What a run tells the world: progress on stderr, a JSON log, frames and a GIF.

Plain functions and small classes that write to the file objects they are given, so
``doodle.cli`` stays click-only and each piece is testable with a ``StringIO``:

- :class:`Reporter` turns :class:`doodle.core.synthesis.Progress` events into a progress
  bar on a terminal, or plain log lines every ``--print-every`` iterations otherwise
  (a Makefile's or a CI job's log has no use for carriage returns).
- :class:`JsonLog` writes ``--log-json``: one JSON object per logged iteration, then
  one summary object; every line is flushed as it is written so ``tail -f`` follows.
- :class:`Animation` keeps frames in memory and :func:`encode_gif` assembles them at
  the output's size for ``--animation``.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, TextIO

import numpy as np

from doodle.io.imaging import to_uint8
from doodle.io.jsonable import jsonable
from doodle.plan.options import Options

# --- formatting ------------------------------------------------------------------


def should_log(iteration: int, iterations: int, every: int) -> bool:
    """Whether iteration ``iteration`` of ``iterations`` gets a log line / JSON object.

    The first (it includes compilation, so it shows when work really starts), every
    ``every``-th, and the last of the phase (its final loss); none when ``every`` is 0.
    """
    if every <= 0:
        return False
    return iteration == 1 or iteration % every == 0 or iteration == iterations


def format_duration(seconds: float) -> str:
    """7.4 -> "0:07", 3723 -> "1:02:03"; "?:??" when unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?:??"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def seconds_per_iteration(seconds: float, iteration: int, first: Optional[float]) -> float:
    """Steady-state s/it: the first evaluation includes compilation, so it is left out
    once there is a second one (otherwise the ETA of a short phase is wildly long)."""
    if first is None or iteration <= 1:
        return seconds / max(iteration, 1)
    return (seconds - first) / (iteration - 1)


def format_terms(terms: Mapping[str, float]) -> str:
    """{"style 3_1": 1.5e5, "smoothness": 2e3} -> "smoothness 2000  style 3_1 1.5e+05"."""
    return "  ".join(f"{k} {v:.4g}" for k, v in sorted(terms.items()))


def _size(shape: Sequence[int]) -> str:
    return f"{shape[1]}×{shape[0]}"


# --- JSON log --------------------------------------------------------------------


class JsonLog:
    """``--log-json``: JSON Lines, one object per logged iteration and a last summary.

    Every object has an ``"event"``: ``"iteration"`` or ``"summary"``.
    """

    def __init__(self, stream: TextIO, *, owned: bool = False) -> None:
        self.stream = stream
        self.owned = owned  # close it when done (a file we opened, not stdout)

    @classmethod
    def open(cls, target: str, stdout: Optional[TextIO] = None) -> "JsonLog":
        """``"-"``: stdout; anything else: a file, truncated. OSError if it cannot be opened."""
        if target == "-":
            return cls(stdout if stdout is not None else sys.stdout)
        return cls(open(target, "w", encoding="utf-8"), owned=True)

    def write(self, record: Mapping[str, Any]) -> None:
        """One line, flushed at once: a reader (``tail -f``, a supervisor) sees it now."""
        self.stream.write(json.dumps(jsonable(record), ensure_ascii=False, allow_nan=False) + "\n")
        self.stream.flush()

    def iteration(self, p: Any) -> None:
        """The object for an "iteration" :class:`~doodle.core.synthesis.Progress`."""
        self.write({
            "event": "iteration",
            "phase": p.phase,
            "phases": p.phases,
            "iteration": p.iteration,
            "iterations": p.iterations,
            "size": [p.shape[1], p.shape[0]],
            "loss": float(p.loss),
            "terms": {k: float(v) for k, v in p.terms.items()},
            "seconds": round(float(p.seconds), 4),  # since the phase started
        })

    def close(self) -> None:
        if self.owned:
            self.stream.close()


@dataclasses.dataclass
class RunInfo:
    """What the summary reports about a run, filled in as the run gets that far
    (a run refused for a missing file has inputs but no device)."""

    output: str  # the output path, "-" for stdout
    animation: Optional[str] = None
    inputs: dict = dataclasses.field(default_factory=dict)  # paths as given, maps as found
    options: Optional[Options] = None  # the effective options (seed and size filled in)
    device: Optional[str] = None  # e.g. "cpu (cpu)", "gpu (NVIDIA H100 80GB HBM3)"
    extractor: Optional[str] = None  # "built-in", a weights source or file name
    started: float = dataclasses.field(default_factory=time.perf_counter)


def summary_record(info: RunInfo, phases: Sequence[Mapping[str, Any]], exit_status: int,
                   error: Optional[str], *, version: str) -> dict:
    """The last line of ``--log-json``: everything needed to tell what a run did."""
    options = info.options
    return {
        "event": "summary",
        "exit_status": exit_status,
        "error": error,
        "output": info.output,
        "animation": info.animation,
        "inputs": dict(info.inputs),
        "options": options.flat() if options is not None else None,
        "random_seed": options.painting.random_seed if options is not None else None,
        "device": info.device,
        "extractor": info.extractor,
        "phases": [dict(p) for p in phases],  # size, iterations, seconds, final loss
        "seconds": round(time.perf_counter() - info.started, 3),
        "version": version,
    }


# --- frames and GIF --------------------------------------------------------------


def upsample(frame: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """(h, w, 3) uint8 -> (H, W, 3) uint8, bilinear with pixel centres aligned.

    A GIF has one canvas size, so the coarse phases' frames are scaled to the output's
    size. numpy only: this runs after painting, on a handful of small frames.
    """
    h, w = frame.shape[:2]
    H, W = hw
    if (h, w) == (H, W):
        return frame
    ys = np.clip((np.arange(H) + 0.5) * (h / H) - 0.5, 0, h - 1)
    xs = np.clip((np.arange(W) + 0.5) * (w / W) - 0.5, 0, w - 1)
    y0 = np.floor(ys).astype(np.intp)
    x0 = np.floor(xs).astype(np.intp)
    y1 = np.minimum(y0 + 1, h - 1)
    x1 = np.minimum(x0 + 1, w - 1)
    fy = (ys - y0)[:, None, None]
    fx = (xs - x0)[None, :, None]
    f = frame.astype(np.float32)
    top = f[y0][:, x0] * (1 - fx) + f[y0][:, x1] * fx
    bottom = f[y1][:, x0] * (1 - fx) + f[y1][:, x1] * fx
    return np.clip(top * (1 - fy) + bottom * fy, 0, 255).round().astype(np.uint8)


def encode_gif(frames: Sequence[np.ndarray], hw: tuple[int, int], *, frame_ms: int = 100,
               hold_ms: int = 1500) -> bytes:
    """Frames of any sizes -> an endlessly looping GIF at ``hw`` (height, width).

    Every frame is upsampled to ``hw`` (a GIF's frames share one canvas); the last
    one is held for ``hold_ms`` so the finished painting is seen.
    """
    from doodle.io import animation

    if not frames:
        raise ValueError("an animation needs at least one frame")
    return animation.encode([upsample(np.asarray(f, np.uint8), hw) for f in frames], ".gif",
                            [frame_ms] * (len(frames) - 1) + [hold_ms])


def save_frame(path: Path, frame: np.ndarray) -> None:
    """Write one ``--save-every`` frame (atomically), creating its folder."""
    from doodle.io import imaging

    path.parent.mkdir(parents=True, exist_ok=True)
    imaging.write_image(path, frame)


class Animation:
    """Frames for ``--animation``, kept in memory at each phase's own size.

    One frame every ``every`` iterations (``--save-every``, else ``--print-every``),
    or at the end of each phase when ``every`` is 0; :meth:`finish` adds the final
    image unless it is already the last frame.
    """

    def __init__(self, every: int) -> None:
        self.every = every
        self.frames: list[np.ndarray] = []

    def offer(self, p: Any, frame: Optional[np.ndarray] = None) -> None:
        """Record ``p``'s image if this event is a frame (``frame``: its uint8 image if
        the caller already converted it, to avoid a second device transfer)."""
        if p.image is None:
            return
        take = (p.event == "iteration" and self.every > 0 and p.iteration % self.every == 0) or (
            p.event == "done" and self.every <= 0)
        if take:
            self.add(frame if frame is not None else to_uint8(p.image))

    def add(self, frame: np.ndarray) -> None:
        if not self.frames or not np.array_equal(self.frames[-1], frame):
            self.frames.append(frame)

    def finish(self, final: np.ndarray) -> None:
        """Append the output image (a no-op when the last frame already is it)."""
        self.add(np.asarray(final, np.uint8))

    def encode(self, hw: tuple[int, int]) -> bytes:
        return encode_gif(self.frames, hw)


# --- the reporter ----------------------------------------------------------------


class Messages:
    """One-line messages on a stream (stderr by default), and the line of a progress
    bar drawn in place on a terminal, which a message first ends. ``quiet`` silences
    them all."""

    def __init__(self, stream: Optional[TextIO] = None, tty: Optional[bool] = None, quiet: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _isatty(self.stream) if tty is None else tty
        self.quiet = quiet
        self._bar_open = False  # a bar is drawn and its line not ended

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def break_line(self) -> None:
        """End a progress bar's line, so the next message starts on its own line."""
        if self._bar_open:
            self._write("\n")
            self._bar_open = False

    def notice(self, text: str) -> None:
        """A one-line message for the user (not shown with --quiet)."""
        if not self.quiet:
            self.break_line()
            self._write(f"doodle: {text}\n")

    def warning(self, text: str) -> None:
        """Something is wrong but the run goes on (``doodle: warning: …``); not shown
        with --quiet, like any other message but an error."""
        self.notice(f"warning: {text}")


class PhaseRecords:
    """Each phase's record, kept from Progress events (the summary's and the provenance
    record's "phases"): size, evaluations, loss, seconds, whether it completed or
    stopped early. Prints nothing and writes nothing."""

    def __init__(self) -> None:
        self.phases: list[dict] = []

    def __call__(self, p: Any) -> None:
        if p.event == "skipped":
            self.phases.append({"phase": p.phase, "size": [p.shape[1], p.shape[0]], "skipped": True})
        elif p.event == "phase":
            self.phases.append({"phase": p.phase, "size": [p.shape[1], p.shape[0]], "iterations": 0,
                                "seconds": 0.0, "loss": None, "completed": False})
        elif p.event in ("iteration", "done") and self.phases:
            self.phases[-1].update(iterations=p.iteration, seconds=round(p.seconds, 3), loss=float(p.loss))
            if p.event == "done":
                self.phases[-1]["completed"] = True
                if p.message:  # stopped early: L-BFGS stalled
                    self.phases[-1]["stopped_early"] = p.message


class Reporter(Messages):
    """Turns Progress events into stderr lines, a JSON log, frames, and a last image.

    On a terminal: one progress bar per phase, redrawn in place (phase, iteration,
    loss, s/it, ETA). Otherwise: a plain line every ``options.reporting.print_every``
    iterations. ``quiet`` silences both (the JSON log and frames are unaffected).
    """

    def __init__(
        self,
        options: Options,
        *,
        stream: Optional[TextIO] = None,
        tty: Optional[bool] = None,
        quiet: bool = False,
        stem: str = "output",
        log: Optional[JsonLog] = None,
        animation: Optional[Animation] = None,
        write_frame: Optional[Callable[[Path, np.ndarray], None]] = None,  # default: save_frame
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(stream, tty, quiet)
        self.options = options
        self.stem = stem
        self.log = log
        self.animation = animation
        self.write_frame = write_frame if write_frame is not None else save_frame
        self.clock = clock
        self.last: Any = None  # (h, w, 3) float32 image of the latest evaluation
        self.records = PhaseRecords()  # per-phase records for the summary
        self._first: Optional[float] = None  # seconds at iteration 1 of this phase
        self._drawn_at = -math.inf

    def _bar(self, p: Any, tail: str) -> None:
        prefix = f"phase {p.phase}/{p.phases}  {_size(p.shape)}  "
        count = f" {p.iteration:>{len(str(p.iterations))}}/{p.iterations}  "
        # One width for the whole phase, leaving room for the longest tail
        # ("loss 1.234e+05  12.34 s/it  ETA 1:23:45"): a bar that changes length as
        # the numbers do jitters.
        columns = _columns(self.stream)
        width = max(10, min(30, columns - len(prefix) - len(count) - 42))
        done = width * p.iteration // max(p.iterations, 1)
        # \r returns to the line's start and \x1b[K erases what a longer previous
        # line left behind; nothing else, so any terminal (and `script`) copes.
        self._write(f"\r{prefix}[{'#' * done}{'.' * (width - done)}]{count}{tail}\x1b[K")
        self._bar_open = True

    # Events -----------------------------------------------------------------------

    @property
    def phases(self) -> list[dict]:
        return self.records.phases

    def __call__(self, p: Any) -> None:
        if p.image is not None:
            self.last = p.image
        self.records(p)
        handler = getattr(self, f"_on_{p.event}", None)
        if handler is not None:
            handler(p)

    def _on_skipped(self, p: Any) -> None:
        self.notice(p.message)

    def _on_phase(self, p: Any) -> None:
        self._first = None
        if self.quiet:
            return
        if self.tty:
            self.break_line()
            self._bar(p, "preparing…")  # compiling takes a while: show that work started
            self._drawn_at = self.clock()
        else:
            tile = f" ({p.message})" if p.message else ""  # a tiled phase: which tile
            self.notice(f"phase {p.phase}/{p.phases} at {_size(p.shape)}{tile}, {p.iterations} iterations")

    def _on_iteration(self, p: Any) -> None:
        if p.iteration == 1:
            self._first = p.seconds
        logged = should_log(p.iteration, p.iterations, self.options.reporting.print_every)
        rate = seconds_per_iteration(p.seconds, p.iteration, self._first)
        if not self.quiet:
            if self.tty:
                now = self.clock()
                # Redraw at most ten times a second: a fast GPU phase would otherwise
                # spend real time writing to the terminal.
                if p.iteration in (1, p.iterations) or now - self._drawn_at >= 0.1:
                    eta = rate * (p.iterations - p.iteration)
                    self._bar(p, f"loss {p.loss:.4g}  {rate:.2f} s/it  ETA {format_duration(eta)}")
                    self._drawn_at = now
            elif logged:
                self._write(f"doodle: phase {p.phase}/{p.phases} iteration {p.iteration}/{p.iterations}  "
                            f"loss {p.loss:.6g}  {rate:.3g} s/it  {p.seconds:.1f}s  ({format_terms(p.terms)})\n")
        if logged and self.log is not None:
            self.log.iteration(p)
        frame = None
        every = self.options.reporting.save_every
        if every and p.iteration % every == 0:
            frame = to_uint8(p.image)
            name = f"{self.stem}-p{p.phase}-{p.iteration:04d}.png"
            self.write_frame(Path(self.options.reporting.frames_dir) / name, frame)
        if self.animation is not None:
            self.animation.offer(p, frame)

    def _on_quilted(self, p: Any) -> None:
        if not self.quiet:
            self.notice(p.message)

    def _on_done(self, p: Any) -> None:
        if self.animation is not None:
            self.animation.offer(p)
        if self.quiet:
            return
        if self.tty:
            self._bar(p, f"loss {p.loss:.4g}  done in {format_duration(p.seconds)}")
            self.break_line()
            if p.message:
                self.notice(p.message)
        else:
            if p.message:
                self.notice(p.message)
            self.notice(f"phase {p.phase} done: loss {p.loss:.6g} after {p.iteration} evaluations "
                        f"in {p.seconds:.1f}s")


def _columns(stream: Any) -> int:
    """Width of the terminal ``stream`` is on (stderr's own: with ``-o -`` stdout is a
    pipe, which is all ``shutil.get_terminal_size`` would look at); 80 if unknown."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return shutil.get_terminal_size((80, 24)).columns


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
