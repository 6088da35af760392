"""Inputs to a checked problem: images and maps loaded, sized and conformed.

The first step of the one pipeline (:func:`doodle.run.api.paint` and every entry point):
paths or arrays, style packs and options in; a :class:`Prepared` problem out, its maps
conformed to one palette and everything checked, or one :class:`~doodle.errors.InputError`
saying what is wrong.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Collection, NamedTuple, Optional, Sequence, Union

import numpy as np

from doodle.core import labels, vgg
from doodle.core.problem import Problem, resize
from doodle.errors import InputError, OptionError
from doodle.io import imaging
from doodle.plan import packs
from doodle.plan.options import Options, validate


ImageLike = Union[str, os.PathLike, np.ndarray]


class Loaded(NamedTuple):
    """An image or map as an array, with the name used in messages."""

    array: np.ndarray  # (H, W, 3) uint8
    name: str


def _load(value: Optional[ImageLike], what: str) -> Optional[Loaded]:
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return Loaded(imaging.to_rgb8(value) if value.dtype == np.uint8 or value.ndim == 2 else
                      np.clip(np.asarray(value, np.float32), 0, 255).round().astype(np.uint8), f"the {what} array")
    return Loaded(imaging.read_image(value, what), repr(str(value)))


def _same_size(image: Optional[Loaded], sem: Optional[Loaded], what: str) -> None:
    if image is not None and sem is not None and image.array.shape[:2] != sem.array.shape[:2]:
        ih, iw = image.array.shape[:2]
        mh, mw = sem.array.shape[:2]
        raise InputError(
            f"the {what} image {image.name} is {iw}×{ih} but its map {sem.name} is {mw}×{mh}.",
            "Resize one of them so both have the same size.",
        )


def find_map(image: ImageLike, ext: str) -> Optional[Path]:
    """The reference's convention: the map of ``Monet.jpg`` is ``Monet_sem.png``, if it exists."""
    if isinstance(image, np.ndarray):
        return None
    candidate = imaging.semantic_path(image, ext)
    return candidate if candidate.exists() else None


def check_options(options: Options) -> None:
    """InputError for option values that cannot work, before anything is loaded:
    :class:`~doodle.errors.OptionError` naming the field (:func:`doodle.plan.options.validate`),
    or an unknown layer."""
    validate(options)
    for field, layers in (("style_layers", options.painting.style_layers or ()),
                          ("content_layers", options.painting.content_layers or ())):
        for layer in layers:
            if layer not in vgg.CHANNELS:
                raise OptionError(field, f"has an unknown layer {layer!r}.",
                                  f"Known layers: {', '.join(vgg.LAYER_NAMES)} (VGG16 lacks 3_4, 4_4, 5_4).")


class _Inputs(NamedTuple):
    """What :func:`build_problem` loaded, before the maps are checked and sized."""

    styles: list  # as given (paths or arrays), for messages naming a map's expected path
    style_imgs: list[Loaded]
    smaps: list[Optional[Loaded]]
    content: Optional[Loaded]
    tmap: Optional[Loaded]
    seed: Optional[Loaded]


