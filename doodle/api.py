"""The public API: ``paint(...)`` from paths or arrays to an (H, W, 3) uint8 image.

This is where files, weights and options meet the pure core (``synthesis``): it
loads what it is given as paths, checks the inputs fit together, picks the
extractor and device, and hands arrays to :func:`doodle.synthesis.synthesize`.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Callable, Collection, NamedTuple, Optional, Sequence, Union

import jax
import numpy as np

from doodle import cache, color, imaging, packs, planner, synthesis, vgg
from doodle.errors import DivergenceError, DoodleError, InputError, OptionError
from doodle.extractor import Extractor
from doodle.imaging import to_uint8
from doodle.options import BUILTIN, PRETRAINED, ExtractorDefaults, Options, validate
from doodle.problem import (Problem, content_layers_of, content_weight_of, has_maps, propagated_of, resize,
                            style_layers_of, style_size, styles_of, terms_of)

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
    :class:`~doodle.errors.OptionError` naming the field (:func:`doodle.options.validate`),
    or an unknown layer."""
    validate(options)
    for field, layers in (("style_layers", options.painting.style_layers or ()),
                          ("content_layers", options.painting.content_layers or ())):
        for layer in layers:
            if layer not in vgg.CHANNELS:
                raise OptionError(field, f"has an unknown layer {layer!r}.",
                                  f"Known layers: {', '.join(vgg.LAYER_NAMES)} (VGG16 lacks 3_4, 4_4, 5_4).")


