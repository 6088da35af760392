"""Options written as text: how the fields that are no plain number read and show.

``"512x384"``, ``"16:240"``, ``"3_1,4_1"``, ``"8G"``: the command line's flags and a
batch's job files give these fields the same way, through these parsers. Each takes
the name to blame in its message (a flag, or a job file's key).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

from doodle.errors import InputError


def parse_size(text: str, name: str) -> tuple[int, int]:
    """"512x384" -> (512, 384) as (width, height)."""
    hint = f"Use e.g. {name} 512x384."
    parts = text.lower().replace("×", "x").split("x")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise InputError(f"{name} {text!r} is not WIDTHxHEIGHT.", hint) from None
    if w < 1 or h < 1:
        raise InputError(f"{name} {text!r} must be positive.", hint)
    return w, h


def parse_memory(text: str, name: str) -> int:
    """"8G" -> bytes."""
    from doodle.plan import planner

    try:
        return planner.parse_size(text)
    except (ValueError, IndexError):
        raise InputError(f"{name} {text!r} is not a size.", f"Use e.g. {name} 8G or 512M.") from None


def parse_range(text: str, name: str) -> tuple[float, float]:
    """"16:240" -> (16.0, 240.0)."""
    try:
        lo, hi = (float(p) for p in text.split(":"))
    except ValueError:
        raise InputError(f"{name} {text!r} is not LOW:HIGH.", f"Use e.g. {name} 16:240.") from None
    return lo, hi


def parse_layers(text: str, name: str) -> tuple[str, ...]:
    """"3_1,4_1" (also "relu3_1", "conv4_1") -> ("3_1", "4_1")."""
    from doodle.core import vgg

    layers = []
    for item in text.split(","):
        name = item.strip().lower().removeprefix("relu").removeprefix("conv")
        if name not in vgg.CHANNELS:
            raise InputError(f"{name}: unknown layer {item.strip()!r}.",
                             f"Known layers: {','.join(vgg.LAYER_NAMES)} (VGG16 lacks 3_4, 4_4, 5_4).")
        layers.append(name)
    if not layers:
        raise InputError(f"{name} is empty.", "Use e.g. 3_1,4_1.")
    return tuple(layers)


class Text(NamedTuple):
    """A field given as text: how to read it, and how its default reads."""

    parse: Callable[[str, str], Any]  # (text, name) -> value; InputError naming the option
    show: Callable[[Any], str] = str
    metavar: Optional[str] = None


def number_text(x: Any) -> str:
    """A number as short text that reads back as the same number (25.0 -> "25")."""
    short = f"{x:g}"
    return short if float(short) == x else repr(float(x))


TEXT = {
    "output_size": Text(parse_size, show=lambda s: f"{s[0]}x{s[1]}"),
    "content_layers": Text(parse_layers, show=",".join),
    "style_layers": Text(parse_layers, show=",".join),
    "seed_range": Text(parse_range, show=lambda r: f"{number_text(r[0])}:{number_text(r[1])}"),
    "max_memory": Text(parse_memory, metavar="SIZE"),
}
