"""The public API: ``paint(...)`` from paths or arrays to an (H, W, 3) uint8 image.

This is where files, weights and options meet the pure core (``synthesis``): it
loads what it is given as paths, checks the inputs fit together, picks the
extractor and device, and hands arrays to :func:`doodle.synthesis.synthesize`.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Callable, NamedTuple, Optional, Union

import jax
import numpy as np

from doodle import imaging, planner, synthesis, vgg
from doodle.errors import DoodleError, InputError
from doodle.extractor import Extractor, builtin
from doodle.options import Options

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
    """InputError for option values that cannot work, before anything is loaded."""
    if options.iterations < 1:
        raise InputError(f"--iterations must be at least 1, got {options.iterations}.", "Use e.g. --iterations 100.")
    if options.phases < 1:
        raise InputError(f"--phases must be at least 1, got {options.phases}.", "Use e.g. --phases 3.")
    if options.match_every < 1:
        raise InputError(f"--match-every must be at least 1, got {options.match_every}.")
    if options.slices is not None and options.slices < 1:
        raise InputError(f"--slices must be at least 1, got {options.slices}.")
    lo, hi = options.seed_range
    if not 0 <= lo <= hi <= 255:
        raise InputError(f"--seed-range {lo:g}:{hi:g} must lie within 0:255 with low <= high.", "Use e.g. 16:240.")
    for flag, layers in (("--style-layers", options.style_layers or ()), ("--content-layers", options.content_layers)):
        for layer in layers:
            if layer not in vgg.CHANNELS:
                raise InputError(f"{flag}: unknown layer {layer!r}.", f"Known layers: {', '.join(vgg.LAYER_NAMES)}.")
    if options.output_size is not None and min(options.output_size) < 1:
        raise InputError("--output-size must be positive, e.g. 512x384.")
    for name in ("content_weight", "style_weight", "semantic_weight", "smoothness", "variety"):
        if getattr(options, name) < 0:
            raise InputError(f"--{name.replace('_', '-')} must not be negative.")


def build_problem(
    style: ImageLike,
    *,
    style_map: Optional[ImageLike] = None,
    content: Optional[ImageLike] = None,
    target_map: Optional[ImageLike] = None,
    seed: Optional[ImageLike] = None,
    options: Options = Options(),
    target_map_hint: str = "",
) -> synthesis.Problem:
    """Load and check inputs; the mode follows from which are given.

    (a) style + style map + target map: doodle → painting; (b) the same plus
    content: semantic style transfer; (c) style + content: plain style transfer;
    (d) style alone: texture synthesis at ``options.output_size``.
    ``target_map_hint`` names the file a missing target map was expected at.
    """
    check_options(options)
    style_img = _load(style, "style")
    if style_map is None:
        style_map = find_map(style, options.semantic_ext)
    smap = _load(style_map, "style map")
    content_img = _load(content, "content")
    if target_map is None and content is not None:
        target_map = find_map(content, options.semantic_ext)
    tmap = _load(target_map, "map")
    seed_img = _load(seed, "seed")
    _same_size(style_img, smap, "style")
    _same_size(content_img, tmap, "content")
    if options.semantic_weight > 0:
        if smap is not None and tmap is None:
            where = target_map_hint or (
                str(imaging.semantic_path(content, options.semantic_ext)) if isinstance(content, (str, os.PathLike))
                else "a map given with --map")
            raise InputError(
                f"the style has a semantic map ({smap.name}) but the output has none.",
                f"Draw one in the same colours and save it as {where}, or pass --semantic-weight 0.",
            )
        if tmap is not None and smap is None:
            where = (str(imaging.semantic_path(style, options.semantic_ext)) if isinstance(style, (str, os.PathLike))
                     else "--style-map")
            raise InputError(
                f"the output has a semantic map ({tmap.name}) but the style has none.",
                f"Annotate the style in the same colours and save it as {where}.",
            )
    else:
        smap = tmap = None
    content_arr = content_img.array if content_img is not None else None
    tmap_arr = tmap.array if tmap is not None else None
    if content_arr is not None:
        size = content_arr.shape[:2]
    elif tmap_arr is not None:
        size = tmap_arr.shape[:2]
    elif options.output_size is not None:
        size = (options.output_size[1], options.output_size[0])
    else:
        size = style_img.array.shape[:2]
    if options.output_size is not None:
        size = (options.output_size[1], options.output_size[0])
        if content_arr is not None:
            content_arr = np.asarray(synthesis.resize(content_arr, size))
        if tmap_arr is not None:
            tmap_arr = np.asarray(synthesis.resize(tmap_arr, size)).round().astype(np.uint8)
    if options.seed not in ("noise", "content") and seed_img is None:
        seed_img = _load(options.seed, "seed")
    if options.seed == "content" and content_arr is None:
        raise InputError("--seed content needs a content image.", "Pass --content, or use --seed noise.")
    return synthesis.Problem(
        style=style_img.array,
        style_map=smap.array if smap is not None else None,
        content=content_arr,
        target_map=tmap_arr,
        size=tuple(size),
        seed=seed_img.array if seed_img is not None else None,
    )


def resolve_extractor(options: Options, notice: Callable[[str], None] = lambda s: None) -> Extractor:
    """The extractor ``options.weights`` names: "builtin", "auto", a source name or a path.

    "auto" takes a cached pretrained VGG19 when there is one, else the built-in
    extractor, with a notice saying how to get full quality.
    """
    from doodle import weights

    if options.weights == "auto" and weights.find_cached(weights.cache_dir()) is None:
        notice("using the built-in random VGG19 (no pretrained weights cached); for full quality: "
               "doodle weights download neural-doodle")
        return builtin()
    return weights.resolve(options.weights)


def paint(
    style: ImageLike,
    *,
    style_map: Optional[ImageLike] = None,
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
      style: the style painting (path or (H, W, 3) array in [0, 255]).
      style_map: its semantic map; default: ``<style>_sem.png`` if it exists.
      content: a content image for style transfer, or None.
      map: the doodle (or the content's map); default for content:
        ``<content>_sem.png`` if it exists.
      seed: a starting image (path or array); default per ``options.seed``.
      options: everything else; see :class:`doodle.Options`.
      extractor: reuse a loaded extractor across calls (painting a batch compiles
        once per shape); default from ``options.weights``.
      callback: receives a :class:`doodle.synthesis.Progress` after every evaluation.
      notice: receives one-line notices meant for the user.
    """
    problem = build_problem(style, style_map=style_map, content=content, target_map=map, seed=seed, options=options)
    if extractor is None:
        extractor = resolve_extractor(options, notice)
    random_seed = options.random_seed if options.random_seed is not None else secrets.randbits(31)
    planner.select_device(options.device)  # InputError for --device gpu without a GPU
    budgets = planner.budgets(options.device, options.max_memory)
    slice_budget = options.match_memory
    prefer = options.device
    while True:
        run_plan = make_plan(problem, extractor, options, budgets, prefer, slice_budget)
        try:
            image = synthesis.synthesize(problem, extractor, options, key=jax.random.PRNGKey(random_seed),
                                         callback=callback, plan=run_plan)
            return to_uint8(image)
        except synthesis.PhaseTooSmall as e:
            raise InputError(f"{e}.", "Use a larger image or --output-size, or fewer --phases.") from None
        except Exception as e:  # XLA reports OOM as a runtime error of its own type
            if not planner.is_out_of_memory(e):
                raise
            # Re-plan with smaller slices, then on the CPU, then give up: an
            # out-of-memory is never reported as divergence (neural-doodle#57).
            if slice_budget > 16 * 2**20 and options.slices is None:
                slice_budget //= 4
                notice(f"out of memory: retrying with matching slices of {slice_budget // 2**20} MiB")
            elif prefer != "cpu" and "cpu" in planner.budgets("cpu", options.max_memory):
                prefer = "cpu"
                budgets = planner.budgets("cpu", options.max_memory)
                notice("out of memory on the GPU: retrying on the CPU")
            else:
                largest = planner.largest_fitting(problem.size, problem.style.shape[:2], *_layers(extractor, options,
                                                  problem), budgets=_halved(budgets))
                size = f" (try --output-size {largest[0]}x{largest[1]})" if largest else ""
                raise RunFailure(f"out of memory even with the smallest slices{size}.",
                                 "Use a smaller --output-size or close other programs.") from None


