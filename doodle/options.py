"""The one source of defaults: :class:`Options`, passed down explicitly.

Defaults follow alexjc/neural-doodle's command line unless a comment says why not.
The CLI reads its option defaults from here.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import os
from typing import Optional

from doodle.errors import OptionError


@dataclasses.dataclass(frozen=True)
class Options:
    """How to paint. Every field has the reference's default unless noted."""

    # Weight of the content loss (MSE of features at `content_layers`); None: the
    # extractor's default for the run's mode (ExtractorDefaults below).
    content_weight: Optional[float] = None
    # Layers whose features the content loss compares; None: the extractor's default
    # (4_2 for both).
    content_layers: Optional[tuple[str, ...]] = None
    # Keep the content's colours (needs a content image): paint the luminance of the
    # style and content only, then put the content's chroma back on the painted
    # luminance (Gatys et al. 2016, "Preserving color in neural artistic style
    # transfer"). Not in the reference.
    preserve_colors: bool = False
    # Weight of the MRF style loss, applied to each style layer.
    style_weight: float = 25.0
    # Layers whose patches are matched; None: the extractor's default
    # (pretrained VGG19: 3_1,4_1 as the reference; built-in: 2_1,3_1,4_1).
    style_layers: Optional[tuple[str, ...]] = None
    # Weight of the distribution term at each style layer: each region of the
    # painting must hold the whole distribution of the style region's features
    # (sliced Wasserstein, doodle/distribution.py), not only its nearest patches.
    # 0 paints with nearest patches alone, as the reference, and collapses textures.
    # None: the default for the run's mode (WITH_MAPS or WITHOUT_MAPS below).
    distribution_weight: Optional[float] = None
    # Weight of the same term on the pixels' colours: each region takes the colours
    # of its style region, in their proportions. None: the mode's default.
    color_weight: Optional[float] = None
    # Weight of the semantic map in patch matching (the reference's --semantic-weight).
    semantic_weight: float = 10.0
    # Weight of the total-variation smoothness term.
    smoothness: float = 1.0
    # Bias against reusing the same style patches (0 = plain nearest neighbour).
    variety: float = 0.0
    # Penalty on style patches taken more often than their fair share at the last
    # matching (Zhou et al. 2023, "Guided Correspondence"), so that a region uses
    # its style region's patches evenly; 0: plain nearest neighbours.
    occurrence: float = 0.0
    # Match patches once per phase instead of at every evaluation (faster, blurrier).
    cache: bool = False
    # Re-match patches every N evaluations, reusing the matches in between. The
    # reference matched at every evaluation (1); matching dominates an evaluation's
    # cost, and on the Coastline doodle at 256×192 every 4th gave the same picture
    # and a lower final loss in 58 % of the time (bench/RESULTS.md).
    match_every: int = 4
    # Match style layers finer than relu3_1 (2_1, 1_1…) by refining the next deeper
    # style layer's matches in a 3×3 window instead of searching the whole bank. The
    # exhaustive search at relu2_1 costs 16× the pixel pairs of relu3_1 (~26 s per
    # matching at 512×384 on two cores); the reference searched every layer
    # (bench/RESULTS.md has the comparison). relu3_1 and deeper are always exhaustive.
    propagate: bool = True
    # With flat-colour maps, a patch only takes style patches whose centre has its
    # own map colour (the reference only biased matching towards it, through
    # `semantic_weight`). Maps with many colours (> 64, not flat) are not restricted.
    hard_labels: bool = True
    # End a phase early once L-BFGS has all but stalled: when the lowest loss measured
    # at a fresh matching in the last `stall_window` evaluations improved by less than
    # this fraction on the lowest before them (0: run every evaluation, as the
    # reference did). The log says when a phase ends early. 2 %, not 1 %: with the
    # distribution terms the loss keeps creeping down long after the picture has
    # settled (the regions' colour distances moved by under 1 on the Coastline doodle
    # between 2 % and 1 %, for a third more evaluations; bench/RESULTS.md).
    stall_tolerance: float = 0.02
    # Evaluations over which a stall is judged.
    stall_window: int = 10
    # Number of resolutions, coarse to fine, each half the size of the next.
    phases: int = 3
    # L-BFGS function evaluations per phase (the reference's maxfun).
    iterations: int = 100
    # First phase's starting image: "noise", "content", an image path, or "auto": the
    # content image where there is one, else noise. The reference started from noise
    # always; from noise the built-in extractor's content term could not bring a
    # photo's layout back (bench/RESULTS.md), and a photo is the start every current
    # tool of this kind takes (STROTSS, NNST).
    seed: str = "auto"
    # Range of the uniform noise seed, in [0, 255].
    seed_range: tuple[float, float] = (16.0, 240.0)
    # Makes a run reproducible; None draws a fresh seed (reported in the log).
    random_seed: Optional[int] = None
    # (width, height) of the output; None: the content's or doodle map's size
    # (the style's for texture synthesis).
    output_size: Optional[tuple[int, int]] = None
    # Number of slices the style patch bank is matched in; None: planned from the
    # memory budget (the reference's --slices defaulted to 2 and needed hand-tuning).
    slices: Optional[int] = None
    # Bytes one matching slice may use at most when `slices` is None.
    match_memory: int = 512 * 2**20
    # Cap on the memory a run may plan for, in bytes; None: what the device has free.
    max_memory: Optional[int] = None
    # "auto", "cpu" or "gpu".
    device: str = "auto"
    # Suffix of the semantic map beside an image: Monet.jpg -> Monet_sem.png.
    semantic_ext: str = "_sem.png"
    # Weights: "auto" (a cached pretrained VGG19, else built-in), "builtin", or a path.
    weights: str = "auto"
    # Log every N iterations (0: only phase summaries).
    print_every: int = 10
    # Save a frame every N iterations into `frames_dir` (0: never).
    save_every: int = 0
    # Where frames go.
    frames_dir: str = "frames"

    def replace(self, **changes) -> "Options":
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