def _many(value: Any) -> list:
    """One image (a path or an array) or a list or tuple of them, as a list."""
    return list(value) if isinstance(value, (list, tuple)) else [value]


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
        raise InputError("--preserve-colors needs a content image.", "Pass --content, or drop --preserve-colors.")
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
        raise InputError("--seed content needs a content image.", "Pass --content, or use --seed noise.")
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
    styles = _many(style)
    if not styles:
        raise InputError("no style given.", "Pass --style.")
    given_maps = [None] * len(styles) if style_map is None else _many(style_map)
    if len(given_maps) != len(styles):
        raise InputError(f"{len(given_maps)} style maps for {len(styles)} styles.",
                         "Give one --style-map per --style, in the same order, or none to use the maps beside them.")
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
            if isinstance(content, (str, os.PathLike)) else "a map given with --map")
        raise InputError(
            f"the style has a semantic map ({with_map[0].name}) but the output has none.",
            f"Draw one in the same colours and save it as {where}, or pass --semantic-weight 0.",
        )
    if tmap is not None and len(with_map) < len(smaps):
        i = next(i for i, m in enumerate(smaps) if m is None)
        styles = inputs.styles
        where = (str(imaging.semantic_path(styles[i], options.painting.semantic_ext))
                 if isinstance(styles[i], (str, os.PathLike)) else "--style-map")
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

    ``style`` may name style packs (:func:`doodle.packs.resolve_styles`; their options
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
    hint = f"{beside} (beside the output) or pass --map"
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
    snapped (:mod:`doodle.maps`). Matching compares colours, so an anti-aliased edge
    or a JPEG-shifted colour would otherwise be a label of its own that matches
    nothing well. Each doodle colour no style map has (beyond
    :data:`doodle.maps.COLOUR_TOLERANCE`) is painted as the nearest style colour, and
    ``notice`` hears one line about each.
    """
    from doodle import maps

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
    """The doodle's colours that no style map has (:class:`doodle.maps.MissingColour`),
    each with the nearest colour of the style map nearest it."""
    from doodle import maps

    missing: dict = {}
    for i, style_map in enumerate(style_maps):
        found = {m.colour: m for m in maps.check(style_map, target_map).missing}
        missing = found if i == 0 else {
            c: min(m, found[c], key=lambda x: x.distance) for c, m in missing.items() if c in found}
    return list(missing.values())


def _within(map_rgb: np.ndarray, palette: np.ndarray) -> bool:
    """Whether every pixel of an (H, W, 3) uint8 map has a colour of the (K, 3) palette."""
    from doodle import maps

    return bool(np.isin(maps.palette(map_rgb)[0].astype(np.int64) @ [65536, 256, 1],
                        palette.astype(np.int64) @ [65536, 256, 1]).all())


def resize_map(map_rgb: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 map -> (h, w, 3) uint8, nearest neighbour (pixel centres).

    Nearest, not bilinear: a map keeps exactly its colours, where blending would put
    new in-between colours along every edge (labels of nothing, or of a third region).
    """
    h, w = hw
    rows = ((np.arange(h) + 0.5) * map_rgb.shape[0] / h).astype(np.int64)
    cols = ((np.arange(w) + 0.5) * map_rgb.shape[1] / w).astype(np.int64)
    return map_rgb[rows][:, cols]


def resolve_extractor(options: Options, notice: Callable[[str], None] = lambda s: None) -> Extractor:
    """The extractor ``options.painting.weights`` names: "builtin", "auto", a source name or a path.

    "auto" takes the best pretrained VGG on the machine (doodle's cache, then other
    libraries' caches) and says which and where; else the built-in extractor, with
    a notice saying how to get full quality.
    """
    from doodle import weights

    # A built-in network is built only as deep as this run reads (the weights are the same).
    layers = tuple(options.painting.style_layers or BUILTIN.style_layers) + tuple(options.painting.content_layers or
                                                                         BUILTIN.content_layers)
    return weights.resolve(options.painting.weights, last=vgg.deepest(layers), notice=notice)


def _uses_builtin(options: Options) -> bool:
    """Whether ``options.painting.weights`` means the built-in extractor ("auto" with no
    pretrained file on the machine), decided without loading anything."""
    from doodle import weights

    spec = options.painting.weights
    return weights.weights_file(spec, cache.cache_dir()) is None if spec in ("auto", "packaged") else spec == "builtin"


def extractor_kind(options: Options) -> ExtractorDefaults:
    """The defaults of the extractor ``options`` will paint with (:data:`BUILTIN` or
    :data:`PRETRAINED`), decided without loading any weights."""
    return BUILTIN if _uses_builtin(options) else PRETRAINED


def paint(
    style: Union[ImageLike, Sequence[ImageLike]],
    *,
    style_map: Union[ImageLike, Sequence[Optional[ImageLike]], None] = None,
    content: Optional[ImageLike] = None,
    map: Optional[ImageLike] = None,  # noqa: A002 - the reference's name for the target map
    seed: Optional[ImageLike] = None,
    options: Options = Options(),
    extractor: Optional[Extractor] = None,
    callback: Optional[synthesis.Callback] = None,
    notice: Callable[[str], None] = lambda s: None,
) -> np.ndarray:
    """Paint and return the (H, W, 3) uint8 image.

    Args:
      style: the style painting (path or (H, W, 3) array in [0, 255]) or a style
        pack's name (its recommended options apply to fields left at their
        defaults), or a list of several whose patches are pooled.
      style_map: its semantic map; default: ``<style>_sem.png`` if it exists. For
        several styles, a list in the same order (None entries: the default).
      content: a content image for style transfer, or None.
      map: the doodle (or the content's map); default for content:
        ``<content>_sem.png`` if it exists.
      seed: a starting image (path or array); default per ``options.painting.seed``.
      options: everything else; see :class:`doodle.Options`.
      extractor: reuse a loaded extractor across calls (painting a batch compiles
        once per shape); default from ``options.painting.weights``.
      callback: receives a :class:`doodle.synthesis.Progress` after every evaluation.
      notice: receives one-line notices meant for the user (a doodle colour the
        style map lacks, say).
    """
    prepared = prepare(style, style_map=style_map, content=content, target_map=map, seed=seed, options=options,
                       notice=notice)
    return paint_problem(prepared.problem, prepared.options, extractor=extractor, callback=callback, notice=notice)


def paint_problem(
    problem: Problem,
    options: Options,
    *,
    extractor: Optional[Extractor] = None,
    callback: Optional[synthesis.Callback] = None,
    notice: Callable[[str], None] = lambda s: None,
    memo: Optional[Callable] = None,
) -> np.ndarray:
    """:func:`paint` for a problem :func:`build_problem` already made (its maps
    conformed): plan, paint, re-plan on out-of-memory; (H, W, 3) uint8. ``memo``
    shares the styles' network passes between paintings (:mod:`doodle.batch.cache`)."""
    colour_source = None
    if options.painting.preserve_colors:  # paint the luminance, then give it the content's colours back
        colour_source = problem.content
        problem = luminance_problem(problem)
    if extractor is None:
        extractor = resolve_extractor(options, notice)
    random_seed = (options.painting.random_seed if options.painting.random_seed is not None
                   else secrets.randbits(31))
    planner.select_device(options.resources.device)  # InputError for --device gpu without a GPU
    budgets = planner.budgets(options.resources.device, options.resources.max_memory)
    slice_budget = options.resources.match_memory
    prefer = options.resources.device
    while True:
        run_plan = make_plan(problem, extractor, options, budgets, prefer, slice_budget)
        try:
            image = synthesis.synthesize(problem, extractor, options, key=jax.random.PRNGKey(random_seed),
                                         callback=callback, plan=run_plan, memo=memo)
            if colour_source is not None:
                image = color.combine(image, colour_source)
            return to_uint8(image)
        except DivergenceError as e:
            if colour_source is not None and e.image is not None:  # the last good image, in colour too
                e.image = color.combine(e.image, colour_source)
            raise
        except synthesis.PhaseTooSmall as e:
            raise InputError(f"{e}.", "Use a larger image or --output-size, or fewer --phases.") from None
        except Exception as e:  # XLA reports OOM as a runtime error of its own type
            if not planner.is_out_of_memory(e):
                raise
            # Re-plan with smaller slices, then with the memory savers the user left
            # to the planner (remat, heap trimming) forced on, then on the CPU, then
            # give up: an out-of-memory is never reported as divergence
            # (neural-doodle#57). A saver the user turned off stays off.
            savers = _savers_left_to_plan(options)
            if slice_budget > 16 * 2**20 and options.resources.slices is None:
                slice_budget //= 4
                notice(f"out of memory: retrying with matching slices of {slice_budget // 2**20} MiB")
            elif savers:
                options = options.replace(**{name: "on" for name in savers})
                notice(f"out of memory: retrying with {' and '.join(SAVER_WORDS[n] for n in savers)} on")
            elif prefer != "cpu" and "cpu" in planner.budgets("cpu", options.resources.max_memory):
                prefer = "cpu"
                budgets = planner.budgets("cpu", options.resources.max_memory)
                notice("out of memory on the GPU: retrying on the CPU")
            else:
                style_layers, content_layers, semantic, propagated = _layers(extractor, options, problem)
                largest = planner.largest_fitting(
                    problem.size, style_size(problem), style_layers, content_layers, semantic,
                    budgets=_halved(budgets), prefer=prefer, propagated=propagated,
                    remat=options.resources.remat, release=options.resources.release_memory,
                    arch=_arch(extractor))
                size = f" (try --output-size {largest[0]}x{largest[1]})" if largest else ""
                raise RunFailure(f"out of memory even with the smallest slices{size}.",
                                 "Use a smaller --output-size or close other programs.") from None


def luminance_problem(problem: Problem) -> Problem:
    """The problem in luminance only, for ``--preserve-colors`` (Gatys et al. 2016).

    Each style becomes a grey image of its luma matched to the content's luma mean
    and deviation (:func:`doodle.color.match_luminance`); the content and a seed image
    become grey images of their luma. Arrays are (H, W, 3) float32 in [0, 255].
    """
    y_content = color.luminance(problem.content)
    greys = tuple(color.grey(color.match_luminance(color.luminance(s), y_content))
                  for s in styles_of(problem))
    return problem._replace(
        style=greys if isinstance(problem.style, (tuple, list)) else greys[0],
        content=color.grey(y_content),
        seed=color.grey(color.luminance(problem.seed)) if problem.seed is not None else None,
    )


class RunFailure(DoodleError):
    """A runtime failure that is not the user's input (exit 1): out of memory, say."""

    exit_code = 1


def _layers(extractor: Extractor, options: Options, problem: Problem):
    """(style layers, content layers, with maps, the style layers refined from a deeper
    one's matches): what the planner is told of a run's layers."""
    style_layers = style_layers_of(options, extractor)
    content_layers = content_layers_of(options, problem, extractor)
    if extractor is not None:  # `doodle plan` plans without loading weights
        check_network_layers(extractor, style_layers, content_layers)
    return (style_layers, content_layers, has_maps(problem, options),
            [l for l, _ in propagated_of(options, problem, style_layers)])


def _arch(extractor: Optional[Extractor]) -> str:
    """The network to plan for: the extractor's, or VGG19 (the larger) when no
    weights are loaded."""
    return extractor.arch if extractor is not None else "vgg19"


def check_network_layers(extractor: Extractor, style_layers: Sequence[str], content_layers: Sequence[str]) -> None:
    """InputError naming the first layer the extractor's network lacks: every name
    :func:`check_options` accepts is a VGG19 layer, but a VGG16 stops blocks 3-5 at
    their third conv (no 3_4, 4_4, 5_4)."""
    known = vgg.layer_names(extractor.arch)
    network = extractor.arch.upper()
    held = [n for n in known if f"conv{n}" in extractor.params]
    for what, layers in (("style", style_layers), ("content", content_layers)):
        for layer in layers:
            if layer not in known:
                raise InputError(
                    f"the weights are {network}, which has no layer {layer} (asked for as a {what} layer).",
                    f"{network}'s layers: {','.join(known)}; or use VGG19 weights.")
            if layer not in held:  # a partial file, such as the shipped VGG16's first nine layers
                raise InputError(
                    f"the weights {extractor.name!r} hold {network}'s layers up to {held[-1]} only, not {layer} "
                    f"(asked for as a {what} layer).",
                    "for deeper layers use a whole VGG16 or VGG19 file: doodle weights list")


# The memory savers an out-of-memory retry may force on, by their option's name.
SAVER_WORDS = {"remat": "rematerialisation", "release_memory": "memory release"}


def _savers_left_to_plan(options: Options) -> list[str]:
    """The savers of SAVER_WORDS still at "auto" in ``options`` (left to the planner)."""
    return [name for name in SAVER_WORDS if getattr(options.resources, name) == "auto"]


def _halved(budgets: dict) -> dict:
    return {k: v // 2 for k, v in budgets.items()}


def extractor_defaults(options: Options, problem: Problem) -> Options:
    """``options`` with what is left to the extractor and the mode (style and content
    layers, content, distribution and colour weights) filled in as the run will,
    without loading any weights."""
    kind = extractor_kind(options)
    distribution_weight, color_weight = terms_of(options, problem)
    return options.replace(
        style_layers=style_layers_of(options, kind),
        content_layers=tuple(options.painting.content_layers or kind.content_layers),
        content_weight=content_weight_of(options, problem, kind),
        distribution_weight=distribution_weight, color_weight=color_weight)


def make_plan(problem: Problem, extractor: Extractor, options: Options,
              budgets: Optional[dict] = None, prefer: Optional[str] = None,
              slice_budget: Optional[int] = None) -> planner.Plan:
    """The memory plan of a problem; InputError (exit 2) when nothing fits, naming what would."""
    if budgets is None:
        budgets = planner.budgets(options.resources.device, options.resources.max_memory)
    style_layers, content_layers, semantic, propagated = _layers(extractor, options, problem)
    try:
        return planner.plan(problem.size, style_size(problem), style_layers, content_layers, semantic,
                            options.painting.phases, budgets, prefer or options.resources.device,
                            options.resources.slices,
                            slice_budget=slice_budget or options.resources.match_memory,
                            propagated=propagated, remat=options.resources.remat,
                            tiling=not options.painting.seamless,
                            release=options.resources.release_memory, arch=_arch(extractor))
    except planner.DoesNotFit as e:
        hint = (f"Use --output-size {e.largest[0]}x{e.largest[1]} or smaller, or raise --max-memory."
                if e.largest else "Use a smaller --output-size, or raise --max-memory.")
        raise InputError(f"this painting does not fit in memory: {e}.", hint) from None

