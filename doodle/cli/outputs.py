"""What ``doodle paint`` writes: the image (a file or stdout) and the animation,
checked before painting (a folder that cannot take them, a name that is one of the
painting's own inputs) and saved after it."""
from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Any, Mapping, Optional

from doodle.errors import InputError, WriteError
from doodle.plan.options import DEFAULTS, Options
from doodle.run.reporting import Reporter, RunInfo


def stdout_open() -> bool:
    """Whether stdout can be written to (``doodle … >&-`` starts Python without one)."""
    if sys.stdout is None:
        return False
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):  # an in-memory stream (tests, a host program)
        return True
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def silence_stdout() -> None:
    """After a write to stdout failed (the reader went away), point it at /dev/null,
    so the interpreter's last flush at exit does not print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def write_stdout(data: bytes) -> None:
    """All of ``data`` on stdout, or OSError.

    A write may take fewer bytes than it was given (under ``python -u`` stdout's
    binary layer is the raw file, whose write is one ``write(2)``): each call's
    count is checked and the rest written again, so a reader gets the whole PNG or
    doodle says it did not. On a file descriptor, ``os.write`` does this directly.
    """
    sys.stdout.flush()  # any text already buffered goes first
    stream = sys.stdout.buffer
    try:
        fd: Optional[int] = stream.fileno()
    except (OSError, ValueError, AttributeError):  # an in-memory stream (tests, a host program)
        fd = None
    if fd is not None:
        stream.flush()

    def write(chunk: memoryview) -> Optional[int]:
        return os.write(fd, chunk) if fd is not None else stream.write(chunk)

    view = memoryview(data)
    while view:
        written = write(view)
        if not written:  # 0, or None from a non-blocking stream that took nothing: no progress
            raise OSError(errno.EIO, "stdout took no more bytes")
        view = view[written:]
    if fd is None:
        stream.flush()


def input_files(kw: Mapping[str, Any]) -> list[str]:
    """Every file a painting reads, as far as can be told before loading anything:
    the styles (a pack's image and map), the maps given and found beside them, the
    content, the doodle and a seed image."""
    from doodle.io import imaging
    from doodle.plan import packs

    def many(value) -> list:
        return [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]

    found: list[str] = []
    for style in many(kw.get("style")):
        pack = packs.as_pack(style)
        found += [str(pack.image), str(pack.map)] if pack is not None else [style]
    found += many(kw.get("style_map")) + many(kw.get("content")) + many(kw.get("target_map"))
    if kw.get("seed") not in (None, "auto", "noise", "content"):
        found.append(kw["seed"])
    ext = kw.get("semantic_ext") or DEFAULTS.painting.semantic_ext
    try:  # maps beside the images (a bad --semantic-ext is reported by the option check)
        found += [str(imaging.semantic_path(f, ext)) for f in list(found)]
    except ValueError:
        pass
    return [str(f) for f in found if f is not None]


def refuse_overwriting_inputs(kw: Mapping[str, Any]) -> None:
    """InputError when -o, --animation or --log-json names a file the run reads
    (``-o style.jpg --style style.jpg``): the painting would replace its own input."""
    from doodle.io import imaging

    inputs = input_files(kw)
    for flag, target in (("-o", kw.get("output")), ("--animation", kw.get("animation")),
                         ("--log-json", kw.get("log_json"))):
        if target in (None, "-"):
            continue
        source = imaging.overwritten(target, inputs)
        if source is not None:
            raise InputError(f"{flag} {target!r} is an input of this painting ({source!r}) and would be "
                             "overwritten.", f"Give {flag} another file name.")


def check_paint_outputs(options: Options, info: RunInfo, reporter: Reporter) -> None:
    """The outputs only ``paint`` writes (frames, the animation), checked before painting."""
    from doodle.io import imaging
    from doodle.run import reporting

    if options.reporting.save_every > 0:
        imaging.check_folder(options.reporting.frames_dir, "--frames-dir")
    if info.animation is not None:
        _check_animation(info.animation)
        reporter.animation = reporting.Animation(options.reporting.save_every or options.reporting.print_every)


def _check_animation(path: str) -> None:
    from doodle.io import imaging

    if Path(path).suffix.lower() != ".gif":
        raise InputError(f"--animation {path!r} must end in .gif.", "Use e.g. --animation painting.gif.")
    imaging.check_writable(path)


def save_outputs(output: str, image, animation: Optional[str], reporter: Reporter,
                 text: Optional[Mapping[str, str]] = None) -> None:
    """The image (to ``output``, "-" being stdout; with the ``text`` fields where its
    format has room) and then the --animation GIF."""
    from doodle.io import imaging

    _save(output, image, text)
    frames = reporter.animation
    if animation is not None and frames is not None:
        frames.finish(image)
        imaging.write_bytes(animation, frames.encode(image.shape[:2]))


def _save(output: str, image, text: Optional[Mapping[str, str]]) -> None:
    from doodle.io import imaging

    if output == "-":
        try:
            write_stdout(imaging.encode_image(image, ".png", text))
        except (OSError, ValueError, AttributeError) as e:  # the reader left (EPIPE), a full disk…
            silence_stdout()
            reason = getattr(e, "strerror", None) or "stdout is closed"
            raise WriteError(f"cannot write the PNG to stdout: {reason}.",
                             "Check the command that reads doodle's output.", path="-") from None
    else:
        imaging.write_image(output, image, text)
