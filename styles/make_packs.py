#!/usr/bin/env python3
"""Build the style packs in this folder: painterly images made from nothing but numpy.

Each pack is a synthetic scene (regions with noisy edges, each with a smooth colour
field and a stroke direction field) *painted* with thousands of brush strokes: capsule
shapes with bristle streaks, dry-brush ends and impasto relief lit from the top left,
over a canvas weave. The scene's region labels are the semantic map, so the map
lines up with the painting exactly; strokes spill at most one pixel over an edge,
as a painter's would.

Build-time tool, not part of the package. Deterministic (fixed seeds); run from
anywhere:

    python3 styles/make_packs.py

The painting helpers here are reused by ``samples/make_samples.py``.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Callable

import imageio.v3 as iio
import numpy as np

HERE = Path(__file__).resolve().parent

# One vocabulary across packs: the same colour means the same thing everywhere, so a
# landscape doodle can be painted with either landscape pack.
SKY = "#4aa8ff"
WATER = "#00e0d0"
HILLS = "#a050e0"
TREES = "#20a040"
GRASS = "#c0f040"
ROCKS = "#e04030"
SAND = "#ffd080"
WALL = "#ff60d0"
TABLE = "#ff9900"
CROCKERY = "#2040ff"
DRINK = "#804000"
FRUIT = "#ffff40"


# ---------------------------------------------------------------------------
# Noise and shapes


def rgb(hex_colour: str) -> np.ndarray:
    """"#rrggbb" -> (3,) float64 in [0, 1]."""
    s = hex_colour.lstrip("#")
    return np.array([int(s[i : i + 2], 16) for i in (0, 2, 4)], dtype=np.float64) / 255.0


def value_noise(h: int, w: int, cell: float, rng: np.random.Generator, octaves: int = 3) -> np.ndarray:
    """Smooth fractal noise, (h, w) float64 in [0, 1]; ``cell`` is the coarsest feature size in px."""
    out = np.zeros((h, w))
    amp, total = 1.0, 0.0
    for _ in range(octaves):
        gh, gw = int(h / cell) + 3, int(w / cell) + 3
        grid = rng.random((gh, gw))
        ys, xs = np.arange(h) / cell, np.arange(w) / cell
        y0, x0 = ys.astype(int), xs.astype(int)
        fy, fx = ys - y0, xs - x0
        fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)  # smoothstep: no grid creases
        a = grid[y0][:, x0]
        b = grid[y0][:, x0 + 1]
        c = grid[y0 + 1][:, x0]
        d = grid[y0 + 1][:, x0 + 1]
        top = a + (b - a) * fx[None]
        bottom = c + (d - c) * fx[None]
        out += amp * (top + (bottom - top) * fy[:, None])
        total += amp
        amp *= 0.5
        cell = max(cell / 2.0, 1.0)
    return out / total


def noise_1d(n: int, cell: float, rng: np.random.Generator, octaves: int = 3) -> np.ndarray:
    """(n,) smooth noise in about [-0.5, 0.5], for wobbly region boundaries."""
    return value_noise(1, n, cell, rng, octaves)[0] - 0.5


def ellipse(h: int, w: int, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    """(h, w) bool: inside the axis-aligned ellipse."""
    yy, xx = np.mgrid[0:h, 0:w]
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def wobble(mask: np.ndarray, rng: np.random.Generator, amount: float, cell: float) -> np.ndarray:
    """Roughen a shape's edge: threshold its blurred indicator against noise. (h, w) bool."""
    h, w = mask.shape
    soft = box_blur(mask.astype(np.float64), max(1, int(amount)))
    n = value_noise(h, w, cell, rng, 2) - 0.5
    return soft + 0.8 * n > 0.5


def box_blur(x: np.ndarray, r: int) -> np.ndarray:
    """(h, w) or (h, w, c) float: mean over a (2r+1)² window, edges clamped."""
    if x.ndim == 3:
        return np.stack([box_blur(x[..., i], r) for i in range(x.shape[2])], axis=-1)
    h, w = x.shape
    p = np.pad(x, r, mode="edge")
    c = np.zeros((h + 2 * r + 1, w + 2 * r + 1))
    c[1:, 1:] = p.cumsum(0).cumsum(1)
    k = 2 * r + 1
    return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)


def lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Blend colours a, b ((3,) or (h, w, 3)) by t ((h, w)): (h, w, 3)."""
    t = np.clip(t, 0.0, 1.0)[..., None]
    return a * (1 - t) + b * t


# ---------------------------------------------------------------------------
# The painter


@dataclasses.dataclass(frozen=True)
class Brush:
    """One pass of strokes over a region, coarse passes first."""

    length: tuple[float, float]  # px, uniform range
    width: tuple[float, float]
    coverage: float  # stroke area laid down / region area
    angle_jitter: float = 0.25  # radians of random deviation from the direction field
    curvature: float = 0.0  # max bend, as a fraction of the length
    dryness: float = 0.35  # how much the bristles run dry towards the stroke's end
    colour_jitter: float = 0.05
    turn: float = 0.0  # radians added to the region's direction field for this pass
    accent_rate: float | None = None  # overrides the region's rate (a pass of flower dabs)


@dataclasses.dataclass
class Region:
    """A semantic region: where it is, what colour it is, how it is painted."""

    name: str  # legend meaning
    map_colour: str  # "#rrggbb" in the semantic map
    mask: np.ndarray  # (h, w) bool
    field: np.ndarray  # (h, w, 3) float in [0, 1]: the scene's colour
    angle: np.ndarray | float  # stroke direction, radians (0 = rightwards, y down)
    brushes: tuple[Brush, ...]
    accents: tuple[str, ...] = ()  # occasional broken-colour dabs
    accent_rate: float = 0.0


def _stroke(
    canvas: np.ndarray,
    height: np.ndarray,
    clip: np.ndarray,
    cy: float,
    cx: float,
    angle: float,
    length: float,
    width: float,
    colour: np.ndarray,
    brush: Brush,
    rng: np.random.Generator,
) -> None:
    """Lay one stroke in place: a bent capsule with bristle streaks and a dry end."""
    h, w = clip.shape
    r = int(math.ceil(length / 2 + width)) + 2
    y0, y1 = max(0, int(cy) - r), min(h, int(cy) + r + 1)
    x0, x1 = max(0, int(cx) - r), min(w, int(cx) + r + 1)
    if y0 >= y1 or x0 >= x1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    dy, dx = yy - cy, xx - cx
    ca, sa = math.cos(angle), math.sin(angle)
    u = dx * ca + dy * sa  # along the stroke
    v = -dx * sa + dy * ca  # across it
    bend = rng.uniform(-brush.curvature, brush.curvature)
    v = v - bend * (u * u) / max(length, 1.0)
    du = np.maximum(np.abs(u) - length / 2, 0.0)
    dist = np.sqrt(du * du + v * v)
    body = np.clip(width / 2 - dist + 0.5, 0.0, 1.0)  # 1 px anti-aliased edge
    if not body.any():
        return
    # Bristles: a random profile across the width, some of them nearly dry.
    n = max(3, int(width * 1.6))
    prof = rng.uniform(0.55, 1.0, n)
    prof[rng.random(n) < 0.18] *= 0.25
    across = np.clip(v / max(width, 1e-6) + 0.5, 0.0, 1.0) * (n - 1)
    bristle = np.interp(across.ravel(), np.arange(n), prof).reshape(across.shape)
    along = np.clip(u / max(length, 1e-6) + 0.5, 0.0, 1.0)
    if rng.random() < 0.5:  # strokes go either way
        along = 1.0 - along
    dry = np.clip((bristle - brush.dryness * along**2) * 3.0, 0.0, 1.0)
    alpha = body * dry * clip[y0:y1, x0:x1]
    shade = 1.0 + 0.14 * (bristle - 0.75)  # paint ridges catch more light
    col = np.clip(colour[None, None, :] * shade[..., None], 0.0, 1.0)
    a3 = alpha[..., None]
    canvas[y0:y1, x0:x1] = canvas[y0:y1, x0:x1] * (1 - a3) + col * a3
    ridge = 0.45 + 0.55 * bristle * (1.0 - 0.5 * along)  # thick at the start, thinner as it runs out
    height[y0:y1, x0:x1] = height[y0:y1, x0:x1] * (1 - alpha) + ridge * alpha


def paint(regions: list[Region], size: tuple[int, int], seed: int, relief: float = 0.9) -> np.ndarray:
    """Paint the regions. size = (w, h); returns (h, w, 3) uint8."""
    w, h = size
    rng = np.random.default_rng(seed)
    canvas = np.zeros((h, w, 3))
    height = np.zeros((h, w))
    # Underpainting: a blurred version of the scene, so no bare canvas shows.
    for reg in regions:
        canvas[reg.mask] = box_blur(reg.field, 4)[reg.mask] * 0.92
    # Strokes may spill one pixel over their region's edge, not more.
    clips = {reg.name: (box_blur(reg.mask.astype(np.float64), 1) > 0).astype(np.float64) for reg in regions}
    n_passes = max(len(reg.brushes) for reg in regions)
    for p in range(n_passes):
        jobs = []
        for reg in regions:
            if p >= len(reg.brushes):
                continue
            brush = reg.brushes[p]
            ys, xs = np.nonzero(reg.mask)
            if len(ys) == 0:
                continue
            mean_area = np.mean(brush.length) * np.mean(brush.width)
            count = int(brush.coverage * len(ys) / max(mean_area, 1.0))
            pick = rng.integers(0, len(ys), count)
            for i in pick:
                jobs.append((reg, brush, int(ys[i]), int(xs[i])))
        rng.shuffle(jobs)  # interleave regions so their edges mingle
        for reg, brush, iy, ix in jobs:
            # Colour and direction come from the centre pixel, which is inside the region.
            cy, cx = iy + rng.uniform(-0.5, 0.5), ix + rng.uniform(-0.5, 0.5)
            base_angle = reg.angle if np.isscalar(reg.angle) else reg.angle[iy, ix]
            angle = float(base_angle) + brush.turn + rng.normal(0.0, brush.angle_jitter)
            colour = reg.field[iy, ix] * (1.0 + rng.normal(0.0, brush.colour_jitter, 3))
            colour *= 1.0 + rng.normal(0.0, brush.colour_jitter)  # value jitter
            rate = reg.accent_rate if brush.accent_rate is None else brush.accent_rate
            if reg.accents and rng.random() < rate:
                colour = 0.35 * colour + 0.65 * rgb(reg.accents[rng.integers(len(reg.accents))])
            _stroke(
                canvas,
                height,
                clips[reg.name],
                cy,
                cx,
                angle,
                rng.uniform(*brush.length),
                rng.uniform(*brush.width),
                np.clip(colour, 0.0, 1.0),
                brush,
                rng,
            )
    return _finish(canvas, height, rng, relief)


def _finish(canvas: np.ndarray, height: np.ndarray, rng: np.random.Generator, relief: float) -> np.ndarray:
    """Impasto lighting from the top left, canvas weave and a touch of grain."""
    h, w = height.shape
    yy, xx = np.mgrid[0:h, 0:w]
    weave = 0.5 + 0.25 * (np.sin(xx * 2.1) * np.sin(yy * 2.1)) + 0.1 * rng.random((h, w))
    bump = height + 0.12 * weave
    gy, gx = np.gradient(bump)
    light = 1.0 + relief * (-(gx + gy) * 0.7)  # light from the top left: slopes facing it brighten
    out = canvas * light[..., None]
    out += rng.normal(0.0, 0.012, out.shape)
    return (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def semantic_map(regions: list[Region], size: tuple[int, int]) -> np.ndarray:
    """Flat map of the regions, later ones on top. (h, w, 3) uint8, no anti-aliasing."""
    w, h = size
    out = np.zeros((h, w, 3), dtype=np.uint8)
    covered = np.zeros((h, w), dtype=bool)
    for reg in regions:
        out[reg.mask] = (rgb(reg.map_colour) * 255 + 0.5).astype(np.uint8)
        covered |= reg.mask
    if not covered.all():
        raise ValueError("the regions leave pixels uncovered")
    return out


def exclusive(masks: list[np.ndarray]) -> list[np.ndarray]:
    """Make masks disjoint, later ones winning (as if painted on top)."""
    taken = np.zeros_like(masks[0])
    out: list[np.ndarray] = []
    for m in reversed(masks):
        out.append(m & ~taken)
        taken |= m
    return out[::-1]


def _tangent(yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    """(h, w) angle of the tangent to the ellipses concentric with (cy, cx, ry, rx)."""
    return np.arctan2((yy - cy) / ry**2, (xx - cx) / rx**2) + math.pi / 2


# ---------------------------------------------------------------------------
# Scenes


def meadow(size: tuple[int, int] = (384, 288), seed: int = 11) -> list[Region]:
    """Impressionist summer landscape: cloudy sky, violet hills, tree clumps, meadow, river."""
    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    y_n, x_n = yy / h, xx / w

    x_row = xx[0] / w
    hill_line = h * (0.40 + 0.07 * np.sin(x_row * 5.2 + 0.6) + 0.05 * np.sin(x_row * 11.0)) + 8 * noise_1d(w, 40, rng)
    ground_line = h * 0.56 + 6 * noise_1d(w, 60, rng) + 0.03 * h * np.sin(xx[0] / w * 3.0)
    below_hills = yy >= hill_line[None]
    ground = yy >= ground_line[None]

    # A river from the horizon, bending, wider towards the viewer.
    t = np.clip((yy - ground_line[None]) / (h - ground_line[None] + 1e-6), 0, 1)
    centre = w * (0.62 - 0.25 * t + 0.08 * np.sin(t * 5.0))
    half = 4 + 46 * t**1.4
    river = ground & (np.abs(xx - centre) < half + 5 * (value_noise(h, w, 25, rng, 2) - 0.5)) & (t > 0.02)

    # Tree clumps: unions of canopy blobs standing on the ground line.
    trees = np.zeros((h, w), dtype=bool)
    for cx0, n, spread, rad in ((0.14, 7, 0.10, 20), (0.86, 5, 0.08, 17), (0.44, 3, 0.04, 11)):
        for _ in range(n):
            cx = w * (cx0 + rng.uniform(-spread, spread))
            base = ground_line[int(np.clip(cx, 0, w - 1))]
            r = rad * rng.uniform(0.7, 1.2)
            cy = base - r * rng.uniform(0.8, 1.8)
            trees |= ellipse(h, w, cy, cx, r * 1.1, r)
        trunk_x = int(w * cx0)
        trees |= (np.abs(xx - trunk_x) < 3) & (yy < ground_line[trunk_x] + 4) & (yy > ground_line[trunk_x] - 2 * rad)
    trees = wobble(trees, rng, 2, 6) & (yy < ground_line[None] + 10)

    sky_m, hills_m, grass_m, water_m, trees_m = exclusive(
        [np.ones((h, w), bool), below_hills, ground, river, trees]
    )

    clouds = value_noise(h, w, 70, rng, 4)
    sky = lerp(rgb("#3f6fb8"), rgb("#e8dcb8"), (y_n / 0.45) ** 1.6)
    cloud_t = np.clip((clouds - 0.52) * 5, 0, 1)
    sky = lerp(sky, lerp(rgb("#fbf6ea"), rgb("#a9a3c4"), (clouds - 0.5) * 2.5), cloud_t)

    haze = value_noise(h, w, 30, rng, 3)
    hills = lerp(rgb("#8a8fc8"), rgb("#5d7a78"), (yy - hill_line[None]) / 40 + 0.3 * (haze - 0.5))

    leaf = value_noise(h, w, 12, rng, 3)
    sunlit = np.clip(0.5 - (x_n - 0.5) * 0.3 + (leaf - 0.5) * 1.6, 0, 1)
    tree_col = lerp(rgb("#173d22"), rgb("#86a83c"), sunlit)

    patch = value_noise(h, w, 45, rng, 3)
    depth = np.clip((yy - ground_line[None]) / (h - ground_line[None] + 1e-6), 0, 1)
    grass = lerp(rgb("#c9c660"), rgb("#4d7a2a"), depth * 0.7 + (patch - 0.5) * 0.9)

    ripple = value_noise(h, w, 9, rng, 2)
    water = lerp(rgb("#9cc0e0"), rgb("#2f5c8a"), depth * 0.6 + (ripple - 0.5) * 0.8)

    down = math.pi / 2
    slope = np.gradient(hill_line)
    hill_angle = np.broadcast_to(np.arctan(slope)[None], (h, w))
    return [
        Region(
            "sky",
            SKY,
            sky_m,
            sky,
            0.15 * np.sin(xx / 40 + yy / 25),
            (
                Brush((16, 28), (6, 9), 1.6, 0.2, 0.15),
                Brush((9, 16), (3, 5), 1.4, 0.3, 0.2, 0.45),
            ),
            accents=("#f4d8e0", "#ffffff", "#9fb8f0"),
            accent_rate=0.025,
        ),
        Region(
            "hills",
            HILLS,
            hills_m,
            hills,
            hill_angle,
            (Brush((12, 20), (5, 8), 1.6, 0.25), Brush((7, 12), (3, 4), 1.2, 0.35, 0.2)),
            accents=("#b48ad8", "#6e9ab8"),
            accent_rate=0.1,
        ),
        Region(
            "grass",
            GRASS,
            grass_m,
            grass,
            np.float64(0.0),
            (
                Brush((16, 26), (6, 9), 1.5, 0.15),
                Brush((7, 13), (2, 4), 1.6, 0.3, 0.3, 0.4, turn=math.pi / 2),
                Brush((3, 5), (3, 4), 0.06, 1.5, 0.0, 0.2, accent_rate=0.8),
            ),
            accents=("#e83b2e", "#ffe75a", "#ffffff", "#f08a24"),
            accent_rate=0.02,
        ),
        Region(
            "water",
            WATER,
            water_m,
            water,
            np.float64(0.0),
            (Brush((18, 30), (3, 6), 1.8, 0.08, 0.05), Brush((10, 22), (2, 3), 1.0, 0.06, 0.05, 0.5)),
            accents=("#e8f2ff", "#1d3d5e"),
            accent_rate=0.15,
        ),
        Region(
            "trees",
            TREES,
            trees_m,
            tree_col,
            np.float64(down),
            (Brush((6, 10), (5, 8), 1.8, 1.2, 0.3), Brush((3, 6), (3, 5), 1.4, 1.5, 0.3, 0.25)),
            accents=("#0f2a18", "#b8c85a", "#3a6a5a"),
            accent_rate=0.12,
        ),
    ]


def seascape(size: tuple[int, int] = (384, 288), seed: int = 23) -> list[Region]:
    """Expressionist coast: swirling sky round a low sun, rolling sea, rocky headland, beach."""
    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    y_n, x_n = yy / h, xx / w

    horizon = h * 0.46 + 2 * noise_1d(w, 80, rng)
    sea = yy >= horizon[None]
    # Headland on the right: a rough rising polygon edge.
    cliff_edge = w * (0.66 + 0.16 * (1 - y_n) ** 1.5) + 14 * value_noise(h, w, 18, rng, 3) - 7
    cliff_top = h * (0.22 + 0.12 * np.clip((w - xx) / (0.34 * w), 0, 1)) + 10 * (value_noise(h, w, 14, rng, 2) - 0.5)
    rock_foot = h * (0.86 + 0.04 * np.sin(xx / 17.0)) + 6 * (value_noise(h, w, 12, rng, 2) - 0.5)
    rocks = (xx > cliff_edge) & (yy > cliff_top) & (yy < rock_foot)
    # Beach: lower left wedge, wave line wobbling.
    shore = h * (0.70 + 0.28 * x_n) + 10 * (value_noise(h, w, 35, rng, 2) - 0.5)
    sand = yy > shore
    rocks = wobble(rocks, rng, 2, 8)

    sky_m, sea_m, sand_m, rocks_m = exclusive([np.ones((h, w), bool), sea, sand, rocks])

    # Sky: radial glow round the sun, swirls around two centres.
    sun_y, sun_x = h * 0.30, w * 0.30
    rr = np.hypot(yy - sun_y, xx - sun_x)
    glow = np.exp(-rr / 45.0)
    swirl_noise = value_noise(h, w, 40, rng, 3)
    sky = lerp(rgb("#1f3f8a"), rgb("#5a88c8"), y_n / 0.46 + 0.4 * (swirl_noise - 0.5))
    sky = lerp(sky, rgb("#ffd25a"), glow * 1.4)
    sky = lerp(sky, rgb("#fff4c0"), np.clip((18 - rr) / 6, 0, 1))
    # Tangential directions: circles round the sun and a second eddy upper right.
    ang_sun = np.arctan2(yy - sun_y, xx - sun_x) + math.pi / 2
    e_y, e_x = h * 0.16, w * 0.72
    ang_eddy = np.arctan2(yy - e_y, xx - e_x) + math.pi / 2
    near_sun = np.exp(-rr / 90.0)
    near_eddy = np.exp(-np.hypot(yy - e_y, xx - e_x) / 60.0)
    sky_angle = np.where(near_sun > near_eddy, ang_sun, ang_eddy)
    far = (near_sun < 0.25) & (near_eddy < 0.25)
    sky_angle = np.where(far, 0.25 * np.sin(xx / 30.0), sky_angle)

    swell = np.sin(xx / 22.0 + 3 * np.sin(yy / 9.0)) * 0.5 + 0.5
    depth = np.clip((yy - horizon[None]) / (h - horizon[None]), 0, 1)
    sea_col = lerp(rgb("#173c6e"), rgb("#2f8a8c"), depth * 0.9 + 0.3 * (swell - 0.5))
    sea_col = lerp(sea_col, rgb("#f0e2a0"), np.exp(-np.abs(xx - sun_x) / 12.0) * (1 - depth) * 0.8)
    sea_angle = 0.35 * np.sin(xx / 18.0 + yy / 7.0)

    stone = value_noise(h, w, 10, rng, 3)
    # Facets: vertical slabs, each lit or in shadow, plus horizontal strata cracks.
    facet = value_noise(h, w, 22, rng, 1)
    lit = np.clip((np.sin(xx / 9.0 + 6 * facet) + 0.3) * 1.5, 0, 1)
    strata = np.clip(1.0 - np.abs(np.sin(yy / 11.0 + 2 * facet)) * 6, 0, 1)
    rock_col = lerp(rgb("#4a2e22"), rgb("#d99a55"), 0.25 + 0.55 * lit + 0.3 * (stone - 0.5) - 0.25 * x_n)
    rock_col = lerp(rock_col, rgb("#2e1c14"), 0.6 * strata)
    rock_angle = math.pi / 2 + 0.5 * np.sin(yy / 9.0 + xx / 13.0)

    grain = value_noise(h, w, 20, rng, 3)
    sand_col = lerp(rgb("#e8c98a"), rgb("#b08448"), grain * 0.9 + y_n * 0.3 - 0.2)

    return [
        Region(
            "sky",
            SKY,
            sky_m,
            sky,
            sky_angle,
            (Brush((14, 24), (5, 8), 1.6, 0.12, 0.35), Brush((8, 16), (3, 4), 1.5, 0.15, 0.4, 0.4)),
            accents=("#ffe680", "#9ec5ff", "#ffffff"),
            accent_rate=0.03,
        ),
        Region(
            "sea",
            WATER,
            sea_m,
            sea_col,
            sea_angle,
            (Brush((16, 28), (4, 7), 1.7, 0.1, 0.3), Brush((6, 14), (2, 3), 1.2, 0.15, 0.5, 0.45)),
            accents=("#ffffff", "#d9f2ee", "#0f2a50"),
            accent_rate=0.05,
        ),
        Region(
            "sand",
            SAND,
            sand_m,
            sand_col,
            np.float64(0.15),
            (Brush((10, 18), (5, 8), 1.4, 0.3), Brush((3, 5), (3, 4), 1.0, 1.6, 0.0, 0.2)),
            accents=("#f6e7c4", "#8a6436"),
            accent_rate=0.15,
        ),
        Region(
            "rocks",
            ROCKS,
            rocks_m,
            rock_col,
            rock_angle,
            (Brush((8, 14), (5, 8), 1.8, 0.4), Brush((4, 8), (2, 4), 1.4, 0.6, 0.0, 0.3)),
            accents=("#3a2418", "#e8b070", "#6a6a7a"),
            accent_rate=0.15,
        ),
    ]


def still_life(size: tuple[int, int] = (384, 288), seed: int = 37) -> list[Region]:
    """Post-impressionist still life: cup of coffee on a saucer, two apples, hatched wall."""
    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    y_n, x_n = yy / h, xx / w

    table_line = h * 0.42 + 3 * noise_1d(w, 90, rng)
    table = yy >= table_line[None]

    cx, rim_y = w * 0.47, h * 0.43
    saucer_c, saucer_r = (h * 0.74, cx), (h * 0.13, w * 0.27)
    saucer = ellipse(h, w, *saucer_c, *saucer_r)
    half_width = w * (0.15 - 0.03 * np.clip((yy - rim_y) / (h * 0.27), 0, 1))
    body = (yy >= rim_y) & (yy <= h * 0.70) & (np.abs(xx - cx) <= half_width)
    body |= ellipse(h, w, h * 0.70, cx, h * 0.05, w * 0.12)
    rim = ellipse(h, w, rim_y, cx, h * 0.06, w * 0.15)
    handle_c, handle_r = (h * 0.54, cx + w * 0.16), (h * 0.075, w * 0.06)
    handle = ellipse(h, w, *handle_c, *handle_r) & ~ellipse(h, w, *handle_c, h * 0.045, w * 0.03)
    cup = saucer | body | rim | handle
    drink = ellipse(h, w, rim_y + h * 0.008, cx, h * 0.045, w * 0.13)

    apples = [(h * 0.72, w * 0.13, h * 0.10, w * 0.085), (h * 0.58, w * 0.84, h * 0.09, w * 0.075)]
    fruit = np.zeros((h, w), dtype=bool)
    for a in apples:
        fruit |= wobble(ellipse(h, w, *a), rng, 1, 6)

    wall_m, table_m, fruit_m, cup_m, drink_m = exclusive([np.ones((h, w), bool), table, fruit, cup, drink])

    plaster = value_noise(h, w, 35, rng, 3)
    wall = lerp(rgb("#2f4a5a"), rgb("#8fa59a"), 0.6 * (1 - x_n) + 0.5 * (plaster - 0.5) + 0.2)
    cloth = value_noise(h, w, 25, rng, 3)
    table_col = lerp(rgb("#7a4a22"), rgb("#d99a4a"), 0.6 * (1 - y_n) + 0.8 * (cloth - 0.5) + 0.3)
    # The cup's shadow falls on the table to the lower right.
    cast = ellipse(h, w, h * 0.80, cx + w * 0.08, h * 0.12, w * 0.28) & ~saucer
    table_col = lerp(table_col, rgb("#3a2210"), 0.55 * box_blur(cast.astype(np.float64), 6))

    # Crockery, lit from the upper left: a cylinder for the cup, a dish for the saucer.
    glaze = 0.6 * (value_noise(h, w, 10, rng, 2) - 0.5)
    cream, blue_grey = rgb("#f8f0da"), rgb("#5f7496")
    t_body = (xx - cx) / np.maximum(half_width, 1.0)  # -1 (left) .. 1 (right)
    body_col = lerp(cream, blue_grey, 0.55 + 0.55 * t_body - 0.5 * np.exp(-((t_body + 0.45) ** 2) / 0.05) + glaze)
    dy_s, dx_s = (yy - saucer_c[0]) / saucer_r[0], (xx - saucer_c[1]) / saucer_r[1]
    foot_shadow = np.exp(-(((yy - h * 0.73) / (h * 0.06)) ** 2 + ((xx - cx - w * 0.05) / (w * 0.15)) ** 2))
    saucer_col = lerp(cream, blue_grey, 0.2 + 0.35 * dx_s + 0.3 * dy_s + 0.7 * foot_shadow + glaze)
    rim_col = lerp(cream, blue_grey, 0.1 + 0.4 * (xx - cx) / (w * 0.15) + glaze)
    handle_col = lerp(cream, blue_grey, 0.5 + 0.5 * (xx - handle_c[1]) / handle_r[1] + glaze)
    crock = np.where(saucer[..., None], saucer_col, 0)
    crock = np.where(body[..., None], body_col, crock)
    crock = np.where(handle[..., None] & ~body[..., None], handle_col, crock)
    crock = np.where(rim[..., None], rim_col, crock)
    coffee = lerp(rgb("#c58a4a"), rgb("#3a2010"), np.clip((xx - cx) / (w * 0.13) * 0.5 + 0.5, 0, 1))

    apple_col = np.zeros((h, w, 3))
    apple_angle = np.zeros((h, w))
    for ay, ax, ry, rx in apples:
        near = ((yy - ay) / ry) ** 2 + ((xx - ax) / rx) ** 2 <= 1.3
        light = np.hypot((yy - ay + 0.4 * ry) / ry, (xx - ax + 0.4 * rx) / rx)
        mottle = value_noise(h, w, 7, rng, 2)
        col = lerp(rgb("#d8482a"), rgb("#6a0c10"), light * 0.8 + 0.5 * (mottle - 0.5))
        col = lerp(col, rgb("#e8c040"), np.clip((mottle - 0.62) * 4, 0, 1))
        col = lerp(col, rgb("#fff2d0"), np.clip((0.25 - light) * 4, 0, 1))
        apple_col = np.where(near[..., None], col, apple_col)
        apple_angle = np.where(near, _tangent(yy, xx, ay, ax, ry, rx), apple_angle)

    # Contour-following strokes: vertical on the cup's body, round the ellipses elsewhere.
    cup_angle = np.full((h, w), math.pi / 2)
    cup_angle = np.where(saucer & ~body, _tangent(yy, xx, *saucer_c, *saucer_r), cup_angle)
    cup_angle = np.where(rim, _tangent(yy, xx, rim_y, cx, h * 0.06, w * 0.15), cup_angle)
    cup_angle = np.where(handle & ~body, _tangent(yy, xx, *handle_c, *handle_r), cup_angle)
    apples_field = apple_col
    return [
        Region(
            "wall",
            WALL,
            wall_m,
            wall,
            np.float64(-1.05),  # Cézanne's parallel diagonal hatching
            (Brush((12, 20), (5, 8), 1.6, 0.12), Brush((7, 12), (3, 5), 1.6, 0.12, 0.0, 0.45)),
            accents=("#5a7a9a", "#c0b890", "#24343e"),
            accent_rate=0.12,
        ),
        Region(
            "table",
            TABLE,
            table_m,
            table_col,
            np.float64(0.05),
            (Brush((20, 34), (5, 8), 1.6, 0.08, 0.1), Brush((10, 20), (2, 4), 1.4, 0.1, 0.1, 0.5)),
            accents=("#4a2a14", "#f0c070", "#b05a2a"),
            accent_rate=0.12,
        ),
        Region(
            "fruit",
            FRUIT,
            fruit_m,
            apples_field,
            apple_angle,
            (Brush((6, 10), (4, 6), 1.8, 0.2, 0.4), Brush((3, 6), (2, 4), 1.2, 0.3, 0.4, 0.25)),
            accents=("#ffe080", "#5a0a0a", "#3a8a2a"),
            accent_rate=0.1,
        ),
        Region(
            "crockery",
            CROCKERY,
            cup_m,
            crock,
            cup_angle,
            (Brush((8, 14), (4, 6), 1.8, 0.12, 0.3), Brush((4, 8), (2, 3), 1.2, 0.15, 0.3, 0.3)),
            accents=("#ffffff", "#4a5a8a", "#d8c8a0"),
            accent_rate=0.1,
        ),
        Region(
            "drink",
            DRINK,
            drink_m,
            coffee,
            np.arctan2(yy - rim_y, xx - cx) + math.pi / 2,
            (Brush((6, 12), (3, 5), 2.0, 0.15, 0.3), Brush((3, 6), (2, 3), 1.0, 0.2, 0.3, 0.2)),
            accents=("#e0b070", "#1a0a04"),
            accent_rate=0.12,
        ),
    ]


# ---------------------------------------------------------------------------
# Packs


@dataclasses.dataclass(frozen=True)
class PackSpec:
    name: str
    scene: Callable[[tuple[int, int]], list[Region]]
    size: tuple[int, int]
    seed: int
    description: str
    options: dict[str, float | int]


PACKS = (
    PackSpec(
        "meadow",
        meadow,
        (384, 288),
        101,
        "Impressionist summer landscape: cloudy sky, violet hills, tree clumps, a meadow "
        "with flower dabs and a winding river. Short broken strokes with thick impasto.",
        {"style_weight": 25.0, "semantic_weight": 10.0, "phases": 3, "iterations": 100},
    ),
    PackSpec(
        "seascape",
        seascape,
        (384, 288),
        202,
        "Expressionist coast at sunset: a sky of swirling strokes round a low sun, "
        "a rolling sea, an ochre rocky headland and a stippled beach.",
        {"style_weight": 25.0, "semantic_weight": 15.0, "phases": 3, "iterations": 100},
    ),
    PackSpec(
        "still_life",
        still_life,
        (384, 288),
        303,
        "Post-impressionist still life: a cup of coffee on its saucer and two apples on "
        "a wooden table, in front of a wall of parallel diagonal hatching.",
        {"style_weight": 25.0, "semantic_weight": 20.0, "phases": 3, "iterations": 100},
    ),
)

LICENCE = "CC0-1.0"
PROVENANCE = (
    "Generated procedurally by styles/make_packs.py in this repository (numpy only, "
    "fixed seed); no third-party image was used. Dedicated to the public domain (CC0 1.0)."
)


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def style_toml(spec: PackSpec, regions: list[Region], image_name: str, map_name: str) -> str:
    """The pack's style.toml text."""
    lines = [
        f"name = {_toml_value(spec.name)}",
        f"description = {_toml_value(spec.description)}",
        f"image = {_toml_value(image_name)}",
        f"map = {_toml_value(map_name)}",
        f"licence = {_toml_value(LICENCE)}",
        f"provenance = {_toml_value(PROVENANCE)}",
        "",
        "# Recommended doodle options (field names of doodle.options.Options).",
        "[options]",
    ]
    lines += [f"{k} = {_toml_value(v)}" for k, v in spec.options.items()]
    lines += ["", "# Map colour -> what it stands for. Paint doodles in these exact colours.", "[legend]"]
    lines += [f'"{reg.map_colour}" = {_toml_value(reg.name)}' for reg in regions]
    return "\n".join(lines) + "\n"


def build(spec: PackSpec, out_root: Path = HERE) -> Path:
    """Paint one pack into out_root/NAME/; returns the folder."""
    regions = spec.scene(spec.size)
    image = paint(regions, spec.size, spec.seed)
    sem = semantic_map(regions, spec.size)
    folder = out_root / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    image_name, map_name = f"{spec.name}.jpg", f"{spec.name}_sem.png"
    iio.imwrite(folder / image_name, image, quality=90)
    iio.imwrite(folder / map_name, sem, optimize=True)
    (folder / "style.toml").write_text(style_toml(spec, regions, image_name, map_name), encoding="utf-8")
    return folder


def main() -> None:
    for spec in PACKS:
        folder = build(spec)
        sizes = ", ".join(f"{p.name} {p.stat().st_size // 1024} KB" for p in sorted(folder.iterdir()))
        print(f"{folder.name}: {sizes}")


if __name__ == "__main__":
    main()
