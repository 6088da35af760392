"""The one source of defaults: :class:`Options`, passed down explicitly.

Options are frozen dataclasses, one per concern; :class:`Options` holds one of each:

- :class:`PaintingOptions` (``options.painting``): everything that can change the
  picture. The loss weights and layers, the matching (``cache``, ``match_every``,
  ``propagate``, ``hard_labels``), the schedule (``phases``, ``iterations``, the
  stall rule), the start (``seed``, ``seed_range``, ``random_seed``), the output's
  size and colours, and two that name inputs: ``weights`` (which network sees the
  images) and ``semantic_ext`` (which file is a map). The same painting options and
  the same input files paint the same picture, up to floating-point rounding
  between devices.
- :class:`ResourceOptions` (``options.resources``): where a painting runs and how
  much memory it may plan for: ``device``, ``max_memory``, ``slices``,
  ``match_memory``. They change how the work is split, not the result: matching in
  any number of slices is the same exhaustive search.
- :class:`ReportingOptions` (``options.reporting``): what is told and kept along the
  way: ``print_every``, ``save_every``, ``frames_dir``, ``metadata`` (the provenance
  record in the image's text field). They never change the picture.

The rule is "can it change the picture?": if so the field is painting's, even when,
like ``weights``, it names a file.

Every field name is unique across the concerns, so :meth:`Options.of` and
:meth:`Options.replace` take the flat names (``Options.of(style_weight=50,
device="cpu", print_every=0)``) and route each to its concern; :meth:`Options.flat`
gives them back as one dict. Each field's ``metadata["help"]`` is its ``--help``
text: the command line's flags are built from these fields (:mod:`doodle.cli.options`).

Defaults follow alexjc/neural-doodle's command line unless a comment says why not.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import os
from typing import Any, Optional

from doodle.errors import OptionError


@dataclasses.dataclass(frozen=True)
class ExtractorDefaults:
    """What the fields of :class:`PaintingOptions` left at None mean for one kind of extractor."""

    style_layers: tuple[str, ...]
    content_layers: tuple[str, ...]
    content_weight: float  # plain style transfer (no semantic maps)
    content_weight_with_maps: float  # semantic style transfer: the maps carry the layout
    # Whether --finish auto quilts a doodle (a painting with maps and no photo); texture
    # synthesis is quilted with every extractor.
    quilt_with_maps: bool = True


# Pretrained VGG16 / VGG19, their layers pinned to the built-in network's mean
# activation (extractor.pin): the reference's layers and content weights. Unpinned, the
# reference's weights lost the photo in plain transfer (the coffee cup's edge correlation
# 0.06 with VGG16); pinned, the cup keeps its outline (0.36). Doodles are not quilted:
# the optimiser's painting already carries the style's strokes, and the blocks brought
# the style's few border areas along region borders (the Coastline's deep-blue strip
# above the rocks) and a patchwork in smooth skies. Figures: bench/RESULTS.md, 2026-12-08.
PRETRAINED = ExtractorDefaults(style_layers=("3_1", "4_1"), content_layers=("4_2",), content_weight=10.0,
                               content_weight_with_maps=10.0, quilt_with_maps=False)
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
    """What ``distribution_weight``, ``color_weight`` and ``stall_tolerance`` left at
    None mean in one mode, and how deep ``propagate`` reaches there."""

    distribution_weight: float
    color_weight: float
    stall_tolerance: float
    # True: every style layer but the deepest is refined from the next deeper one's
    # matches; False: only layers finer than relu3_1 (relu3_1 and deeper searched whole).
    propagate_deep: bool


# Doodles and semantic transfer: the maps already spread the matches over the style's
# regions, and heavier terms cost texture-by-numbers label accuracy. relu3_1 refined
# from relu4_1 and a 4 % stall rule: the same figures as searching relu3_1 with 2 %,
# the by-numbers accuracy a little higher, in three quarters of the time.
WITH_MAPS = TermDefaults(distribution_weight=25.0, color_weight=100.0, stall_tolerance=0.04,
                         propagate_deep=True)
# Texture synthesis and plain transfer: the terms are all that stops a collapse onto
# a few patches, and in plain transfer they pull the colours from the photo's to the
# style's against the heavy content term.
# relu3_1 searched whole: refined from relu4_1, texture synthesis copied the style
# almost verbatim (coherent matches copy whole areas; bench/RESULTS.md).
WITHOUT_MAPS = TermDefaults(distribution_weight=50.0, color_weight=500.0, stall_tolerance=0.02,
                            propagate_deep=False)
DEVICES = ("auto", "cpu", "gpu")
REMAT = ("auto", "on", "off")
RELEASE = ("auto", "on", "off")
FINISHES = ("auto", "quilt", "none")
# Fields a library user sets, with no flag or job key: the matching slices' memory
# cap (--max-memory caps the whole plan).
LIBRARY_ONLY = ("match_memory",)


def _option(default: Any, help: str) -> Any:  # noqa: A002 - click's word for it
    """A field with its one-line description (``metadata["help"]``, the ``--help`` text)."""
    return dataclasses.field(default=default, metadata={"help": help})


def _layers(kind: ExtractorDefaults, field: str) -> str:
    return ",".join(getattr(kind, field))


@dataclasses.dataclass(frozen=True)
class PaintingOptions:
    """Everything that can change the picture. Every field has the reference's default unless noted."""

    # (width, height); None: the content's or doodle map's size (the style's for
    # texture synthesis).
    output_size: Optional[tuple[int, int]] = _option(None, "WIDTHxHEIGHT of the output, e.g. 512x384.")
    # The reference's convention: Monet.jpg -> Monet_sem.png.
    semantic_ext: str = _option("_sem.png", "Suffix of semantic maps.")
    # Paint the luminance of the style and content only, then put the content's chroma
    # back on the painted luminance (Gatys et al. 2016, "Preserving color in neural
    # artistic style transfer"). Not in the reference.
    preserve_colors: bool = _option(
        False, "Keep the content's colours: transfer the style's luminance only (needs --content).")
    # The MSE of features at `content_layers`; None: the extractor's default for the
    # run's mode (ExtractorDefaults above).
    content_weight: Optional[float] = _option(
        None, f"Weight of the content loss [default: {PRETRAINED.content_weight:g} pretrained; "
        f"built-in {BUILTIN.content_weight:g}, or {BUILTIN.content_weight_with_maps:g} with maps].")
    # None: the extractor's default (4_2 for both).
    content_layers: Optional[tuple[str, ...]] = _option(
        None, f"Layers of the content loss [default: {_layers(PRETRAINED, 'content_layers')} pretrained; "
        f"{_layers(BUILTIN, 'content_layers')} built-in].")
    # The MRF style loss, applied to each style layer.
    style_weight: float = _option(25.0, "Weight of the style loss (per layer).")
    # The layers whose patches are matched; None: the extractor's default.
    style_layers: Optional[tuple[str, ...]] = _option(
        None, f"Layers matched for style [default: {_layers(PRETRAINED, 'style_layers')} pretrained; "
        f"{_layers(BUILTIN, 'style_layers')} built-in].")
    # The reference's --semantic-weight.
    semantic_weight: float = _option(10.0, "Weight of the semantic maps in matching; 0 ignores maps.")
    # The total-variation smoothness term.
    smoothness: float = _option(1.0, "Weight of the total-variation smoothing.")
    # A bias against reusing the same style patches (0 = plain nearest neighbour).
    variety: float = _option(0.0, "Bias towards using more of the style's patches.")
    # Style patches taken more often than their fair share at the last matching are
    # penalised (Zhou et al. 2023, "Guided Correspondence"), so that a region uses its
    # style region's patches evenly.
    occurrence: float = _option(
        0.0, "Penalty on style patches used more than their fair share (0: plain nearest patches).")
    # Each region of the painting must hold the whole distribution of the style
    # region's features (sliced Wasserstein, doodle/distribution.py), not only its
    # nearest patches. 0 paints with nearest patches alone, as the reference, and
    # collapses textures. None: the default for the run's mode (WITH_MAPS or
    # WITHOUT_MAPS above).
    distribution_weight: Optional[float] = _option(
        None, "Weight of each region's feature distribution, per style layer; 0: nearest patches only "
        f"[default: {WITH_MAPS.distribution_weight:g} with maps, {WITHOUT_MAPS.distribution_weight:g} without].")
    # The same term on the pixels' colours: each region takes the colours of its style
    # region, in their proportions. None: the mode's default.
    color_weight: Optional[float] = _option(
        None, "Weight of each region's colour distribution "
        f"[default: {WITH_MAPS.color_weight:g} with maps, {WITHOUT_MAPS.color_weight:g} without].")
    # A frame of a sequence (doodle/sequence.py) is held to the previous painting,
    # carried along its doodle's motion, where its map colour did not change: this
    # weight times the mean squared difference there (no such term in the reference;
    # it keeps what did not change from flickering, Ruder et al. 2016's short-term
    # temporal loss without the optical flow).
    temporal_weight: float = _option(
        1000.0, "Weight that holds a sequence's frames to the previous painting where the doodle did not change.")
    # Matching once per phase instead of at every evaluation is faster, and blurrier.
    cache: bool = _option(False, "Match patches once per phase.")
    # Matches are reused in between. The reference matched at every evaluation (1);
    # matching dominates an evaluation's cost, and on the Coastline doodle at 256×192
    # every 4th gave the same picture and a lower final loss in much less time
    # (bench/RESULTS.md).
    match_every: int = _option(4, "Re-match patches every N evaluations (higher is faster).")
    # Style layers are matched by refining the next deeper style layer's matches in a
    # 3×3 window instead of searching the whole bank: those finer than relu3_1 always,
    # and with maps relu3_1 too (WITH_MAPS). The exhaustive search at relu2_1 costs 16×
    # the pixel pairs of relu3_1, relu3_1 8× those of relu4_1; the reference searched
    # every layer (bench/RESULTS.md has the comparisons). The deepest style layer is
    # always searched whole.
    propagate: bool = _option(
        True, "Match style layers finer than 3_1 (with maps: every one but the deepest) by refining the "
        "next deeper layer's matches (fast), or search every layer's whole bank (the reference; slow).")
    # With flat-colour maps, a patch only takes style patches whose centre has its own
    # map colour (the reference only biased matching towards it, through
    # `semantic_weight`). Maps with many colours (> 64, not flat) are not restricted.
    hard_labels: bool = _option(True, "With flat-colour maps, match only patches of the same map colour.")
    # The output wraps around: the network pads circularly, output patches, the
    # smoothness term and the resizing between phases wrap, so the painting tiles
    # without a seam (issue 17). The style is not periodic: its side is unchanged.
    seamless: bool = _option(False, "Paint a tile: the output wraps around, so copies of it side by side "
                             "show no seam.")
    # A phase ends early once L-BFGS has all but stalled: when the lowest loss measured
    # at a fresh matching in the last `stall_window` evaluations improved by less than
    # this fraction on the lowest before them (0: run every evaluation, as the
    # reference did). The log says when a phase ends early. 2 % or 4 %, not 1 %: with
    # the distribution terms the loss keeps creeping down long after the picture has
    # settled. None: the mode's default (WITH_MAPS or WITHOUT_MAPS above).
    stall_tolerance: Optional[float] = _option(
        None, "End a phase early when its loss (measured at each re-matching) improved by less than this "
        "fraction over --stall-window evaluations (0: never) "
        f"[default: {WITH_MAPS.stall_tolerance:g} with maps, {WITHOUT_MAPS.stall_tolerance:g} without].")
    stall_window: int = _option(10, "Evaluations over which --stall-tolerance is judged.")
    # The painting redrawn at the end in blocks copied from the style and joined along
    # their best seams (doodle/quilting.py; image quilting, Efros & Freeman 2001): the
    # optimiser's pixels are softer than the style's finest strokes. "auto": every
    # texture, and doodles where the extractor's defaults say so (quilt_with_maps:
    # the built-in network's; a pretrained one paints them well itself), never a
    # painting with a photo (a photo's details do not survive
    # the blocks), not a --seamless tile (quilting does not wrap) nor a sequence's
    # frames (problem.quilts, sequence.paint_sequence). Not in the reference.
    finish: str = _option("auto", "Redraw the painting in blocks of the style's own pixels: auto (textures, "
                          "and doodles with the built-in extractor), quilt or none.")
    # Each resolution is half the size of the next.
    phases: int = _option(3, "Resolutions, coarse to fine.")
    # L-BFGS function evaluations (the reference's maxfun).
    iterations: int = _option(100, "Evaluations per phase.")
    # The first phase's starting image. The reference started from noise always; from
    # noise the built-in extractor's content term could not bring a photo's layout back
    # (bench/RESULTS.md), and a photo is the start every current tool of this kind
    # takes (STROTSS, NNST).
    seed: str = _option(
        "auto", "Start from noise, content, or an image path; auto: content when there is one, else noise.")
    # The uniform noise seed's range, in [0, 255].
    seed_range: tuple[float, float] = _option((16.0, 240.0), "Range of the noise seed.")
    # None draws a fresh seed (reported in the log).
    random_seed: Optional[int] = _option(None, "Make the run reproducible.")
    # "auto": a cached pretrained VGG19, else the built-in random one.
    weights: str = _option("auto", "auto (a pretrained VGG cached or found on this machine, else the VGG16 "
                                   "doodle ships), packaged, builtin (random VGG19), a known source name, "
                                   "or a weights file.")


