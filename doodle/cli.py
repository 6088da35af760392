"""The ``doodle`` command line (click only: parsing, printing, exit codes).

Exit codes: 0 done, 1 runtime failure (divergence, out of memory, a full disk…), 2
bad input or usage, 130 interrupted, 143 / 129 terminated by SIGTERM / SIGHUP (the
latest image is saved).
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Collection, Optional

import click

from doodle.errors import DivergenceError, DoodleError, InputError, OptionError, WriteError, error_line
from doodle.options import BUILTIN, DEFAULTS, PRETRAINED, WITH_MAPS, WITHOUT_MAPS, Options
from doodle.reporting import JsonLog, Reporter, RunInfo

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

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


def _fail(message: str, code: int = EXIT_USAGE) -> "NoReturn":  # noqa: F821
    click.echo(error_line(message), err=True)
    sys.exit(code)


def parse_size(text: Optional[str]) -> Optional[tuple[int, int]]:
    """"512x384" -> (512, 384) as (width, height)."""
    if text is None:
        return None
    parts = text.lower().replace("×", "x").split("x")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise InputError(f"--output-size {text!r} is not WIDTHxHEIGHT.", "Use e.g. --output-size 512x384.") from None
    if w < 1 or h < 1:
        raise InputError(f"--output-size {text!r} must be positive.", "Use e.g. --output-size 512x384.")
    return w, h


def parse_memory(text: Optional[str]) -> Optional[int]:
    """"8G" -> bytes; None stays None."""
    from doodle import planner

    if text is None:
        return None
    try:
        return planner.parse_size(text)
    except (ValueError, IndexError):
        raise InputError(f"--max-memory {text!r} is not a size.", "Use e.g. --max-memory 8G or 512M.") from None


def parse_range(text: str) -> tuple[float, float]:
    """"16:240" -> (16.0, 240.0)."""
    try:
        lo, hi = (float(p) for p in text.split(":"))
    except ValueError:
        raise InputError(f"--seed-range {text!r} is not LOW:HIGH.", "Use e.g. --seed-range 16:240.") from None
    return lo, hi


def parse_layers(text: Optional[str], flag: str) -> Optional[tuple[str, ...]]:
    """"3_1,4_1" (also "relu3_1", "conv4_1") -> ("3_1", "4_1")."""
    from doodle import vgg

    if text is None:
        return None
    layers = []
    for item in text.split(","):
        name = item.strip().lower().removeprefix("relu").removeprefix("conv")
        if name not in vgg.CHANNELS:
            raise InputError(f"{flag}: unknown layer {item.strip()!r}.", f"Known layers: {','.join(vgg.LAYER_NAMES)}.")
        layers.append(name)
    if not layers:
        raise InputError(f"{flag} is empty.", "Use e.g. 3_1,4_1.")
    return tuple(layers)


def _enable_compile_cache() -> None:
    """Persist compiled XLA programs so a second run compiles (almost) nothing.

    They go to ``doodle.weights.cache_dir() / "jax"``, beside downloaded weights: one
    place to find, or delete, everything doodle caches.
    """
    import jax

    from doodle import weights

    jax.config.update("jax_compilation_cache_dir", str(weights.cache_dir() / "jax"))
    # Cache every program, however quick to compile (JAX's default skips those under
    # 1 s): preparing a phase runs dozens of small ones. Caching them too took the warm
    # start at 128×96 from 13.7 s (threshold 0.5 s) to 11.1 s (bench/startup.py, on 2
    # busy CPU cores), for about 0.5 MiB per image size. JAX's own environment
    # variable, when set, wins.
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="doodle", message="doodle %(version)s")
def main() -> None:
    """Turn two-bit doodles into paintings (semantic style transfer)."""


def _float(flag: str, default: float, help: str):
    return click.option(flag, type=float, default=default, show_default=True, help=help)


# Options shared by `paint` and `plan`, in --help order.
PAINT_OPTIONS = [
    click.option("--style", "style", required=True, multiple=True,
                  help="Style painting (its map: NAME_sem.png beside it), or a style pack's name. "
                  "Repeat to pool the patches of several styles."),
    click.option("--style-map", multiple=True,
                  help="The style's semantic map, if not beside it; with several --style, one each, in order."),
    click.option("--content", help="Content image for style transfer."),
    click.option("--preserve-colors", is_flag=True, default=DEFAULTS.preserve_colors,
                  help="Keep the content's colours: transfer the style's luminance only (needs --content)."),
    click.option("--map", "target_map", help="The doodle, or the content's map; default: beside --content or --output."),
    click.option("--output", "-o", default="output.png", show_default=True, help="Output image; '-' writes PNG to stdout."),
    click.option("--output-size", help="WIDTHxHEIGHT of the output, e.g. 512x384."),
    click.option("--semantic-ext", default=DEFAULTS.semantic_ext, show_default=True, help="Suffix of semantic maps."),
    click.option("--content-weight", type=float, default=None,
                 help=f"Weight of the content loss [default: {PRETRAINED.content_weight:g} pretrained; "
                 f"built-in {BUILTIN.content_weight:g}, or {BUILTIN.content_weight_with_maps:g} with maps]."),
    click.option("--content-layers", default=None,
                 help=f"Layers of the content loss [default: {','.join(PRETRAINED.content_layers)} pretrained; "
                 f"{','.join(BUILTIN.content_layers)} built-in]."),
    _float("--style-weight", DEFAULTS.style_weight, "Weight of the style loss (per layer)."),
    click.option("--style-layers", default=None,
                 help=f"Layers matched for style [default: {','.join(PRETRAINED.style_layers)} pretrained; "
                 f"{','.join(BUILTIN.style_layers)} built-in]."),
    _float("--semantic-weight", DEFAULTS.semantic_weight, "Weight of the semantic maps in matching; 0 ignores maps."),
    _float("--smoothness", DEFAULTS.smoothness, "Weight of the total-variation smoothing."),
    _float("--variety", DEFAULTS.variety, "Bias towards using more of the style's patches."),
    _float("--occurrence", DEFAULTS.occurrence,
           "Penalty on style patches used more than their fair share (0: plain nearest patches)."),
    click.option("--distribution-weight", type=float, default=None,
                 help="Weight of each region's feature distribution, per style layer; 0: nearest patches only "
                 f"[default: {WITH_MAPS.distribution_weight:g} with maps, {WITHOUT_MAPS.distribution_weight:g} without]."),
    click.option("--color-weight", type=float, default=None,
                 help="Weight of each region's colour distribution "
                 f"[default: {WITH_MAPS.color_weight:g} with maps, {WITHOUT_MAPS.color_weight:g} without]."),
    click.option("--cache/--no-cache", default=DEFAULTS.cache, show_default=True, help="Match patches once per phase."),
    click.option("--match-every", type=int, default=DEFAULTS.match_every, show_default=True,
                  help="Re-match patches every N evaluations (higher is faster)."),
    click.option("--propagate/--exhaustive", default=DEFAULTS.propagate, show_default=True,
                  help="Match layers finer than 3_1 by refining the next deeper layer's matches "
                  "(fast), or search their whole bank (the reference; slow)."),
    click.option("--hard-labels/--soft-labels", default=DEFAULTS.hard_labels, show_default=True,
                  help="With flat-colour maps, match only patches of the same map colour."),
    _float("--stall-tolerance", DEFAULTS.stall_tolerance,
           "End a phase early when its loss (measured at each re-matching) improved by less than this "
           "fraction over --stall-window evaluations (0: never)."),
    click.option("--stall-window", type=int, default=DEFAULTS.stall_window, show_default=True,
                  help="Evaluations over which --stall-tolerance is judged."),
    click.option("--phases", type=int, default=DEFAULTS.phases, show_default=True, help="Resolutions, coarse to fine."),
    click.option("--iterations", type=int, default=DEFAULTS.iterations, show_default=True,
                  help="Evaluations per phase."),
    click.option("--seed", default=DEFAULTS.seed, show_default=True,
                 help="Start from noise, content, or an image path; auto: content when there is one, else noise."),
    click.option("--seed-range", default=f"{DEFAULTS.seed_range[0]:g}:{DEFAULTS.seed_range[1]:g}", show_default=True,
                  help="Range of the noise seed."),
    click.option("--random-seed", type=int, default=DEFAULTS.random_seed, help="Make the run reproducible."),
    click.option("--slices", type=int, default=DEFAULTS.slices, help="Match the style bank in N slices [default: auto]."),
    click.option("--weights", default=DEFAULTS.weights, show_default=True,
                  help="auto, builtin, a known source name, or a weights file."),
    click.option("--device", type=click.Choice(["auto", "cpu", "gpu"]), default=DEFAULTS.device, show_default=True),
    click.option("--max-memory", metavar="SIZE", help="Cap the memory planned for, e.g. 8G or 512M [default: what is free]."),
]


def paint_options(f):
    """Apply PAINT_OPTIONS to a command."""
    for option in reversed(PAINT_OPTIONS):
        f = option(f)
    return f


@main.command(epilog=EPILOG)
@paint_options
@click.option("--print-every", type=int, default=DEFAULTS.print_every, show_default=True,
              help="Log every N iterations (plain lines when stderr is not a terminal, and --log-json); "
              "0: phase summaries only. A terminal gets a progress bar.")
@click.option("--save-every", type=int, default=DEFAULTS.save_every, show_default=True,
              help="Save a frame every N iterations (0: never).")
@click.option("--frames-dir", default=DEFAULTS.frames_dir, show_default=True, help="Where --save-every writes.")
@click.option("--animation", metavar="FILE.gif",
              help="Also write a looping GIF of the painting forming: the --save-every frames, "
              "else one every --print-every.")
@click.option("--log-json", metavar="FILE|-",
              help="Write JSON Lines: an object per logged iteration, then a summary. '-': stdout.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@click.option("--compile-cache/--no-compile-cache", default=True, show_default=True,
              help="Keep compiled programs in the cache folder for faster starts.")
def paint(**kw) -> None:
    """Paint a doodle, or a photo, in the style of a painting.

    --style takes an image or the name of a style pack (see `doodle styles`).
    """
    ctx = click.get_current_context()
    defaults = {k for k in kw if ctx.get_parameter_source(k) == click.core.ParameterSource.DEFAULT}
    code = run_paint(kw, defaults)
    sys.exit(code)


def _options(kw: dict) -> Options:
    return Options(
        content_weight=kw["content_weight"],
        content_layers=parse_layers(kw["content_layers"], "--content-layers"),
        preserve_colors=kw.get("preserve_colors", DEFAULTS.preserve_colors),
        style_weight=kw["style_weight"],
        style_layers=parse_layers(kw["style_layers"], "--style-layers"),
        semantic_weight=kw["semantic_weight"],
        smoothness=kw["smoothness"],
        variety=kw["variety"],
        occurrence=kw["occurrence"],
        distribution_weight=kw["distribution_weight"],
        color_weight=kw["color_weight"],
        cache=kw["cache"],
        match_every=kw["match_every"],
        propagate=kw["propagate"],
        hard_labels=kw["hard_labels"],
        stall_tolerance=kw["stall_tolerance"],
        stall_window=kw["stall_window"],
        phases=kw["phases"],
        iterations=kw["iterations"],
        seed=kw["seed"],
        seed_range=parse_range(kw["seed_range"]),
        random_seed=kw["random_seed"],
        output_size=parse_size(kw["output_size"]),
        slices=kw["slices"],
        max_memory=parse_memory(kw.get("max_memory")),
        device=kw["device"],
        semantic_ext=kw["semantic_ext"],
        weights=kw["weights"],
        print_every=kw.get("print_every", DEFAULTS.print_every),
        save_every=kw.get("save_every", DEFAULTS.save_every),
        frames_dir=kw.get("frames_dir", DEFAULTS.frames_dir),
    )


def prepare(kw: dict, defaults: Collection[str], output: Optional[str], notice=lambda s: None):
    """:func:`doodle.api.prepare` for the arguments of ``paint`` or ``plan`` (the same
    for both, so both accept the same inputs); errors name the flag, not the field."""
    from doodle import api

    options = _options(kw)
    try:
        return api.prepare(kw["style"], style_map=kw["style_map"] or None, content=kw["content"],
                           target_map=kw["target_map"], options=options, output=output, unset=defaults,
                           notice=notice)
    except OptionError as e:
        raise e.as_flag() from None


def run_paint(kw: dict, defaults: set = frozenset()) -> int:
    """The body of ``doodle paint``: returns the exit code, and ends --log-json with
    a summary whatever the outcome."""
    kw = dict(kw)
    output = kw["output"]
    if kw.get("log_json") == "-" and output == "-":
        click.echo("doodle: error: -o - and --log-json - both want stdout. Send one of them to a file, "
                   "e.g. --log-json run.jsonl.", err=True)
        return EXIT_USAGE
    try:
        if "-" in (output, kw.get("log_json")) and not _stdout_open():
            raise InputError("stdout is closed, so -o - or --log-json - has nowhere to go.",
                             "Run doodle with stdout open, or write to a file.")
        _refuse_overwriting_inputs(kw)
    except InputError as e:  # before the log is opened: the log itself may be the input
        _print_error(e)
        return EXIT_USAGE
    info = RunInfo(output=output, animation=kw.get("animation"))
    reporter = Reporter(DEFAULTS, quiet=kw["quiet"], stem=Path(output).stem if output != "-" else "stdout")
    with _signals_as_interrupts():
        code, error = _run(kw, defaults, info, reporter)
        _finish_log(reporter, info, code, error)
        failed = getattr(reporter.log, "failed", None)
        if failed is not None and code == EXIT_OK:  # painted and saved, but the log is incomplete
            _print_error(_log_error(kw["log_json"], failed), reporter)
            code = EXIT_FAILURE
    return code


def _run(kw: dict, defaults: set, info: RunInfo, reporter: Reporter) -> tuple[int, Optional[str]]:
    """Paint, and turn every way a run ends into (exit code, error text for the log),
    saving the current image on a divergence or an interruption."""
    output = kw["output"]
    try:
        if kw.get("log_json"):
            reporter.log = _open_log(kw["log_json"])
        return _paint(kw, defaults, info, reporter), None
    except InputError as e:
        return EXIT_USAGE, _print_error(e, reporter)
    except DivergenceError as e:
        error = _print_error(e, reporter)
        if e.image is not None:
            _keep(output, e.image, info, reporter, "the last good image was saved to")
        return EXIT_FAILURE, error
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM / SIGHUP (Terminated)
        code = 128 + e.signum if isinstance(e, Terminated) else EXIT_INTERRUPTED
        what = f"terminated by {signal.Signals(e.signum).name}" if isinstance(e, Terminated) else "interrupted"
        reporter.break_line()
        if reporter.last is not None:
            _keep(output, reporter.last, info, reporter, f"{what}; the current image was saved to")
        else:
            click.echo(f"doodle: {what}", err=True)
        return code, what
    except DoodleError as e:  # WriteError included: the disk filled up, the pipe closed
        return e.exit_code, _print_error(e, reporter)
    except MemoryError:  # numpy's allocation failures: the machine, not a bug
        return EXIT_FAILURE, _print_error(DoodleError("out of memory.", "Use a smaller --output-size, or "
                                                      "close other programs."), reporter)
    except Exception as e:  # a bug or an XLA failure: record it, then let the traceback show
        _finish_log(reporter, info, EXIT_FAILURE, f"{type(e).__name__}: {e}")
        raise


def _keep(output: str, image, info: RunInfo, reporter: Reporter, saved: str) -> None:
    """Save the image of a run that failed or was stopped, and say where (or why not)."""
    from doodle import reporting

    try:
        _save_outputs(output, reporting.to_uint8(image), info.animation, reporter)
    except WriteError as e:
        click.echo(f"doodle: the image could not be saved: {e}", err=True)
        return
    click.echo(f"doodle: {saved} {output if output != '-' else 'stdout'}", err=True)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (batch schedulers, ``timeout``, a closed terminal), handled as
    Ctrl-C is: the current image is saved, and the exit status is 128 + the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def _signals_as_interrupts():
    """While painting, SIGTERM and SIGHUP raise :class:`Terminated` (once: a second
    one while the image is being saved is ignored, so the save completes).

    A signal already ignored (``nohup`` ignores SIGHUP) stays ignored. Python only
    lets the main thread set handlers; elsewhere (a GUI's worker) nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = []

    def handler(signum: int, frame) -> None:
        if not raised:
            raised.append(signum)
            raise Terminated(signum)

    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) is not signal.SIG_IGN:
            previous[number] = signal.signal(number, handler)
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def _stdout_open() -> bool:
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


