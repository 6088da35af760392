"""``doodle styles``: the style packs with their colour legends."""
from __future__ import annotations

import textwrap
from pathlib import Path

import click

from doodle.plan import packs
from doodle.cli.errors import reports_errors
from doodle.errors import DoodleError


def _image_size(path: Path) -> str:
    """"W×H" of an image file without decoding its pixels, or why not.

    Pillow reads the header only, and imports in a fraction of imageio's time (which
    brings numpy): this listing should be instant.
    """
    from PIL import Image

    if not path.is_file():
        return "image missing"
    try:
        with Image.open(path) as image:
            width, height = image.size
    except Exception:  # any decoder failure means the same thing to the reader
        return "unreadable image"
    return f"{width}×{height}"


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
@reports_errors
def styles_command() -> None:
    """List the style packs with their colour legends.

    Packs are folders under $DOODLE_STYLES (default: the packs installed with
    doodle, or the styles/ folder of a checkout). Paint a doodle in a pack's legend colours, then give the pack's
    name instead of a style image.
    """
    root = packs.styles_dir()
    found = packs.list_packs(root)
    if not found:  # a broken install or a wrong $DOODLE_STYLES, not an empty listing
        raise DoodleError(f"no style packs in {root}.", "Set DOODLE_STYLES to a folder of packs, or reinstall doodle.")
    click.echo("\n\n".join(format_pack(p) for p in found))
