"""``doodle paint --map 'frames/*_sem.png' -o 'out/{stem}.png'``: a sequence of doodles.

The files at the edge of :func:`doodle.run.sequence.paint_sequence`: the maps a pattern
names, in order (a glob sorted naturally, or a numbered ``frame%03d_sem.png``), each
frame's output name, which frames a rerun must repaint (from each painting's
provenance record), and the animation of the frames.
"""
from __future__ import annotations

import glob
import re
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from doodle.errors import InputError
from doodle.plan.options import DEFAULTS

NUMBERED = re.compile(r"%(0?)(\d*)d")  # printf's %d, %3d, %03d
ANIMATIONS = (".gif", ".webp", ".mp4")
FRAME_MS = 100  # a sequence's animation shows each frame this long


def is_pattern(path: Optional[str]) -> bool:
    """Whether ``--map`` names a sequence: a glob (``*``, ``?``, ``[``) or a ``%03d``."""
    return path is not None and (glob.has_magic(path) or NUMBERED.search(path) is not None)


def natural_key(path: str) -> list:
    """Sort key that puts frame2 before frame10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


def expand(pattern: str) -> list[str]:
    """The map files of a pattern, in order; InputError when none exists."""
    match = NUMBERED.search(pattern)
    if match is not None:
        wildcard = pattern[:match.start()] + "*" + pattern[match.end():]
        regex = re.compile(re.escape(pattern[:match.start()]) + r"(\d+)" + re.escape(pattern[match.end():]) + "$")
        found = [(int(m.group(1)), p) for p in glob.glob(wildcard) if (m := regex.match(p))]
        width = match.group(2)
        if width and match.group(1):  # %03d: exactly that many digits, zero-padded
            found = [(n, p) for n, p in found if p == pattern % n]
        paths = [p for _, p in sorted(found)]
    else:
        paths = sorted(glob.glob(pattern), key=natural_key)
    paths = [p for p in paths if Path(p).is_file()]
    if not paths:
        raise InputError(f"--map {pattern!r} matches no file.",
                         "Give a glob such as 'frames/*_sem.png' (quoted) or a numbered pattern such as "
                         "'frames/f%03d_sem.png'.")
    return paths


def stem_of(map_path: str, semantic_ext: str) -> str:
    """The frame's name: the map's file name less the semantic suffix (``f01_sem.png`` -> ``f01``)."""
    name = Path(map_path).name
    return name[:-len(semantic_ext)] if semantic_ext and name.endswith(semantic_ext) and name != semantic_ext \
        else Path(map_path).stem


def output_names(output: str, maps: Sequence[str], semantic_ext: str) -> list[str]:
    """Each frame's output file: ``output`` with ``{stem}`` and ``{index}`` (0-based,
    format specs allowed: ``{index:04d}``) filled in. InputError when several frames
    would share one name."""
    if output == "-":
        raise InputError("-o - cannot take a sequence of frames.", "Give -o a pattern such as 'out/{stem}.png'.")
    if len(maps) > 1 and "{stem" not in output and "{index" not in output:
        raise InputError(f"--map names {len(maps)} frames but -o {output!r} has no {{stem}} or {{index}}.",
                         "Use e.g. -o 'out/{stem}.png' or -o 'out/frame{index:03d}.png'.")
    try:
        names = [output.format(stem=stem_of(m, semantic_ext), index=i) for i, m in enumerate(maps)]
    except (KeyError, IndexError, ValueError) as e:
        raise InputError(f"-o {output!r} is not a valid frame pattern ({e}).",
                         "Use {stem} (the map's name) and {index} (its position), e.g. 'out/{stem}.png'.") from None
    if len(set(names)) < len(names):
        raise InputError(f"-o {output!r} gives several frames the same name.", "Use {index} in -o.")
    return names


def check_animation(path: str) -> None:
    """InputError for an animation format this installation cannot write."""
    suffix = Path(path).suffix.lower()
    if suffix not in ANIMATIONS:
        raise InputError(f"--animation {path!r} must end in .gif or .webp.", "Use e.g. --animation frames.gif.")
    if suffix == ".mp4":
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise InputError("--animation .mp4 needs the imageio-ffmpeg package, which is not installed.",
                             "Write a .gif or .webp, or install imageio-ffmpeg.") from None


def paint_frames(kw: Mapping[str, Any], defaults: set, info: Any, reporter: Any) -> None:
    """``doodle paint`` for a ``--map`` pattern: paint the frames a rerun needs (all with
    ``--force``), each saved with its provenance as it is done, then the animation.
    Raises DoodleError (or KeyboardInterrupt) on the way, as a single painting does."""
    import time

    from doodle.cli import runtime
    from doodle.cli.options import prepare
    from doodle.io import imaging
    from doodle.io.animation import encode
    from doodle.run import api, render, resume, sequence, stamp

    maps = expand(kw["target_map"])
    outputs = output_names(kw["output"], maps, kw.get("semantic_ext") or DEFAULTS.painting.semantic_ext)
    if kw.get("log_json"):
        raise InputError("--log-json takes a single painting, not a sequence of frames.",
                         "Drop --log-json; each frame records how it was made (doodle info FRAME).")
    for output in outputs:
        source = imaging.overwritten(output, maps)
        if source is not None:
            raise InputError(f"-o {kw['output']!r} would overwrite the map {source!r}.",
                             "Write the frames to another folder or name, e.g. -o 'out/{stem}.png'.")
        imaging.check_writable(output)
    animation = kw.get("animation")
    if animation is not None:
        check_animation(animation)
        imaging.check_writable(animation, "--animation")
    runtime.setup_jax(kw["device"], kw["compile_cache"], reporter)
    prepared = prepare(dict(kw, target_map=maps[0]), defaults, outputs[0], reporter.notice)
    problem, options = prepared.problem, prepared.options
    extractor = api.resolve_extractor(options, reporter.notice)
    info.extractor, info.device = extractor.name, render.device_name(options)
    options = options.replace(random_seed=render.draw_seed(options))
    stamped = options.replace(output_size=(problem.size[1], problem.size[0]))
    info.options = reporter.options = stamped
    styles = [r for r in stamp.input_records(prepared.inputs, options) if r["role"] in ("style", "style_map")]
    start = 0 if kw.get("force") else resume.first_to_paint(maps, outputs, stamp.recorded(stamped).flat(), styles)
    if start:
        reporter.notice(f"frames 1 to {start} of {len(maps)} are painted already (their maps and options "
                        "did not change): kept" + (", nothing to paint" if start == len(maps) else ""))
    previous = imaging.read_image(outputs[start - 1], "frame") if 0 < start < len(maps) else None

    for frame in sequence.paint_sequence(problem.style, maps, style_map=problem.style_map, options=options,
                                         extractor=extractor, start=start, previous=previous,
                                         callback=lambda i, p: reporter(p), notice=reporter.notice):
        text = None
        if options.reporting.metadata:
            files = stamp.input_records(dict(prepared.inputs, map=maps[frame.index]), options)
            text = stamp.fields(info.device, stamped, files, extractor, reporter.phases)
        imaging.write_image(outputs[frame.index], frame.image, text)
        reporter.notice(f"frame {frame.index + 1} of {len(maps)}: wrote {outputs[frame.index]} "
                        f"in {time.perf_counter() - info.started:.1f}s")
        info.started = time.perf_counter()
        reporter.phases.clear()  # the next frame's record has its own phases only
    if animation is not None:
        images = [imaging.read_image(o, "frame") for o in outputs]
        imaging.write_bytes(animation, encode(images, Path(animation).suffix.lower(), [FRAME_MS] * len(images)))
        reporter.notice(f"wrote {animation} ({len(images)} frames)")
