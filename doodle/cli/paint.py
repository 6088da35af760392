"""``doodle paint``: check the arguments, paint, save; every way a run ends is an
exit code (:mod:`doodle.cli.errors`), and ``--log-json`` ends with a summary."""
from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Optional

import click

from doodle.cli import frames, like, log, outputs, runtime
from doodle.run import stamp
from doodle.cli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, print_error
from doodle.cli.options import defaulted, paint_options, prepare, reporting_options
from doodle.cli.signals import Terminated, signals_as_interrupts
from doodle.errors import DivergenceError, DoodleError, InputError, WriteError
from doodle.plan.options import DEFAULTS
from doodle.run.reporting import Reporter, RunInfo

EPILOG = """\b
Modes (the inputs you give decide):
  doodle → painting        doodle paint --style Monet.jpg --map doodle_sem.png -o out.png
                           (Monet_sem.png beside Monet.jpg is its map)
  semantic style transfer  doodle paint --style Monet.jpg --content photo.jpg -o out.png
                           (photo_sem.png beside photo.jpg is its map)
  plain style transfer     doodle paint --style Monet.jpg --content photo.jpg
                           --semantic-weight 0 -o out.png
  texture synthesis        doodle paint --style Monet.jpg --semantic-weight 0
                           --output-size 512x384 -o texture.png
\b
Scripting: -o - writes the PNG to stdout, --log-json - JSON Lines to stdout
(not both at once); all messages go to stderr: a progress bar on a terminal,
plain lines every --print-every otherwise.
\b
Exit codes: 0 done, 1 runtime failure (the last good image is saved;
a full disk or a closed pipe), 2 bad input or usage (one line on stderr),
130 interrupted, 143 / 129 terminated by SIGTERM / SIGHUP (the latest image
is saved).
"""


@click.command("paint", epilog=EPILOG)
@click.option("--like", metavar="PAINTING",
              help="Repaint with a painting's settings and inputs (its provenance); flags given override them.")
@click.option("--allow-changed-inputs", is_flag=True,
              help="With --like: repaint even if an input's file changed since (its sha256 differs).")
@paint_options(style_required=False)
@reporting_options
@click.option("--animation", metavar="FILE.gif",
              help="Also write a looping GIF of the painting forming: the --save-every frames, "
              "else one every --print-every. With a --map pattern: the frames, as .gif or .webp.")
@click.option("--force", is_flag=True,
              help="With a --map pattern: repaint every frame, not only those whose doodle or options changed.")
@click.option("--log-json", metavar="FILE|-",
              help="Write JSON Lines: an object per logged iteration, then a summary. '-': stdout.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@click.option("--compile-cache/--no-compile-cache", default=True, show_default=True,
              help="Keep compiled programs in the cache folder for faster starts.")
def paint(**kw) -> None:
    """Paint a doodle, or a photo, in the style of a painting.

    --style takes an image or the name of a style pack (see `doodle styles`).
    """
    defaults = defaulted(kw)
    if kw["like"]:
        try:
            kw, defaults, warnings = like.merge(paint, kw, defaults)
        except InputError as e:
            print_error(e)
            sys.exit(e.exit_code)
        for warning in [] if kw["quiet"] else warnings:
            click.echo(f"doodle: warning: {warning}", err=True)
    elif not kw["style"]:
        raise click.UsageError("Missing option '--style' (or --like PAINTING).")
    sys.exit(run_paint(kw, defaults))


def run_paint(kw: Mapping[str, Any], defaults: set = frozenset()) -> int:
    """The body of ``doodle paint``: returns the exit code, and ends --log-json with
    a summary whatever the outcome."""
    kw = dict(kw)
    output = kw["output"]
    try:
        if kw.get("log_json") == "-" and output == "-":
            raise InputError("-o - and --log-json - both want stdout.",
                             "Send one of them to a file, e.g. --log-json run.jsonl.")
        if "-" in (output, kw.get("log_json")) and not outputs.stdout_open():
            raise InputError("stdout is closed, so -o - or --log-json - has nowhere to go.",
                             "Run doodle with stdout open, or write to a file.")
        outputs.refuse_overwriting_inputs(kw)
    except InputError as e:  # before the log is opened: the log itself may be the input
        print_error(e)
        return e.exit_code
    info = RunInfo(output=output, animation=kw.get("animation"))
    reporter = Reporter(DEFAULTS, quiet=kw["quiet"], stem=Path(output).stem if output != "-" else "stdout")
    with signals_as_interrupts():
        code, error = _run(kw, defaults, info, reporter)
        log.finish_log(reporter, info, code, error)
        failed = getattr(reporter.log, "failed", None)
        if failed is not None and code == EXIT_OK:  # painted and saved, but the log is incomplete
            print_error(log.log_error(kw["log_json"], failed), reporter)
            code = EXIT_FAILURE
    return code