DEFAULTS = Options()

# Bounds of the numeric options. Generous for any real painting; they exist so that
# a typo (an exponent, a stray digit) is refused at once with the bound in the
# message, not met an hour later as an out-of-memory error or a silently wrong image.
MAX_WEIGHT = 1e6  # loss weights: ~1e6 × a loss of ~1e6 stays far inside float32
MAX_SIDE = 16384  # output width or height, in pixels
MAX_PHASES = 16  # each phase halves the size: 16 phases of a 16384 px side end at 1 px
MAX_COUNT = 10**6  # iterations, evaluations between matchings or stalls
MAX_EVERY = 2**31 - 1  # --print-every and --save-every (0: never)
MAX_SLICES = 2**20
MAX_SEED = 2**32 - 1  # jax.random.PRNGKey folds larger seeds onto smaller ones
MAX_MEMORY = 2**60  # bytes
DEVICES = ("auto", "cpu", "gpu")
WEIGHTS = ("content_weight", "style_weight", "semantic_weight", "smoothness", "variety", "occurrence",
           "distribution_weight", "color_weight")


def _number(field: str, value, low: float, high: float, hint: str = "") -> None:
    """OptionError unless ``value`` is a finite real number in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise OptionError(field, f"must be a number, got {value!r}.", hint)
    if not math.isfinite(value):
        raise OptionError(field, f"must be a finite number, got {value}.", hint)
    if not low <= value <= high:
        raise OptionError(field, f"must be between {low:g} and {high:g}, got {value:g}.", hint)


def _integer(field: str, value, low: int, high: int, hint: str = "") -> None:
    """OptionError unless ``value`` is an integer in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise OptionError(field, f"must be a whole number, got {value!r}.", hint)
    if value < low:
        raise OptionError(field, f"must be at least {low}, got {value}.", hint)
    if value > high:
        raise OptionError(field, f"must be at most {high}, got {value}.", hint)


def validate(options: Options) -> None:
    """OptionError (exit 2) naming the first field whose value cannot work.

    Every number is checked finite and in range: NaN compares false with
    everything, so a NaN weight would otherwise slip past "must not be negative"
    and paint as if it were 0.
    """
    for field in WEIGHTS:
        value = getattr(options, field)
        if value is not None:  # None: the default for the run's extractor and mode
            _number(field, value, 0.0, MAX_WEIGHT)
    _number("stall_tolerance", options.stall_tolerance, 0.0, 1.0,
            "Use e.g. 0.01 (1 %), or 0 to run every evaluation.")
    if options.stall_tolerance >= 1:
        raise OptionError("stall_tolerance", f"must be below 1, got {options.stall_tolerance:g}.",
                          "Use e.g. 0.01 (1 %), or 0 to run every evaluation.")
    _integer("iterations", options.iterations, 1, MAX_COUNT, "Use e.g. 100.")
    _integer("phases", options.phases, 1, MAX_PHASES, "Use e.g. 3.")
    _integer("match_every", options.match_every, 1, MAX_COUNT, "Use e.g. 4.")
    _integer("stall_window", options.stall_window, 1, MAX_COUNT, "Use e.g. 10.")
    _integer("print_every", options.print_every, 0, MAX_EVERY, "Use e.g. 10, or 0 for phase summaries only.")
    _integer("save_every", options.save_every, 0, MAX_EVERY, "Use e.g. 10, or 0 to save no frames.")
    _integer("match_memory", options.match_memory, 1, MAX_MEMORY)
    if options.slices is not None:
        _integer("slices", options.slices, 1, MAX_SLICES)
    if options.random_seed is not None:
        _integer("random_seed", options.random_seed, 0, MAX_SEED, f"Use a number from 0 to {MAX_SEED}.")
    if options.max_memory is not None:
        _integer("max_memory", options.max_memory, 1, MAX_MEMORY, "Use e.g. 8G or 512M.")
    _seed_range(options.seed_range)
    _output_size(options.output_size)
    if options.device not in DEVICES:
        raise OptionError("device", f"must be one of {', '.join(DEVICES)}, got {options.device!r}.")
    _semantic_ext(options.semantic_ext)