@dataclasses.dataclass(frozen=True)
class ResourceOptions:
    """Where a painting runs and how much memory it plans for; never what it paints."""

    # None: planned from the memory budget (the reference's --slices defaulted to 2
    # and needed hand-tuning).
    slices: Optional[int] = _option(None, "Match the style bank in N slices [default: auto].")
    # "auto": a GPU when JAX sees one, else the CPU.
    device: str = _option("auto", "Where to paint: auto (a GPU when there is one), cpu or gpu.")
    # In bytes; None: what the device has free.
    max_memory: Optional[int] = _option(None, "Cap the memory planned for, e.g. 8G or 512M [default: what is free].")
    # In bytes, when `slices` is None. A library option: the command line has no flag
    # for it (--max-memory caps the whole plan).
    match_memory: int = _option(512 * 2**20, "Cap on the memory of one matching slice when --slices is not given.")
    # Rematerialisation (jax.checkpoint at the network's block boundaries): the backward
    # pass recomputes each block's activations instead of keeping them. Same gradient,
    # less memory, one more forward pass per evaluation; "auto" turns it on in a phase
    # only when the planner finds that phase short of memory without it.
    remat: str = _option("auto", "Recompute the network's activations in the backward pass to save memory: "
                         "auto (only when memory is short), on or off.")
    # Trimming the C library's heap at each matching (doodle.core.hostmem): on a CPU a whole
    # run then peaks near one evaluation's memory instead of 25-30 % above it, for a few
    # per cent more time; "auto" trims only in a phase the planner finds short of memory.
    release_memory: str = _option("auto", "Give freed memory back to the system at each matching (CPU): a lower "
                                  "peak for a little time; auto (only when memory is short), on or off.")