def build_problem(
    style: Union[ImageLike, Sequence[ImageLike]],
    *,
    style_map: Union[ImageLike, Sequence[Optional[ImageLike]], None] = None,
    content: Optional[ImageLike] = None,
    target_map: Optional[ImageLike] = None,
    seed: Optional[ImageLike] = None,
    options: Options = Options(),
    target_map_hint: str = "",
    notice: Callable[[str], None] = lambda s: None,
) -> Problem:
    """Load and check inputs; the mode follows from which are given.

    (a) style + style map + target map: doodle → painting; (b) the same plus
    content: semantic style transfer; (c) style + content: plain style transfer;
    (d) style alone: texture synthesis at ``options.painting.output_size``.
    ``style`` may be a list of several styles whose patches are pooled; then
    ``style_map`` is None or a list in the same order (None entries: the map beside
    that style). ``target_map_hint`` names the file a missing target map was
    expected at. Maps are snapped to the style maps' colours (:func:`conform_maps`);
    ``notice`` hears about doodle colours the style maps lack.
    """
    check_options(options)
    if options.painting.preserve_colors and content is None:
        raise InputError("`preserve_colors` needs a content image.", "Pass `content`, or drop `preserve_colors`.")
    inputs = _load_inputs(style, style_map, content, target_map, seed, options)
    smaps, tmap = _semantic_maps(inputs, content, options, target_map_hint)
    content_arr = inputs.content.array if inputs.content is not None else None
    tmap_arr = tmap.array if tmap is not None else None
    smap_arrs = [m.array if m is not None else None for m in smaps]
    if tmap_arr is not None:  # semantic: every style has a map too (checked above)
        # At the maps' own sizes: snapping costs O(pixels), and --output-size may be large.
        smap_arrs, tmap_arr = conform_maps(smap_arrs, tmap_arr, notice)
    size, content_arr, tmap_arr = _sized(inputs.style_imgs[0].array, content_arr, tmap_arr, options)
    seed_img = inputs.seed
    if options.painting.seed not in ("auto", "noise", "content") and seed_img is None:
        seed_img = _load(options.painting.seed, "seed")
    if options.painting.seed == "content" and content_arr is None:
        raise InputError("`seed content` needs a content image.", "Pass `content`, or use `seed noise`.")
    single = len(inputs.styles) == 1
    return Problem(
        style=inputs.style_imgs[0].array if single else tuple(s.array for s in inputs.style_imgs),
        style_map=smap_arrs[0] if single else (tuple(smap_arrs) if smap_arrs[0] is not None else None),
        content=content_arr,
        target_map=tmap_arr,
        size=tuple(size),
        seed=seed_img.array if seed_img is not None else None,
    )


def _load_inputs(style, style_map, content, target_map, seed, options: Options) -> _Inputs:
    """Every image and map read (the maps beside the style and the content found by
    name), each map checked to be its image's size."""
    styles = packs.many(style)
    if not styles:
        raise InputError("no style given.", "Pass `style`.")
    given_maps = [None] * len(styles) if style_map is None else packs.many(style_map)
    if len(given_maps) != len(styles):
        raise InputError(f"{len(given_maps)} style maps for {len(styles)} styles.",
                         "Give one `style_map` per `style`, in the same order, or none to use the maps beside them.")
    style_imgs = [_load(s, "style") for s in styles]
    smaps = [_load(m if m is not None else find_map(s, options.painting.semantic_ext), "style map")
             for s, m in zip(styles, given_maps)]
    content_img = _load(content, "content")
    if target_map is None and content is not None:
        target_map = find_map(content, options.painting.semantic_ext)
    tmap = _load(target_map, "map")
    seed_img = _load(seed, "seed")
    for style_img, smap in zip(style_imgs, smaps):
        _same_size(style_img, smap, "style")
    _same_size(content_img, tmap, "content")
    return _Inputs(styles, style_imgs, smaps, content_img, tmap, seed_img)


def _semantic_maps(inputs: _Inputs, content, options: Options,
                   target_map_hint: str) -> tuple[list[Optional[Loaded]], Optional[Loaded]]:
    """The style maps and the target map the run uses: none at --semantic-weight 0,
    else all of them (an InputError naming the file expected when one side lacks its map)."""
    smaps, tmap = inputs.smaps, inputs.tmap
    if options.painting.semantic_weight <= 0:
        return [None] * len(inputs.styles), None
    with_map = [m for m in smaps if m is not None]
    if with_map and tmap is None:
        where = target_map_hint or (
            str(imaging.semantic_path(content, options.painting.semantic_ext))
            if isinstance(content, (str, os.PathLike)) else "a map given with `map`")
        raise InputError(
            f"the style has a semantic map ({with_map[0].name}) but the output has none.",
            f"Draw one in the same colours and save it as {where}, or pass `semantic_weight 0`.",
        )
    if tmap is not None and len(with_map) < len(smaps):
        i = next(i for i, m in enumerate(smaps) if m is None)
        styles = inputs.styles
        where = (str(imaging.semantic_path(styles[i], options.painting.semantic_ext))
                 if isinstance(styles[i], (str, os.PathLike)) else "a map given with `style_map`")
        which = "the style" if len(styles) == 1 else f"the style {inputs.style_imgs[i].name}"
        raise InputError(
            f"the output has a semantic map ({tmap.name}) but {which} has none.",
            f"Annotate the style in the same colours and save it as {where}.",
        )
    return smaps, tmap


