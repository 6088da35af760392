"""The ``doodle`` command line (click only: parsing, printing, exit codes).

Exit codes: 0 done, 1 runtime failure (divergence, out of memory…), 2 bad input
or usage, 130 interrupted (the latest image is saved).
"""
from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path
from typing import Optional

import click

from doodle.errors import DivergenceError, DoodleError, InputError
from doodle.options import DEFAULTS, Options

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
Exit codes: 0 done, 1 runtime failure, 2 bad input or usage, 130 interrupted
(the latest image is saved).
"""


def _fail(message: str, code: int = EXIT_USAGE) -> "NoReturn":  # noqa: F821
    click.echo(f"doodle: error: {message}", err=True)
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


class Reporter:
    """Turns Progress events into stderr lines, frames, and a last-image memory."""

    def __init__(self, options: Options, quiet: bool, stem: str) -> None:
        self.options = options
        self.quiet = quiet
        self.stem = stem
        self.last = None  # (h, w, 3) float32 image of the latest evaluation
        self.tty = sys.stderr.isatty()

    def notice(self, text: str) -> None:
        if not self.quiet:
            click.echo(f"doodle: {text}", err=True)

    def __call__(self, p) -> None:
        from doodle import imaging
        from doodle.api import to_uint8

        if p.image is not None:
            self.last = p.image
        if p.event == "skipped":
            self.notice(p.message)
        elif p.event == "phase":
            self.notice(f"phase {p.phase}/{p.phases} at {p.shape[1]}×{p.shape[0]}, {p.iterations} iterations")
        elif p.event == "iteration":
            every = self.options.print_every
            if self.tty and not self.quiet:
                rate = p.seconds / max(p.iteration, 1)
                eta = rate * (p.iterations - p.iteration)
                width = 24
                done = int(width * p.iteration / p.iterations)
                click.echo(f"\r  [{'#' * done}{'.' * (width - done)}] {p.iteration:>4}/{p.iterations} "
                           f"loss {p.loss:10.4g}  {rate:5.2f} s/it  eta {eta:5.0f}s ", err=True, nl=False)
            elif every and (p.iteration % every == 0 or p.iteration == 1) and not self.quiet:
                terms = "  ".join(f"{k} {v:.4g}" for k, v in p.terms.items())
                click.echo(f"  {p.iteration:>4}/{p.iterations}  loss {p.loss:.6g}  ({terms})  {p.seconds:.1f}s", err=True)
            if self.options.save_every and p.iteration % self.options.save_every == 0:
                frames = Path(self.options.frames_dir)
                frames.mkdir(parents=True, exist_ok=True)
                imaging.write_image(frames / f"{self.stem}-p{p.phase}-{p.iteration:04d}.png", to_uint8(p.image))
        elif p.event == "done":
            if self.tty and not self.quiet:
                click.echo("", err=True)
            self.notice(f"phase {p.phase} done: loss {p.loss:.6g} after {p.iteration} evaluations "
                        f"in {p.seconds:.1f}s")


def _enable_compile_cache() -> None:
    """Persist compiled XLA programs so a second run compiles (almost) nothing."""
    import jax

    root = os.environ.get("DOODLE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "doodle")
    jax.config.update("jax_compilation_cache_dir", os.path.join(root, "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="doodle", message="doodle %(version)s")
def main() -> None:
    """Turn two-bit doodles into paintings (semantic style transfer)."""


def _float(flag: str, default: float, help: str):
    return click.option(flag, type=float, default=default, show_default=True, help=help)


@main.command(epilog=EPILOG)
@click.option("--style", "style", required=True, help="Style painting (its map: NAME_sem.png beside it).")
@click.option("--style-map", help="The style's semantic map, if not beside it.")
@click.option("--content", help="Content image for style transfer.")
@click.option("--map", "target_map", help="The doodle, or the content's map; default: beside --content or --output.")
@click.option("--output", "-o", default="output.png", show_default=True, help="Output image; '-' writes PNG to stdout.")
@click.option("--output-size", help="WIDTHxHEIGHT of the output, e.g. 512x384.")
@click.option("--semantic-ext", default=DEFAULTS.semantic_ext, show_default=True, help="Suffix of semantic maps.")
@_float("--content-weight", DEFAULTS.content_weight, "Weight of the content loss.")
@click.option("--content-layers", default=",".join(DEFAULTS.content_layers), show_default=True,
              help="Layers of the content loss.")
@_float("--style-weight", DEFAULTS.style_weight, "Weight of the style loss (per layer).")
@click.option("--style-layers", default=None, help="Layers matched for style [default: 3_1,4_1 pretrained; "
              "2_1,3_1,4_1 built-in].")
@_float("--semantic-weight", DEFAULTS.semantic_weight, "Weight of the semantic maps in matching; 0 ignores maps.")
@_float("--smoothness", DEFAULTS.smoothness, "Weight of the total-variation smoothing.")
@_float("--variety", DEFAULTS.variety, "Bias towards using more of the style's patches.")
@click.option("--cache/--no-cache", default=DEFAULTS.cache, show_default=True, help="Match patches once per phase.")
@click.option("--match-every", type=int, default=DEFAULTS.match_every, show_default=True,
              help="Re-match patches every N evaluations (higher is faster).")
@click.option("--phases", type=int, default=DEFAULTS.phases, show_default=True, help="Resolutions, coarse to fine.")
@click.option("--iterations", type=int, default=DEFAULTS.iterations, show_default=True,
              help="Evaluations per phase.")
@click.option("--seed", default=DEFAULTS.seed, show_default=True, help="Start from noise, content, or an image path.")
@click.option("--seed-range", default=f"{DEFAULTS.seed_range[0]:g}:{DEFAULTS.seed_range[1]:g}", show_default=True,
              help="Range of the noise seed.")
@click.option("--random-seed", type=int, default=DEFAULTS.random_seed, help="Make the run reproducible.")
@click.option("--slices", type=int, default=DEFAULTS.slices, help="Match the style bank in N slices [default: auto].")
@click.option("--weights", default=DEFAULTS.weights, show_default=True,
              help="auto, builtin, a known source name, or a weights file.")
@click.option("--device", type=click.Choice(["auto", "cpu", "gpu"]), default=DEFAULTS.device, show_default=True)
@click.option("--print-every", type=int, default=DEFAULTS.print_every, show_default=True,
              help="Log every N iterations when stderr is not a terminal.")
@click.option("--save-every", type=int, default=DEFAULTS.save_every, show_default=True,
              help="Save a frame every N iterations (0: never).")
@click.option("--frames-dir", default=DEFAULTS.frames_dir, show_default=True, help="Where --save-every writes.")
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


def _apply_pack(kw: dict, defaults: set) -> None:
    """``--style NAME`` of a style pack: its image, its map, and its recommended options
    for every option the user left at its default."""
    from doodle import packs

    if Path(kw["style"]).exists():
        return
    try:
        pack = packs.find_pack(kw["style"])
    except DoodleError:
        pack = None
    if pack is None:
        return  # read_image reports the missing file
    kw["style"] = str(pack.image)
    if kw["style_map"] is None:
        kw["style_map"] = str(pack.map)
    for key, value in pack.options.items():
        if key in kw and key in defaults:
            kw[key] = value


def _options(kw: dict) -> Options:
    return Options(
        content_weight=kw["content_weight"],
        content_layers=parse_layers(kw["content_layers"], "--content-layers"),
        style_weight=kw["style_weight"],
        style_layers=parse_layers(kw["style_layers"], "--style-layers"),
        semantic_weight=kw["semantic_weight"],
        smoothness=kw["smoothness"],
        variety=kw["variety"],
        cache=kw["cache"],
        match_every=kw["match_every"],
        phases=kw["phases"],
        iterations=kw["iterations"],
        seed=kw["seed"],
        seed_range=parse_range(kw["seed_range"]),
        random_seed=kw["random_seed"],
        output_size=parse_size(kw["output_size"]),
        slices=kw["slices"],
        device=kw["device"],
        semantic_ext=kw["semantic_ext"],
        weights=kw["weights"],
        print_every=kw["print_every"],
        save_every=kw["save_every"],
        frames_dir=kw["frames_dir"],
    )


def run_paint(kw: dict, defaults: set = frozenset()) -> int:
    """The body of ``doodle paint``; returns the exit code."""
    from doodle import api, imaging

    kw = dict(kw)
    output = kw["output"]
    to_stdout = output == "-"
    reporter: Optional[Reporter] = None
    try:
        _apply_pack(kw, defaults)
        options = _options(kw)
        api.check_options(options)
        if options.device == "cpu":
            import jax

            jax.config.update("jax_platforms", "cpu")
        if kw["compile_cache"]:
            _enable_compile_cache()
        if not to_stdout:
            imaging.check_writable(output)
        target_map, hint = kw["target_map"], ""
        if target_map is None and kw["content"] is None and kw["style_map"] is not False and not to_stdout:
            beside = imaging.semantic_path(output, options.semantic_ext)
            hint = f"{beside} (beside the output) or pass --map"
            if beside.exists():
                target_map = str(beside)
        reporter = Reporter(options, kw["quiet"], Path(output).stem if not to_stdout else "stdout")
        start = time.perf_counter()
        problem = api.build_problem(kw["style"], style_map=kw["style_map"], content=kw["content"],
                                    target_map=target_map, options=options, target_map_hint=hint)
        extractor = api.resolve_extractor(options, reporter.notice)
        seed = options.random_seed if options.random_seed is not None else int.from_bytes(os.urandom(4), "little") >> 1
        options = options.replace(random_seed=seed)
        reporter.notice(f"painting {problem.size[1]}×{problem.size[0]} with {extractor.name} weights, "
                        f"random seed {seed}")
        image = api.paint(problem.style, style_map=problem.style_map, content=problem.content,
                          map=problem.target_map, seed=problem.seed,
                          options=options.replace(output_size=(problem.size[1], problem.size[0])),
                          extractor=extractor, callback=reporter, notice=reporter.notice)
        _save(output, image)
        reporter.notice(f"wrote {output if not to_stdout else 'PNG to stdout'} in {time.perf_counter() - start:.1f}s")
        return EXIT_OK
    except InputError as e:
        _print_error(e)
        return EXIT_USAGE
    except DivergenceError as e:
        _print_error(e)
        if e.image is not None:
            _save(output, api.to_uint8(e.image))
            click.echo(f"doodle: the last good image was saved to {output}", err=True)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        if reporter is not None and reporter.last is not None:
            _save(output, api.to_uint8(reporter.last))
            click.echo(f"\ndoodle: interrupted; the current image was saved to {output}", err=True)
        else:
            click.echo("\ndoodle: interrupted", err=True)
        return EXIT_INTERRUPTED
    except DoodleError as e:
        _print_error(e)
        return e.exit_code


def _print_error(e: DoodleError) -> None:
    click.echo(f"doodle: error: {e}", err=True)


def _save(output: str, image) -> None:
    from doodle import imaging

    if output == "-":
        sys.stdout.buffer.write(imaging.encode_image(image, ".png"))
        sys.stdout.buffer.flush()
    else:
        imaging.write_image(output, image)


def _register() -> None:
    from doodle.cli_maps import check_command, segment_command, styles_command
    from doodle.cli_weights import weights

    for command in (styles_command, check_command, segment_command, weights):
        main.add_command(command)


_register()


def entry() -> None:
    """Console-script entry: click's usage errors become one line and exit code 2."""
    try:
        main.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("doodle: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as e:
        _fail(e.format_message(), EXIT_USAGE)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)


if __name__ == "__main__":  # pragma: no cover
    entry()
