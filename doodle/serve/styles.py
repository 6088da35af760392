"""The styles a server offers: every style pack, and the styles uploaded to it.

A :class:`Style` holds everything the page shows (the picture, its map, a legend of
named colours, the region the eraser paints, a canvas size, a sample doodle) and what
a painting reads: the pack's name, or for an uploaded style the files kept for it
(written once, so a painting's provenance names real files that ``--like`` can read).
Uploaded styles last for the server's lifetime; the client names a style by its id,
never by a path.
"""
from __future__ import annotations

import dataclasses
import hashlib
import threading
from pathlib import Path
from typing import Optional

import numpy as np

from doodle.io import imaging, maps
from doodle.plan import packs
from doodle.errors import InputError

SAMPLES = Path(__file__).resolve().parent.parent.parent / "samples"


@dataclasses.dataclass(frozen=True)
class Style:
    """One style as the page sees it and a painting reads it."""

    id: str  # what the page names it by: a pack's name, "upload-<hash>"
    name: str
    description: str
    image: np.ndarray  # (H, W, 3) uint8
    map: np.ndarray  # (H, W, 3) uint8, snapped to its main colours
    legend: dict[str, str]  # "#rrggbb" -> meaning, every colour of the map
    background: str  # the colour the eraser paints: the map's largest region
    canvas: tuple[int, int]  # (width, height) the page draws at
    source: str  # what api.prepare's style argument is: the pack's name or the kept image's path
    map_source: Optional[str] = None  # the kept map's path (uploaded styles)
    sample: Optional[np.ndarray] = None  # a doodle to start from
    segmented: bool = False  # the map was made by doodle segment's algorithm

    def summary(self) -> dict:
        """The JSON the page lists the style with."""
        return {"id": self.id, "name": self.name, "description": self.description,
                "legend": [{"colour": c, "name": n} for c, n in self.legend.items()],
                "background": self.background, "canvas": list(self.canvas),
                "size": [self.image.shape[1], self.image.shape[0]],
                "sample": self.sample is not None, "segmented": self.segmented}


def _legend(map_rgb: np.ndarray, named: dict[str, str]) -> dict[str, str]:
    """Every main colour of a map, named by ``named`` where it names it, most common first."""
    colours = [maps.hex_colour(c) for c in maps.main_colours(map_rgb)]
    unnamed = iter(range(1, len(colours) + 1))
    return {c: named.get(c) or f"region {next(unnamed)}" for c in colours}


def _canvas(width: int, height: int, longest: int = 320) -> tuple[int, int]:
    """A drawing size of the style's shape with its longest side ``longest`` px."""
    scale = longest / max(width, height)
    return max(8, round(width * scale)), max(8, round(height * scale))


def _snapped(map_rgb: np.ndarray) -> np.ndarray:
    """A map with only its main colours (what a doodle may use)."""
    return maps.snap(map_rgb)


def pack_style(pack: packs.Pack) -> Style:
    """A style pack as a style (its images read now; InputError if they cannot be)."""
    image = imaging.read_image(pack.image, f"style image of pack {pack.name!r}")
    map_rgb = _snapped(imaging.read_image(pack.map, f"map of pack {pack.name!r}"))
    sample_path = SAMPLES / f"{pack.folder.name}_doodle_sem.png"
    sample = imaging.read_image(sample_path, "sample doodle") if sample_path.is_file() else None
    legend = _legend(map_rgb, pack.legend)
    size = pack.options.get("output_size")
    canvas = tuple(size) if size else ((sample.shape[1], sample.shape[0]) if sample is not None
                                       else _canvas(image.shape[1], image.shape[0]))
    return Style(id=pack.name, name=pack.name, description=pack.description, image=image, map=map_rgb,
                 legend=legend, background=next(iter(legend)), canvas=canvas, source=pack.name, sample=sample)


class Styles:
    """The packs found at start, and the styles uploaded since, by id (thread-safe)."""

    def __init__(self, keep: Path, pack_list: Optional[list[packs.Pack]] = None) -> None:
        self.keep = keep  # where uploaded styles' files are written
        self._lock = threading.Lock()
        self._styles: dict[str, Style] = {}
        for pack in packs.list_packs() if pack_list is None else pack_list:
            style = pack_style(pack)
            self._styles[style.id] = style

    def all(self) -> list[Style]:
        with self._lock:
            return list(self._styles.values())

    def get(self, style_id: str) -> Style:
        """The style ``style_id`` names; InputError for an unknown one."""
        with self._lock:
            style = self._styles.get(style_id)
        if style is None:
            raise InputError(f"there is no style {style_id[:80]!r}.", "Pick one of the styles listed.")
        return style

    def add(self, name: str, image: np.ndarray, map_rgb: Optional[np.ndarray]) -> Style:
        """An uploaded style: its map given (same size as the image), or made with
        ``doodle segment``'s algorithm. Its files are kept under :attr:`keep`."""
        from doodle.io import segment

        if map_rgb is not None and map_rgb.shape != image.shape:
            raise InputError(f"the map is {map_rgb.shape[1]}×{map_rgb.shape[0]} but the painting is "
                             f"{image.shape[1]}×{image.shape[0]}.", "Upload a map of the painting's size.")
        segmented = map_rgb is None
        map_rgb = segment.segment(image, 4) if segmented else _snapped(map_rgb)
        digest = hashlib.sha256(image.tobytes() + map_rgb.tobytes() + repr(image.shape).encode()).hexdigest()[:12]
        style_id = f"upload-{digest}"
        folder = self.keep / "styles"
        folder.mkdir(parents=True, exist_ok=True)
        image_path, map_path = folder / f"{style_id}.png", folder / f"{style_id}_sem.png"
        imaging.write_image(image_path, image)
        imaging.write_image(map_path, map_rgb)
        legend = _legend(map_rgb, {})
        style = Style(id=style_id, name=(name or "uploaded")[:60], description="uploaded", image=image, map=map_rgb,
                      legend=legend, background=next(iter(legend)), canvas=_canvas(image.shape[1], image.shape[0]),
                      source=str(image_path), map_source=str(map_path), segmented=segmented)
        with self._lock:
            self._styles[style_id] = style
        return style

    def replace_map(self, style_id: str, map_rgb: np.ndarray) -> Style:
        """An uploaded style with an edited map (a pack's map is not edited)."""
        old = self.get(style_id)
        if old.map_source is None:
            raise InputError(f"style {old.name!r} is a pack: its map is not edited.", "Upload the painting instead.")
        return self.add(old.name, old.image, map_rgb)