def _sized(style: np.ndarray, content_arr: Optional[np.ndarray], tmap_arr: Optional[np.ndarray],
           options: Options) -> tuple[tuple[int, int], Optional[np.ndarray], Optional[np.ndarray]]:
    """The output's (H, W): --output-size, else the content's, the doodle's or the first
    style's; the content and the doodle resized to it where --output-size is given."""
    if content_arr is not None:
        size = content_arr.shape[:2]
    elif tmap_arr is not None:
        size = tmap_arr.shape[:2]
    else:
        size = style.shape[:2]
    if options.painting.output_size is not None:
        size = (options.painting.output_size[1], options.painting.output_size[0])
        if content_arr is not None:
            content_arr = np.asarray(resize(content_arr, size))
        if tmap_arr is not None:
            tmap_arr = resize_map(tmap_arr, size)
    return size, content_arr, tmap_arr


class Prepared(NamedTuple):
    """A checked painting: what :func:`paint`, ``doodle paint`` and ``doodle plan`` work from."""

    problem: Problem
    options: Options  # checked, with the style packs' recommendations applied
    inputs: dict[str, Any]  # where each input came from, for logs: style, style_pack, style_map, content, map


def prepare(
    style: Union[ImageLike, Sequence[ImageLike]],
    *,
    style_map: Union[ImageLike, Sequence[Optional[ImageLike]], None] = None,
    content: Optional[ImageLike] = None,
    target_map: Optional[ImageLike] = None,
    seed: Optional[ImageLike] = None,
    options: Options = Options(),
    output: Optional[str] = None,
    unset: Optional[Collection[str]] = None,
    notice: Callable[[str], None] = lambda s: None,
) -> Prepared:
    """The one way from raw inputs to a checked problem, so that the command line's
    ``paint`` and ``plan`` and the Python API accept the same inputs with the same meaning.

    ``style`` may name style packs (:func:`doodle.plan.packs.resolve_styles`; their options
    apply to the fields in ``unset``, default: those left at their defaults). ``output``
    (a path, "-" for stdout, or None) is checked to be writable, and without a map or
    content the doodle is looked for beside it (``coast.png`` paints ``coast_sem.png``,
    the reference's convention). InputError for anything that cannot work.
    """
    styles = packs.resolve_styles(style, style_map, options, unset)
    options = styles.options
    check_options(options)
    if output is not None and output != "-":
        imaging.check_writable(output)
    target_map, hint = _target_map(target_map, content, output, options)
    single = len(styles.images) == 1
    given_maps = styles.maps if any(m is not None for m in styles.maps) else None
    problem = build_problem(styles.images[0] if single else tuple(styles.images),
                            style_map=given_maps[0] if single and given_maps else given_maps,
                            content=content, target_map=target_map, seed=seed, options=options,
                            target_map_hint=hint, notice=notice)
    inputs = {"style": styles.images[0] if single else tuple(styles.images),
              "style_pack": styles.packs[0] if single else styles.packs,
              "style_map": _style_map_sources(styles, problem, options, single),
              "content": content, "map": target_map}
    return Prepared(problem, options, inputs)


def _target_map(target_map: Optional[ImageLike], content: Optional[ImageLike], output: Optional[str],
                options: Options) -> tuple[Optional[ImageLike], str]:
    """(the doodle, where a missing one was expected): without --map or --content the
    doodle of ``coast.png`` is ``coast_sem.png`` beside it, when it exists."""
    if target_map is not None or content is not None or output in (None, "-"):
        return target_map, ""
    beside = imaging.semantic_path(output, options.painting.semantic_ext)
    hint = f"{beside} (beside the output) or pass `map`"
    return (str(beside) if beside.exists() else None), hint