@dataclasses.dataclass(frozen=True)
class ReportingOptions:
    """What a painting tells and keeps along the way; never what it paints."""

    print_every: int = _option(
        10, "Log every N iterations (plain lines when stderr is not a terminal, and --log-json); "
        "0: phase summaries only. A terminal gets a progress bar.")
    save_every: int = _option(0, "Save a frame every N iterations (0: never).")
    frames_dir: str = _option("frames", "Where --save-every writes.")
    # The provenance record (doodle/provenance.py) in the image's text field: PNG
    # tEXt chunks, Exif in JPEG, WebP and TIFF. `doodle info` reads it back.
    metadata: bool = _option(
        True, "Write how the painting was made (version, extractor, options, seed, inputs' sha256, losses) "
        "into the image; `doodle info` reads it.")


# The concerns, in order, by the name Options holds each under.
CONCERNS: dict[str, type] = {"painting": PaintingOptions, "resources": ResourceOptions,
                             "reporting": ReportingOptions}
# Each field's flat name -> the concern that holds it.
CONCERN_OF: dict[str, str] = {f.name: concern for concern, cls in CONCERNS.items()
                              for f in dataclasses.fields(cls)}


@dataclasses.dataclass(frozen=True)
class Options:
    """How to paint: one frozen dataclass per concern. ``Options()`` is every default;
    :meth:`of` and :meth:`replace` take the fields by their flat names."""

    painting: PaintingOptions = dataclasses.field(default_factory=PaintingOptions)
    resources: ResourceOptions = dataclasses.field(default_factory=ResourceOptions)
    reporting: ReportingOptions = dataclasses.field(default_factory=ReportingOptions)

    @classmethod
    def of(cls, **fields: Any) -> "Options":
        """The defaults with ``fields`` (flat names: ``style_weight=50, device="cpu"``) set."""
        return cls().replace(**fields)

    def replace(self, **changes: Any) -> "Options":
        """A copy with ``changes`` applied, each a field's flat name (or a concern's
        name and a whole dataclass). TypeError naming a key that is neither."""
        whole = {k: changes.pop(k) for k in list(changes) if k in CONCERNS}
        by_concern: dict[str, dict[str, Any]] = {}
        for name, value in changes.items():
            if name not in CONCERN_OF:
                close = difflib.get_close_matches(name, CONCERN_OF, n=1)
                raise TypeError(f"Options has no field {name!r}" + (f"; did you mean {close[0]!r}?" if close else "."))
            by_concern.setdefault(CONCERN_OF[name], {})[name] = value
        for concern, fields in by_concern.items():
            whole[concern] = dataclasses.replace(whole.get(concern, getattr(self, concern)), **fields)
        return dataclasses.replace(self, **whole)

    def flat(self) -> dict[str, Any]:
        """Every field by its flat name, concern by concern (the JSON log's "options")."""
        return {name: getattr(getattr(self, concern), name) for name, concern in CONCERN_OF.items()}


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
WEIGHTS = ("content_weight", "style_weight", "semantic_weight", "smoothness", "variety", "occurrence",
           "distribution_weight", "color_weight", "temporal_weight")


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


