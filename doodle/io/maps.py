"""Semantic maps as arrays: palettes, anti-aliasing fringes, snapping, checks.

A semantic map is an (H, W, 3) uint8 RGB image of flat colour regions; each colour
means one kind of thing ("sky", "tree"…). Patch matching compares colours, so a doodle
must use exactly the style map's colours. Editors break that silently: anti-aliased
brushes and resizing leave thin *fringes* of in-between colours along every edge,
which match nothing (or, worse, match a third region whose colour happens to lie
between the two). This module finds them, snaps them away and reports mismatches
(``doodle check``); :mod:`doodle.io.segment` builds a map for a style image that has none.

Everything here is pure numpy on arrays; reading and writing files is the CLI's job.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from doodle.core import labels

# A colour is "main" (a real region, not a fringe) when it covers at least this
# fraction of the map...
MIN_FRACTION = 0.002
# ...and at least this share of that minimum lies inside 3×3 blocks of itself:
# fringes are 1–2 px wide lines, so almost none of their pixels are interior.
MIN_INTERIOR_SHARE = 0.25
# `snap` grows regions into fringes at most this many times (radius px each).
MAX_GROW_ROUNDS = 16

# Doodle colours this close (Euclidean RGB) to a style colour count as that colour:
# JPEG and colour-managed editors shift flat colours by a few units, which changes
# nothing for patch matching.
COLOUR_TOLERANCE = 8.0

# ---------------------------------------------------------------------------
# Colours


def hex_colour(colour: np.ndarray | tuple[int, int, int]) -> str:
    """(3,) RGB -> "#rrggbb" (lower case, as in style.toml legends)."""
    r, g, b = (int(c) for c in colour)
    return f"#{r:02x}{g:02x}{b:02x}"


def parse_hex(text: str) -> tuple[int, int, int]:
    """"#rrggbb" or "rrggbb" (any case) -> (r, g, b); ValueError otherwise."""
    s = text.strip().lstrip("#")
    if len(s) != 6:
        raise ValueError(f"not a #rrggbb colour: {text!r}")
    try:
        return int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16)
    except ValueError:
        raise ValueError(f"not a #rrggbb colour: {text!r}") from None


def _interior(codes: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels whose whole 3×3 neighbourhood (inside the image) is their colour."""
    h, w = codes.shape
    same = np.ones((h, w), dtype=bool)
    padded = np.pad(codes, 1, mode="edge")  # the border counts as "same": edges of the canvas aren't fringes
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            same &= padded[dy : dy + h, dx : dx + w] == codes
    return same


