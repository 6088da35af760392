"""CLI commands about maps and packs: ``styles``, ``check`` and ``segment``.

They are plain click commands; the main group in :mod:`doodle.cli` registers them.
Errors the user can fix end the command with one line, ``doodle: error: …``, and
exit status 2 (the same convention as the main command).
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import click
import imageio.v3 as iio
import numpy as np

from doodle import maps, packs
from doodle.errors import DoodleError, InputError, error_line
from doodle.imaging import check_writable, read_image, same_file, write_image

# Exit statuses of `check`.
COMPATIBLE, INCOMPATIBLE = 0, 1


def _fail(ctx: click.Context, err: DoodleError) -> None:
    """Print one clean line and exit with the error's status."""
    click.echo(error_line(err), err=True)
    ctx.exit(err.exit_code)


def _image_size(path: Path) -> str:
    """"W×H" of an image file without decoding its pixels, or why not."""
    if not path.is_file():
        return "image missing"
    try:
        shape = iio.improps(path).shape
    except Exception:  # any decoder failure means the same thing to the reader
        return "unreadable image"
    return f"{shape[1]}×{shape[0]}"


def format_pack(pack: packs.Pack) -> str:
    """A pack's listing for ``doodle styles``: header line, description, legend, licence."""
    lines = [f"{pack.name}  ({_image_size(pack.image)})"]
    if pack.description:
        lines += textwrap.wrap(pack.description, 78, initial_indent="  ", subsequent_indent="  ")
    for colour, meaning in pack.legend.items():
        lines.append(f"    {colour}  {meaning}")
    if pack.options:
        lines.append("  options: " + ", ".join(f"{k}={v}" for k, v in pack.options.items()))
    lines.append(f"  licence: {pack.licence}")
    return "\n".join(lines)


@click.command("styles")
def styles_command() -> None:
    """List the style packs with their colour legends.

    Packs are folders under $DOODLE_STYLES (default: the packs installed with
    doodle, or the styles/ folder of a checkout). Paint a doodle in a pack's legend colours, then give the pack's
    name instead of a style image.
    """
    ctx = click.get_current_context()
    root = packs.styles_dir()
    try:
        found = packs.list_packs(root)
    except DoodleError as e:
        _fail(ctx, e)
        return
    if not found:  # a broken install or a wrong $DOODLE_STYLES, not an empty listing
        _fail(ctx, DoodleError(f"no style packs in {root}.",
                               "Set DOODLE_STYLES to a folder of packs, or reinstall doodle."))
        return
    click.echo("\n\n".join(format_pack(p) for p in found))


def _read_map(arg: str, what: str) -> tuple[np.ndarray, dict[str, str]]:
    """A map file, or a pack's map when ``arg`` is a bare name that is no file.

    Returns ((H, W, 3) uint8 map, legend: the pack's, or empty for a plain file).
    """
    path = Path(arg)
    if not path.exists() and path.name == arg and not path.suffix:
        pack = packs.find_pack(arg)
        if pack is None:
            raise InputError(f"{what} {arg!r} is neither a file nor a style pack.", "See: doodle styles")
        return read_image(pack.map, f"{what} of pack {pack.name!r}"), pack.legend
    return read_image(path, what), {}


@click.command("check")
@click.argument("style_map")
@click.argument("doodle_map")
def check_command(style_map: str, doodle_map: str) -> None:
    """Check that DOODLE_MAP only uses colours of STYLE_MAP.

    STYLE_MAP is a map image or a style pack's name. Anti-aliased edges are snapped to
    their regions first and counted. Exit status: 0 compatible, 1 doodle colours
    missing from the style map, 2 a file could not be read.
    """
    ctx = click.get_current_context()
    try:
        style, legend = _read_map(style_map, "style map")
        doodle, _ = _read_map(doodle_map, "doodle map")
    except DoodleError as e:
        _fail(ctx, e)
        return
    report = maps.check(style, doodle)
    click.echo(maps.format_report(report, legend))
    ctx.exit(COMPATIBLE if report.compatible else INCOMPATIBLE)


@click.command("segment")
@click.argument("style")
@click.option("-k", "--regions", "k", type=click.IntRange(1, len(maps.SEGMENT_COLOURS)), default=4,
              show_default=True, help="Number of colours (regions) in the map.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the map [default: STYLE's name + _sem.png, beside it].")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the clustering.")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
def segment_command(style: str, k: int, output: Path | None, seed: int, force: bool) -> None:
    """Draw a semantic map for STYLE automatically (k-means on colour and position).

    A starting point for images without a map: regions are smooth and connected,
    coloured from a fixed palette of distinct hues. Touch it up in an image editor
    (without anti-aliasing) for best results.
    """
    ctx = click.get_current_context()
    out = output if output is not None else Path(style).with_name(Path(style).stem + "_sem.png")
    try:
        image = read_image(style, "style image")
        if out.exists() and not force:
            raise InputError(f"output {str(out)!r} already exists.", "Pass --force to overwrite it.")
        if same_file(out, style):
            raise InputError(f"output {str(out)!r} is the image being segmented.", "Give -o another file name.")
        check_writable(out)
        try:
            sem = maps.segment(image, k, seed=seed)
        except ValueError as e:  # more regions than pixels
            raise InputError(f"cannot segment {style!r}: {e}.") from None
        write_image(out, sem)
    except DoodleError as e:
        _fail(ctx, e)
        return
    h, w = sem.shape[:2]
    click.echo(f"wrote {out} ({w}×{h}, {k} colour{'s' if k != 1 else ''})")