class RunFailure(DoodleError):
    """A runtime failure that is not the user's input (exit 1): out of memory, say."""

    exit_code = 1


def _layers(extractor: Extractor, options: Options, problem: synthesis.Problem):
    semantic = problem.style_map is not None and problem.target_map is not None and options.semantic_weight > 0
    return (synthesis.style_layers_of(options, extractor), synthesis.content_layers_of(options, problem), semantic)


def _halved(budgets: dict) -> dict:
    return {k: v // 2 for k, v in budgets.items()}


def extractor_style_layers(options: Options) -> tuple[str, ...]:
    """The style layers a run will use, without loading any weights."""
    from doodle import weights
    from doodle.extractor import BUILTIN_STYLE_LAYERS, PRETRAINED_STYLE_LAYERS

    if options.style_layers:
        return tuple(options.style_layers)
    if options.weights == "builtin" or (options.weights == "auto" and weights.find_cached(weights.cache_dir()) is None):
        return BUILTIN_STYLE_LAYERS
    return PRETRAINED_STYLE_LAYERS


def make_plan(problem: synthesis.Problem, extractor: Extractor, options: Options,
              budgets: Optional[dict] = None, prefer: Optional[str] = None,
              slice_budget: Optional[int] = None) -> planner.Plan:
    """The memory plan of a problem; InputError (exit 2) when nothing fits, naming what would."""
    if budgets is None:
        budgets = planner.budgets(options.device, options.max_memory)
    style_layers, content_layers, semantic = _layers(extractor, options, problem)
    try:
        return planner.plan(problem.size, problem.style.shape[:2], style_layers, content_layers, semantic,
                            options.phases, budgets, prefer or options.device, options.slices,
                            slice_budget=slice_budget or options.match_memory)
    except planner.DoesNotFit as e:
        hint = (f"Use --output-size {e.largest[0]}x{e.largest[1]} or smaller, or raise --max-memory."
                if e.largest else "Use a smaller --output-size, or raise --max-memory.")
        raise InputError(f"this painting does not fit in memory: {e}.", hint) from None


def to_uint8(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) float in [0, 255] -> uint8, rounded."""
    return np.clip(np.asarray(image, np.float32), 0, 255).round().astype(np.uint8)