def _isolated(codes: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels none of whose 8 neighbours shares their colour."""
    h, w = codes.shape
    padded = np.pad(codes, 1, mode="constant", constant_values=-1)
    alone = np.ones((h, w), dtype=bool)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            if dy == 1 and dx == 1:
                continue
            alone &= padded[dy : dy + h, dx : dx + w] != codes
    return alone & (h * w > 1)


# ---------------------------------------------------------------------------
# Fringes and snapping


def main_colours(map_rgb: np.ndarray, min_fraction: float = MIN_FRACTION) -> np.ndarray:
    """The colours of a map's real regions, most common first. (H, W, 3) uint8 -> (K, 3) uint8.

    A colour is main when it covers at least ``min_fraction`` of the map and enough of
    its pixels sit inside solid 3×3 blocks. Anti-aliased edges are the rare
    in-between colours in 1–2 px lines, so they fail the second test even along a long
    straight edge. A map with no such colour (a tiny or noisy one) falls back to its
    most common colour, so the result is never empty.
    """
    a = labels.check_map(map_rgb)
    codes = labels.codes(a)
    n = codes.size
    inside = codes[_interior(codes)]
    colours, counts = labels.palette(a)
    interior_counts = dict(zip(*np.unique(inside, return_counts=True)))
    need = max(1.0, min_fraction * n)
    keep = [
        i
        for i, (code, count) in enumerate(zip(labels.codes(colours), counts))
        if count >= need and interior_counts.get(code, 0) >= max(1.0, MIN_INTERIOR_SHARE * need)
    ]
    if not keep:
        keep = [0]
    return colours[keep]


def _as_palette(map_rgb: np.ndarray, palette_rgb: np.ndarray | None) -> np.ndarray:
    if palette_rgb is None:
        return main_colours(map_rgb)
    p = np.asarray(palette_rgb, dtype=np.uint8).reshape(-1, 3)
    if len(p) == 0:
        raise ValueError("the palette is empty")
    return p


def fringe_mask(map_rgb: np.ndarray, palette_rgb: np.ndarray | None = None) -> np.ndarray:
    """Pixels that belong to no region: (H, W, 3) uint8 -> (H, W) bool.

    A pixel is fringe when its colour is not in ``palette_rgb`` ((K, 3) uint8; default
    :func:`main_colours` of the map), or when it has a palette colour but stands alone
    (no 8-neighbour shares it): anti-aliasing between red and blue makes stray purple
    pixels, which would otherwise count as a third region.
    """
    a = labels.check_map(map_rgb)
    p = _as_palette(a, palette_rgb)
    codes = labels.codes(a)
    return ~np.isin(codes, labels.codes(p)) | _isolated(codes)


def snap(map_rgb: np.ndarray, palette_rgb: np.ndarray | None = None, radius: int = 2) -> np.ndarray:
    """Make every pixel a palette colour. (H, W, 3) uint8 -> (H, W, 3) uint8.

    Pixels of a palette colour stay (unless isolated, see :func:`fringe_mask`). Each
    fringe pixel takes, among the palette colours present within ``radius`` pixels,
    the one closest to it in RGB: an anti-aliased pixel is a blend of the two regions
    it separates, so this puts the edge where the blend is half-way, i.e. on the
    original boundary. Pixels with no region nearby wait for their neighbours to be
    resolved (the loop grows regions into wide fringes, up to ``MAX_GROW_ROUNDS`` times);
    whatever is left takes the nearest palette colour in RGB.
    """
    a = labels.check_map(map_rgb)
    p = _as_palette(a, palette_rgb)
    codes = labels.codes(a)
    k = len(p)
    # label: index into p, or -1 while unresolved.
    lookup = {int(c): i for i, c in enumerate(labels.codes(p))}
    label = np.full(codes.shape, -1, dtype=np.int64)
    for code, i in lookup.items():
        label[codes == code] = i
    label[fringe_mask(a, p)] = -1

    # Squared RGB distance from every pixel to every palette colour: (K, H, W).
    diff = a.astype(np.int64)[None] - p.astype(np.int64)[:, None, None, :]
    dist = (diff * diff).sum(axis=-1)

    # Each round reaches `radius` px further; anything farther than a few dozen px from
    # every region is no anti-aliasing, and takes its nearest colour below.
    for _ in range(MAX_GROW_ROUNDS):
        todo = label < 0
        if not todo.any():
            break
        present = np.stack([labels.box_sum(label == i, radius) > 0 for i in range(k)])
        candidate = np.where(present, dist, np.iinfo(np.int64).max)
        reachable = todo & present.any(axis=0)
        if not reachable.any():
            break
        label[reachable] = candidate.argmin(axis=0)[reachable]
    todo = label < 0
    if todo.any():
        label[todo] = dist.argmin(axis=0)[todo]
    return p[label]


def snap_to(map_rgb: np.ndarray, palette_rgb: np.ndarray, radius: int = 2) -> np.ndarray:
    """Snap a map to another map's palette (a doodle to its style map's main colours).

    (H, W, 3) uint8 map, (K, 3) uint8 palette -> (H, W, 3) uint8 of palette colours.
    Each of the map's own main colours is first replaced, whole, by the palette colour
    nearest it in RGB (itself when it is one): a region drawn in a colour the palette
    lacks becomes one region of its closest colour, where :func:`snap` alone would eat
    it from its edges by its neighbours. Then :func:`snap` resolves the fringes.
    """
    a = labels.check_map(map_rgb)
    p = _as_palette(a, palette_rgb)
    own = main_colours(a)
    diff = own.astype(np.int64)[:, None] - p.astype(np.int64)[None]
    nearest = p[(diff * diff).sum(axis=-1).argmin(axis=1)]
    codes = labels.codes(a)
    out = a.copy()
    for code, colour in zip(labels.codes(own), nearest):
        out[codes == code] = colour
    return snap(out, p, radius)


# ---------------------------------------------------------------------------
# Checking a doodle against a style map


@dataclasses.dataclass(frozen=True)
class ColourArea:
    """One colour of a map and the fraction of the map's area it covers (0..1)."""

    colour: str  # "#rrggbb"
    fraction: float


@dataclasses.dataclass(frozen=True)
class MissingColour:
    """A doodle colour the style map lacks exactly, with the closest style colour."""

    colour: str  # "#rrggbb"
    fraction: float  # of the doodle's area
    nearest: str  # closest style colour, "#rrggbb"
    distance: float  # Euclidean RGB distance to it


@dataclasses.dataclass(frozen=True)
class MapReport:
    """What :func:`check` found. Palettes are of the snapped maps, most common first."""

    style_size: tuple[int, int]  # (width, height)
    doodle_size: tuple[int, int]
    style_palette: tuple[ColourArea, ...]
    doodle_palette: tuple[ColourArea, ...]
    missing: tuple[MissingColour, ...]  # doodle colours absent from the style map
    approximate: tuple[MissingColour, ...]  # doodle colours within tolerance of a style colour
    unused: tuple[ColourArea, ...]  # style colours the doodle doesn't use (harmless)
    style_fringe: int  # fringe pixels in the style map as given
    doodle_fringe: int

    @property
    def compatible(self) -> bool:
        """True when every doodle colour has style patches to copy from."""
        return not self.missing