def _seed_range(seed_range) -> None:
    hint = "Use e.g. 16:240."
    try:
        lo, hi = seed_range
    except (TypeError, ValueError):
        raise OptionError("seed_range", f"must be two numbers LOW:HIGH, got {seed_range!r}.", hint) from None
    _number("seed_range", lo, 0.0, 255.0, hint)
    _number("seed_range", hi, 0.0, 255.0, hint)
    if lo > hi:
        raise OptionError("seed_range", f"{lo:g}:{hi:g} must have low <= high.", hint)


def _output_size(size) -> None:
    if size is None:
        return
    hint = "Use e.g. 512x384."
    try:
        width, height = size
    except (TypeError, ValueError):
        raise OptionError("output_size", f"must be WIDTHxHEIGHT, got {size!r}.", hint) from None
    for value in (width, height):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise OptionError("output_size", f"must be two positive whole numbers, got {size!r}.", hint)
        if value > MAX_SIDE:
            raise OptionError("output_size", f"{width}x{height} is too large: at most {MAX_SIDE} pixels a side.",
                              hint)


def _semantic_ext(ext) -> None:
    """The suffix that turns ``Monet.jpg`` into ``Monet_sem.png``: a file name's tail,
    so no folder separator (``Path.with_name`` raises on one) and never empty (the
    map would be the image's own name without its suffix)."""
    hint = "Use e.g. _sem.png."
    if not isinstance(ext, str) or not ext:
        raise OptionError("semantic_ext", "must be a non-empty suffix.", hint)
    if any(c in ext for c in ("/", os.sep, os.altsep or "/", "\0")):
        raise OptionError("semantic_ext", f"{ext!r} must be a file name's ending, without a folder.", hint)


@dataclasses.dataclass(frozen=True)
class ExtractorDefaults:
    """What the fields of :class:`Options` left at None mean for one kind of extractor."""

    style_layers: tuple[str, ...]
    content_layers: tuple[str, ...]
    content_weight: float  # plain style transfer (no semantic maps)
    content_weight_with_maps: float  # semantic style transfer: the maps carry the layout


# Pretrained VGG19: the reference's defaults.
PRETRAINED = ExtractorDefaults(style_layers=("3_1", "4_1"), content_layers=("4_2",), content_weight=10.0,
                               content_weight_with_maps=10.0)
# The built-in random extractor. relu2_1 is added to the style layers: measured to
# sharpen its paintings (its deeper random features alone are too unspecific to carry
# brush strokes). Its random relu4_2 carries less of a photo's layout than pretrained
# VGG19's: at the reference's content weight (10) plain transfer lost the photo, so
# plain transfer takes 100. With semantic maps the map already holds the photo's
# layout, and at 100 the content term kept the photo's colours against the style's
# (a red saucer stayed red where the style's crockery is white): the reference's 10.
# The figures are in bench/RESULTS.md.
BUILTIN = ExtractorDefaults(style_layers=("2_1", "3_1", "4_1"), content_layers=("4_2",), content_weight=100.0,
                            content_weight_with_maps=10.0)


@dataclasses.dataclass(frozen=True)
class TermDefaults:
    """What ``distribution_weight`` and ``color_weight`` left at None mean in one mode."""

    distribution_weight: float
    color_weight: float


# Doodles and semantic transfer: the maps already spread the matches over the style's
# regions, and heavier terms cost texture-by-numbers label accuracy.
WITH_MAPS = TermDefaults(distribution_weight=25.0, color_weight=100.0)
# Texture synthesis and plain transfer: the terms are all that stops a collapse onto
# a few patches, and in plain transfer they pull the colours from the photo's to the
# style's against the heavy content term.
WITHOUT_MAPS = TermDefaults(distribution_weight=50.0, color_weight=500.0)