def _stall_tolerance(value) -> None:
    hint = "Use e.g. 0.02 (2 %), or 0 to run every evaluation."
    _number("stall_tolerance", value, 0.0, 1.0, hint)
    if value >= 1:
        raise OptionError("stall_tolerance", f"must be below 1, got {value:g}.", hint)


def validate(options: Options) -> None:
    """OptionError (exit 2) naming the first field whose value cannot work.

    Every number is checked finite and in range: NaN compares false with
    everything, so a NaN weight would otherwise slip past "must not be negative"
    and paint as if it were 0.
    """
    painting, resources, reporting = options.painting, options.resources, options.reporting
    for field in WEIGHTS:
        value = getattr(painting, field)
        if value is not None:  # None: the default for the run's extractor and mode
            _number(field, value, 0.0, MAX_WEIGHT)
    if painting.stall_tolerance is not None:  # None: the mode's default
        _stall_tolerance(painting.stall_tolerance)
    _integer("iterations", painting.iterations, 1, MAX_COUNT, "Use e.g. 100.")
    _integer("phases", painting.phases, 1, MAX_PHASES, "Use e.g. 3.")
    _integer("match_every", painting.match_every, 1, MAX_COUNT, "Use e.g. 4.")
    _integer("stall_window", painting.stall_window, 1, MAX_COUNT, "Use e.g. 10.")
    _integer("print_every", reporting.print_every, 0, MAX_EVERY, "Use e.g. 10, or 0 for phase summaries only.")
    _integer("save_every", reporting.save_every, 0, MAX_EVERY, "Use e.g. 10, or 0 to save no frames.")
    _integer("match_memory", resources.match_memory, 1, MAX_MEMORY)
    if resources.slices is not None:
        _integer("slices", resources.slices, 1, MAX_SLICES)
    if painting.random_seed is not None:
        _integer("random_seed", painting.random_seed, 0, MAX_SEED, f"Use a number from 0 to {MAX_SEED}.")
    if resources.max_memory is not None:
        _integer("max_memory", resources.max_memory, 1, MAX_MEMORY, "Use e.g. 8G or 512M.")
    _seed_range(painting.seed_range)
    _output_size(painting.output_size)
    if resources.device not in DEVICES:
        raise OptionError("device", f"must be one of {', '.join(DEVICES)}, got {resources.device!r}.")
    if resources.remat not in REMAT:
        raise OptionError("remat", f"must be one of {', '.join(REMAT)}, got {resources.remat!r}.")
    if resources.release_memory not in RELEASE:
        raise OptionError("release_memory",
                          f"must be one of {', '.join(RELEASE)}, got {resources.release_memory!r}.")
    if painting.finish not in FINISHES:
        raise OptionError("finish", f"must be one of {', '.join(FINISHES)}, got {painting.finish!r}.")
    if painting.finish == "quilt" and painting.seamless:
        raise OptionError("finish", "quilt cannot wrap a `seamless` tile.", "Use `finish none` or auto.")
    _semantic_ext(painting.semantic_ext)


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
