"""``doodle check`` and ``doodle segment``: a doodle's map checked against a style's,
and a map drawn for a style that has none."""
from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from doodle.io import maps, segment
from doodle.plan import packs
from doodle.cli.errors import reports_errors
from doodle.errors import InputError
from doodle.io.imaging import check_writable, read_image, same_file, write_image

# Exit statuses of `check`.
COMPATIBLE, INCOMPATIBLE = 0, 1


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
@reports_errors
def check_command(style_map: str, doodle_map: str) -> None:
    """Check that DOODLE_MAP only uses colours of STYLE_MAP.

    STYLE_MAP is a map image or a style pack's name. Anti-aliased edges are snapped to
    their regions first and counted. Exit status: 0 compatible, 1 doodle colours
    missing from the style map, 2 a file could not be read.
    """
    style, legend = _read_map(style_map, "style map")
    doodle, _ = _read_map(doodle_map, "doodle map")
    report = maps.check(style, doodle)
    click.echo(maps.format_report(report, legend))
    click.get_current_context().exit(COMPATIBLE if report.compatible else INCOMPATIBLE)


@click.command("segment")
@click.argument("style")
@click.option("-k", "--regions", "k", type=click.IntRange(1, len(segment.SEGMENT_COLOURS)), default=4,
              show_default=True, help="Number of colours (regions) in the map.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the map [default: STYLE's name + _sem.png, beside it].")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the clustering.")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@reports_errors
def segment_command(style: str, k: int, output: Path | None, seed: int, force: bool) -> None:
    """Draw a semantic map for STYLE automatically (k-means on colour and position).

    A starting point for images without a map: regions are smooth and connected,
    coloured from a fixed palette of distinct hues. Touch it up in an image editor
    (without anti-aliasing) for best results.
    """
    out = output if output is not None else Path(style).with_name(Path(style).stem + "_sem.png")
    image = read_image(style, "style image")
    if out.exists() and not force:
        raise InputError(f"output {str(out)!r} already exists.", "Pass --force to overwrite it.")
    if same_file(out, style):
        raise InputError(f"output {str(out)!r} is the image being segmented.", "Give -o another file name.")
    check_writable(out)
    try:
        sem = segment.segment(image, k, seed=seed)
    except ValueError as e:  # more regions than pixels
        raise InputError(f"cannot segment {style!r}: {e}.") from None
    write_image(out, sem)
    h, w = sem.shape[:2]
    click.echo(f"wrote {out} ({w}×{h}, {k} colour{'s' if k != 1 else ''})")