def _areas(map_rgb: np.ndarray) -> tuple[ColourArea, ...]:
    colours, counts = labels.palette(map_rgb)
    total = float(counts.sum())
    return tuple(ColourArea(hex_colour(c), float(n) / total) for c, n in zip(colours, counts))


def check(style_map: np.ndarray, doodle_map: np.ndarray, tolerance: float = COLOUR_TOLERANCE) -> MapReport:
    """Compare a doodle with the style map it will be painted from.

    Both (H, W, 3) uint8, any sizes. Each map is snapped to its own main colours first,
    so anti-aliasing alone never makes a colour "missing"; the fringe counts tell the
    user how much snapping was needed. A doodle colour within ``tolerance`` (RGB
    distance) of a style colour is *approximate*, not missing.
    """
    style = labels.check_map(style_map)
    doodle = labels.check_map(doodle_map)
    style_snapped = snap(style)
    doodle_snapped = snap(doodle)
    style_palette = _areas(style_snapped)
    doodle_palette = _areas(doodle_snapped)
    style_set = {c.colour for c in style_palette}
    style_rgb = np.array([parse_hex(c.colour) for c in style_palette], dtype=np.float64)

    used: set[str] = set()  # style colours some doodle colour stands for
    missing, approximate = [], []
    for entry in doodle_palette:
        if entry.colour in style_set:
            used.add(entry.colour)
            continue
        d = np.sqrt(((style_rgb - np.array(parse_hex(entry.colour), dtype=np.float64)) ** 2).sum(axis=1))
        j = int(d.argmin())
        found = MissingColour(entry.colour, entry.fraction, style_palette[j].colour, float(d[j]))
        if d[j] <= tolerance:
            approximate.append(found)
            used.add(found.nearest)
        else:
            missing.append(found)
    return MapReport(
        style_size=(style.shape[1], style.shape[0]),
        doodle_size=(doodle.shape[1], doodle.shape[0]),
        style_palette=style_palette,
        doodle_palette=doodle_palette,
        missing=tuple(missing),
        approximate=tuple(approximate),
        unused=tuple(c for c in style_palette if c.colour not in used),
        style_fringe=int(fringe_mask(style).sum()),
        doodle_fringe=int(fringe_mask(doodle).sum()),
    )


def _format_map(
    title: str, size: tuple[int, int], colours: tuple[ColourArea, ...], fringe: int, legend: dict[str, str]
) -> list[str]:
    w, h = size
    lines = [f"{title}: {w}×{h}, {len(colours)} colour{'s' if len(colours) != 1 else ''}"]
    lines += [f"  {c.colour}  {100 * c.fraction:5.1f}%{_meaning(c.colour, legend)}" for c in colours]
    if fringe:
        pct = 100.0 * fringe / (w * h)
        plural = "s" if fringe != 1 else ""
        lines.append(f"  {fringe} fringe pixel{plural} ({pct:.1f}%) snapped to neighbouring regions")
    return lines


def _meaning(colour: str, legend: dict[str, str]) -> str:
    """"  sky" for a table column, or "" when the legend doesn't name the colour."""
    return f"  {legend[colour]}" if colour in legend else ""


def _named(colour: str, legend: dict[str, str]) -> str:
    """"#4aa8ff (sky)" inside a sentence, or just the colour."""
    return f"{colour} ({legend[colour]})" if colour in legend else colour


def format_report(report: MapReport, legend: dict[str, str] | None = None) -> str:
    """A human-readable summary of :func:`check`'s report, several lines, no trailing newline.

    ``legend`` ("#rrggbb" -> meaning, e.g. a style pack's) names the style colours.
    """
    legend = legend or {}
    lines = _format_map("style map", report.style_size, report.style_palette, report.style_fringe, legend)
    lines += _format_map("doodle map", report.doodle_size, report.doodle_palette, report.doodle_fringe, legend)
    if report.approximate:
        lines.append("doodle colours close enough to a style colour to count as it:")
        lines += [
            f"  {m.colour} -> {_named(m.nearest, legend)}, distance {m.distance:.0f}"
            for m in report.approximate
        ]
    if report.unused:
        unused = ", ".join(_named(c.colour, legend) for c in report.unused)
        lines.append(f"style colours the doodle does not use: {unused}")
    if report.missing:
        lines.append("doodle colours missing from the style map (nothing to paint them with):")
        for m in report.missing:
            lines.append(
                f"  {m.colour}  {100 * m.fraction:5.1f}% of the doodle"
                f" (closest style colour {_named(m.nearest, legend)}, distance {m.distance:.0f})"
            )
        lines.append("not compatible: repaint those areas in style map colours.")
    else:
        lines.append("compatible: every doodle colour has a style colour to paint from.")
    return "\n".join(lines)