def _run(kw: dict, defaults: set, info: RunInfo, reporter: Reporter) -> tuple[int, Optional[str]]:
    """Paint, and turn every way a run ends into (exit code, error text for the log),
    saving the current image on a divergence or an interruption."""
    output = kw["output"]
    sequence = frames.is_pattern(kw.get("target_map"))
    try:
        if sequence:  # each frame is saved as it is done; a stopped one is painted again by a rerun
            frames.paint_frames(kw, defaults, info, reporter)
            return EXIT_OK, None
        if kw.get("log_json"):
            reporter.log = log.open_log(kw["log_json"])
        return _paint(kw, defaults, info, reporter), None
    except DivergenceError as e:
        error = print_error(e, reporter)
        if e.image is not None and not sequence:
            _keep(output, e.image, info, reporter, "the last good image was saved to")
        return e.exit_code, error
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM / SIGHUP (Terminated)
        code = 128 + e.signum if isinstance(e, Terminated) else EXIT_INTERRUPTED
        what = f"terminated by {signal.Signals(e.signum).name}" if isinstance(e, Terminated) else "interrupted"
        reporter.break_line()
        if reporter.last is not None and not sequence:
            _keep(output, reporter.last, info, reporter, f"{what}; the current image was saved to")
        else:
            click.echo(f"doodle: {what}", err=True)
        return code, what
    except DoodleError as e:  # bad input (2); WriteError: the disk filled up, the pipe closed (1)
        return e.exit_code, print_error(e, reporter)
    except MemoryError:  # numpy's allocation failures: the machine, not a bug
        return EXIT_FAILURE, print_error(DoodleError("out of memory.", "Use a smaller --output-size, or "
                                                     "close other programs."), reporter)
    except Exception as e:  # a bug or an XLA failure: record it, then let the traceback show
        log.finish_log(reporter, info, EXIT_FAILURE, f"{type(e).__name__}: {e}")
        raise


def _keep(output: str, image, info: RunInfo, reporter: Reporter, saved: str) -> None:
    """Save the image of a run that failed or was stopped, and say where (or why not)."""
    from doodle.run import reporting

    try:
        outputs.save_outputs(output, reporting.to_uint8(image), info.animation, reporter)
    except WriteError as e:
        click.echo(f"doodle: the image could not be saved: {e}", err=True)
        return
    click.echo(f"doodle: {saved} {output if output != '-' else 'stdout'}", err=True)


def _paint(kw: dict, defaults: set, info: RunInfo, reporter: Reporter) -> int:
    """Check, load, paint, save; raises DoodleError (or KeyboardInterrupt) on the way."""
    from doodle.run import api, render

    output = kw["output"]
    info.inputs = {"style": kw["style"], "style_pack": None, "style_map": kw["style_map"] or None,
                   "content": kw["content"], "map": kw["target_map"]}
    runtime.setup_jax(kw["device"], kw["compile_cache"], reporter)  # before prepare: loading maps may run JAX
    prepared = prepare(kw, defaults, output, reporter.notice)
    problem, options = prepared.problem, prepared.options
    info.inputs = prepared.inputs
    info.options = reporter.options = options
    outputs.check_paint_outputs(options, info, reporter)
    files = stamp.input_records(prepared.inputs, options) if options.reporting.metadata else None
    extractor = api.resolve_extractor(options, reporter.notice)
    info.extractor = extractor.name

    def started(effective, device) -> None:
        info.options, info.device = effective, device
        reporter.notice(f"painting {problem.size[1]}×{problem.size[0]} with {extractor.name} weights, "
                        f"random seed {effective.painting.random_seed}")

    done = render.render(problem, options, extractor, files=files, callback=reporter, notice=reporter.notice,
                         started=started)
    image, text = done.image, done.text
    outputs.save_outputs(output, image, info.animation, reporter, text)
    reporter.notice(f"wrote {output if output != '-' else 'PNG to stdout'}"
                    + (f" and {info.animation}" if info.animation else "")
                    + f" in {time.perf_counter() - info.started:.1f}s")
    return EXIT_OK