def _silence_stdout() -> None:
    """After a write to stdout failed (the reader went away), point it at /dev/null,
    so the interpreter's last flush at exit does not print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _input_files(kw: dict) -> list[str]:
    """Every file a painting reads, as far as can be told before loading anything:
    the styles (a pack's image and map), the maps given and found beside them, the
    content, the doodle and a seed image."""
    from doodle import imaging, packs

    def many(value) -> list:
        return [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]

    found: list[str] = []
    for style in many(kw.get("style")):
        pack = packs.as_pack(style)
        found += [str(pack.image), str(pack.map)] if pack is not None else [style]
    found += many(kw.get("style_map")) + many(kw.get("content")) + many(kw.get("target_map"))
    if kw.get("seed") not in (None, "auto", "noise", "content"):
        found.append(kw["seed"])
    try:  # maps beside the images (a bad --semantic-ext is reported by the option check)
        found += [str(imaging.semantic_path(f, kw.get("semantic_ext") or DEFAULTS.semantic_ext)) for f in list(found)]
    except ValueError:
        pass
    return [str(f) for f in found if f is not None]


def _refuse_overwriting_inputs(kw: dict) -> None:
    """InputError when -o, --animation or --log-json names a file the run reads
    (``-o style.jpg --style style.jpg``): the painting would replace its own input."""
    from doodle import imaging

    inputs = _input_files(kw)
    for flag, target in (("-o", kw.get("output")), ("--animation", kw.get("animation")),
                         ("--log-json", kw.get("log_json"))):
        if target in (None, "-"):
            continue
        for source in inputs:
            if imaging.same_file(target, source):
                raise InputError(f"{flag} {target!r} is an input of this painting ({source!r}) and would be "
                                 "overwritten.", f"Give {flag} another file name.")


def _paint(kw: dict, defaults: set, info: RunInfo, reporter: Reporter) -> int:
    """Check, load, paint, save; raises DoodleError (or KeyboardInterrupt) on the way."""
    from doodle import api, planner

    output = kw["output"]
    info.inputs = {"style": kw["style"], "style_pack": None, "style_map": kw["style_map"] or None,
                   "content": kw["content"], "map": kw["target_map"]}
    _setup_jax(kw["device"], kw["compile_cache"], reporter)  # before prepare: loading maps may run JAX
    prepared = prepare(kw, defaults, output, reporter.notice)
    problem, options = prepared.problem, prepared.options
    info.inputs = prepared.inputs
    info.options = reporter.options = options
    _check_paint_outputs(options, info, reporter)
    extractor = api.resolve_extractor(options, reporter.notice)
    info.extractor = extractor.name
    device = planner.select_device(options.device)
    info.device = f"{device.platform} ({device.device_kind})"
    seed = options.random_seed if options.random_seed is not None else int.from_bytes(os.urandom(4), "little") >> 1
    options = options.replace(random_seed=seed, output_size=(problem.size[1], problem.size[0]))
    info.options = options
    reporter.notice(f"painting {problem.size[1]}×{problem.size[0]} with {extractor.name} weights, "
                    f"random seed {seed}")
    image = api.paint_problem(problem, options, extractor=extractor, callback=reporter, notice=reporter.notice)
    _save_outputs(output, image, info.animation, reporter)
    reporter.notice(f"wrote {output if output != '-' else 'PNG to stdout'}"
                    + (f" and {info.animation}" if info.animation else "")
                    + f" in {time.perf_counter() - info.started:.1f}s")
    return EXIT_OK


def _setup_jax(device: str, compile_cache: bool, reporter: Optional[Reporter] = None) -> None:
    """JAX settings that must precede its first computation; a cache folder that
    cannot keep anything is said once, and the compiled programs are not kept."""
    from doodle import weights

    if device == "cpu":
        import jax

        jax.config.update("jax_platforms", "cpu")
    _check_jax_starts()
    problem = weights.cache_problem()
    if problem is not None and reporter is not None:
        reporter.warning(f"{problem}; painting without a cache (the built-in weights' calibration and compiled "
                         "programs are not kept). Set DOODLE_CACHE to a writable folder.")
    if compile_cache and problem is None:
        _enable_compile_cache()


def _check_jax_starts() -> None:
    """Start JAX's backends now, so a platform that cannot start is one line.

    ``JAX_PLATFORMS=cuda`` on a machine without CUDA makes JAX raise a bare
    AssertionError (an unknown name, a RuntimeError) from deep inside its first
    computation. Named by the user, it is bad input (exit 2); otherwise the machine
    failed (exit 1).
    """
    import jax

    try:
        jax.devices()
    except (RuntimeError, AssertionError) as e:
        named = os.environ.get("JAX_PLATFORMS")
        if named:
            raise InputError(f"JAX cannot start the platform JAX_PLATFORMS={named!r} names on this machine"
                             + (f" ({e})" if str(e) else ""),
                             "Unset JAX_PLATFORMS, set it to cpu, or give --device cpu.") from None
        raise DoodleError(f"JAX could not start: {e or type(e).__name__}.",
                          "Check the JAX installation, or give --device cpu.") from None


def _check_paint_outputs(options: Options, info: RunInfo, reporter: Reporter) -> None:
    """The outputs only ``paint`` writes (frames, the animation), checked before painting."""
    from doodle import imaging, reporting

    if options.save_every > 0:
        imaging.check_folder(options.frames_dir, "--frames-dir")
    if info.animation is not None:
        _check_animation(info.animation)
        reporter.animation = reporting.Animation(options.save_every or options.print_every)


class _GuardedLog(JsonLog):
    """``--log-json`` that survives its disk filling up or its reader leaving: the
    first failed write is kept in ``failed`` and later ones are skipped, so the
    painting goes on and is saved; the run then ends with exit 1 saying so."""

    failed: Optional[OSError] = None

    def write(self, record) -> None:
        if self.failed is not None:
            return
        try:
            super().write(record)
        except (OSError, ValueError) as e:  # ValueError: written after the stream closed
            self.failed = e
            if not self.owned:
                _silence_stdout()

    def close(self) -> None:
        try:
            super().close()
        except OSError as e:  # the last buffered bytes did not fit either
            self.failed = self.failed or e


def _log_error(target: str, e: Exception) -> WriteError:
    reason = getattr(e, "strerror", None) or str(e)
    return WriteError(f"cannot write --log-json {target!r}: {reason}; the log is incomplete.",
                      "Free some space, or log somewhere else.", path=target)


def _open_log(target: str) -> JsonLog:
    try:
        return _GuardedLog.open(target)
    except OSError as e:
        raise InputError(f"cannot write --log-json {target!r}: {e.strerror}.",
                         "Check that its folder exists and is writable.") from None


def _finish_log(reporter: Reporter, info: RunInfo, code: int, error: Optional[str]) -> None:
    """Write the summary line and close the log (if there is one)."""
    from doodle import __version__, reporting

    if reporter.log is None:
        return
    reporter.log.write(reporting.summary_record(info, reporter.phases, code, error, version=__version__))
    reporter.log.close()


def _check_animation(path: str) -> None:
    from doodle import imaging

    if Path(path).suffix.lower() != ".gif":
        raise InputError(f"--animation {path!r} must end in .gif.", "Use e.g. --animation painting.gif.")
    imaging.check_writable(path)


def _print_error(e: DoodleError, reporter: Optional[Reporter] = None) -> str:
    """Print the one error line (after ending a progress bar's line); returns its text."""
    if reporter is not None:
        reporter.break_line()
    click.echo(error_line(e), err=True)
    return str(e)


def _save_outputs(output: str, image, animation: Optional[str], reporter: Reporter) -> None:
    """The image (to ``output``, "-" being stdout) and then the --animation GIF."""
    from doodle import imaging

    _save(output, image)
    frames = reporter.animation
    if animation is not None and frames is not None:
        frames.finish(image)
        imaging.write_bytes(animation, frames.encode(image.shape[:2]))


def _save(output: str, image) -> None:
    from doodle import imaging

    if output == "-":
        try:
            sys.stdout.buffer.write(imaging.encode_image(image, ".png"))
            sys.stdout.buffer.flush()
        except (OSError, ValueError, AttributeError) as e:  # the reader left (EPIPE), a full disk…
            _silence_stdout()
            reason = getattr(e, "strerror", None) or "stdout is closed"
            raise WriteError(f"cannot write the PNG to stdout: {reason}.",
                             "Check the command that reads doodle's output.", path="-") from None
    else:
        imaging.write_image(output, image)


@main.command("plan")
@paint_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan_command(**kw) -> None:
    """Show the memory plan of a painting: per phase its size, patches, slices, device, peak.

    Takes the same arguments as `doodle paint` and paints nothing.
    """
    import json

    from doodle import api, planner

    ctx = click.get_current_context()
    defaults = {k for k in kw if ctx.get_parameter_source(k) == click.core.ParameterSource.DEFAULT}
    try:
        _refuse_overwriting_inputs(kw)  # as `paint` does: the same arguments mean the same
        if kw["device"] == "cpu":
            import jax

            jax.config.update("jax_platforms", "cpu")
        _check_jax_starts()  # the planner asks JAX for its devices
        prepared = prepare(kw, defaults, kw["output"])
        options = api.extractor_defaults(prepared.options, prepared.problem)
        run_plan = api.make_plan(prepared.problem, None, options)
    except DoodleError as e:
        click.echo(error_line(e), err=True)
        sys.exit(e.exit_code)
    if kw["as_json"]:
        click.echo(json.dumps(run_plan.as_dict(), indent=1))
        return
    budgets = ", ".join(f"{d} {b / 2**20:,.0f} MiB" for d, b in run_plan.budgets.items())
    click.echo(f"budget: {budgets}")
    click.echo(f"{'phase':>5} {'size':>9} {'style':>9} {'device':>6} {'layer':>5} {'patches out×style':>20} "
               f"{'slices':>6} {'peak':>10}")
    for p in run_plan.phases:
        size, style = f"{p.size[1]}×{p.size[0]}", f"{p.style_size[1]}×{p.style_size[0]}"
        if p.skipped:
            click.echo(f"{p.phase:>5} {size:>9} {style:>9}  skipped: too small for a 3×3 patch")
            continue
        for j, lp in enumerate(p.layers):
            head = f"{p.phase:>5} {size:>9} {style:>9} {p.device:>6}" if j == 0 else " " * 32
            peak = f"{p.peak_bytes / 2**20:8,.0f}Mi" if j == 0 else ""
            slices = "window" if lp.propagated else lp.slices
            click.echo(f"{head} {lp.layer:>5} {f'{lp.out_patches:,}×{lp.style_patches:,}':>20} {slices:>6} {peak:>10}")
    click.echo(f"predicted peak: {planner._mib(run_plan.peak_bytes)}")


def _register() -> None:
    from doodle.cli_maps import check_command, segment_command, styles_command
    from doodle.cli_weights import weights

    for command in (styles_command, check_command, segment_command, weights):
        main.add_command(command)
    main.add_command(__import__("doodle.cli_batch", fromlist=["batch"]).batch)


_register()


def entry() -> None:
    """Console-script entry: click's usage errors become one line and exit code 2."""
    try:
        code = main.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("doodle: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as e:
        _fail(e.format_message(), EXIT_USAGE)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    # Without standalone mode click hands back the code a command gave ctx.exit()
    # (`check`: 1 for missing colours, 2 for an unreadable file) instead of exiting
    # with it; commands that return normally give None.
    sys.exit(code if isinstance(code, int) else EXIT_OK)


if __name__ == "__main__":  # pragma: no cover
    entry()