def _style_map_sources(styles: "packs.Styles", problem: Problem, options: Options, single: bool) -> Any:
    """The style maps' files for the log: those given, and those found beside the styles."""
    if problem.style_map is None:
        given = tuple(styles.maps) if any(m is not None for m in styles.maps) else None
        return styles.maps[0] if single else given
    found = [m if m is not None else find_map(s, options.painting.semantic_ext)
             for s, m in zip(styles.images, styles.maps)]
    found = [str(f) if f is not None and not isinstance(f, np.ndarray) else None for f in found]
    return found[0] if single else found


def conform_maps(style_maps: Sequence[np.ndarray], target_map: np.ndarray,
                 notice: Callable[[str], None] = lambda s: None) -> tuple[list[np.ndarray], np.ndarray]:
    """Snap the style maps to their own main colours and the target map to theirs.

    (Hs, Ws, 3) uint8 style maps and an (H, W, 3) uint8 target map -> the same,
    snapped (:mod:`doodle.io.maps`). Matching compares colours, so an anti-aliased edge
    or a JPEG-shifted colour would otherwise be a label of its own that matches
    nothing well. Each doodle colour no style map has (beyond
    :data:`doodle.io.maps.COLOUR_TOLERANCE`) is painted as the nearest style colour, and
    ``notice`` hears one line about each.
    """
    from doodle.io import maps

    # A map made of nothing but its palette's colours is left as it is, so that
    # conforming conformed maps changes nothing (the CLI's maps pass here twice).
    snapped = [m if _within(m, maps.main_colours(m)) else maps.snap(m) for m in style_maps]
    palette = np.unique(np.concatenate([maps.main_colours(m) for m in snapped]), axis=0)
    if _within(target_map, palette):
        return snapped, target_map
    # maps.check snaps both maps again, so it runs only when a main colour of the
    # doodle is in no style map's palette: anti-aliased edges alone need no notice.
    if not _within(maps.main_colours(target_map)[None], palette):
        for m in _missing_colours(style_maps, target_map):
            notice(f"the map's colour {m.colour} ({100 * m.fraction:.1f}% of it) is in no style map: it is "
                   f"painted as the nearest style colour {m.nearest} (RGB distance {m.distance:.0f}); "
                   "see `doodle check`.")
    return snapped, maps.snap_to(target_map, palette)


def _missing_colours(style_maps: Sequence[np.ndarray], target_map: np.ndarray) -> list:
    """The doodle's colours that no style map has (:class:`doodle.io.maps.MissingColour`),
    each with the nearest colour of the style map nearest it."""
    from doodle.io import maps

    missing: dict = {}
    for i, style_map in enumerate(style_maps):
        found = {m.colour: m for m in maps.check(style_map, target_map).missing}
        missing = found if i == 0 else {
            c: min(m, found[c], key=lambda x: x.distance) for c, m in missing.items() if c in found}
    return list(missing.values())


def _within(map_rgb: np.ndarray, palette: np.ndarray) -> bool:
    """Whether every pixel of an (H, W, 3) uint8 map has a colour of the (K, 3) palette."""
    return bool(np.isin(labels.codes(labels.palette(map_rgb)[0]), labels.codes(palette)).all())


def resize_map(map_rgb: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 map -> (h, w, 3) uint8, nearest neighbour (pixel centres).

    Nearest, not bilinear: a map keeps exactly its colours, where blending would put
    new in-between colours along every edge (labels of nothing, or of a third region).
    """
    h, w = hw
    rows = ((np.arange(h) + 0.5) * map_rgb.shape[0] / h).astype(np.int64)
    cols = ((np.arange(w) + 0.5) * map_rgb.shape[1] / w).astype(np.int64)
    return map_rgb[rows][:, cols]
