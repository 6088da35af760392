"""What the core paints with: a run's settings, every default and choice resolved.

:class:`Recipe` is plain data. :func:`doodle.run.resolve.recipe` makes it once per run
from the options, the problem and the extractor's kind, and the planner fills its
resource part (:class:`Plan`: each phase's device, slices, remat and tiles); the core
reads it and never goes back to the options.
"""
from __future__ import annotations

import dataclasses
from typing import Mapping, NamedTuple, Optional


class Weights(NamedTuple):
    """The loss terms' weights and the matching's biases, as a run resolved them; the
    evaluation of a phase compiles for them (:class:`doodle.core.evaluation.EvalConfig`)."""

    style_weight: float
    content_weight: float
    smoothness: float
    semantic_weight: float  # the maps' weight in matching (and in the distribution's labels)
    variety: float
    occurrence: float
    distribution_weight: float
    color_weight: float
    temporal_weight: float  # applied only to a sequence's frame (a problem with `previous`)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A run's settings as the core uses them.

    Layers are doodle's names ("3_1"). ``parents`` pairs each style layer refined from
    a deeper one's matches with that layer (:func:`doodle.core.problem.parents_of`);
    ``content_layers`` is empty without a content image or with ``content_weight`` 0;
    ``maps``: matching is steered by semantic maps (every style and the output have
    one, ``semantic_weight`` > 0).
    """

    style_layers: tuple[str, ...]
    content_layers: tuple[str, ...]
    parents: tuple[tuple[str, str], ...]
    maps: bool
    weights: "Weights"
    hard_labels: bool
    seamless: bool
    quilt: bool  # finished by doodle.core.quilting
    phases: int
    iterations: int  # evaluations per phase
    match_every: int
    cache: bool  # match once per phase
    stall_tolerance: float  # 0: never stop early
    stall_window: int
    seed: str  # "auto", "noise" or "content": the first phase's start without a seed image
    seed_range: tuple[float, float]
    slices: Optional[int] = None  # the user's slice count without a plan; None: 8 style rows a slice
    remat: bool = False  # without a plan: rematerialise in every phase
    release: bool = False  # without a plan: give freed host memory back at each matching
    plan: Optional["Plan"] = None  # each phase's device, slices, remat and tiles (doodle.plan.planner)

    def with_plan(self, plan: Optional["Plan"]) -> "Recipe":
        return dataclasses.replace(self, plan=plan)


@dataclasses.dataclass(frozen=True)
class LayerPlan:
    """One style layer of one phase."""

    layer: str
    out_patches: int  # output patches matched, (h-2)·(w-2)
    style_patches: int  # style patches in the bank, (hs-2)·(ws-2)
    slice_rows: int  # style patch rows matched per slice
    slices: int  # slices the bank is walked in
    slice_bytes: int  # the matching transient of one slice
    propagated: bool = False  # refined from a coarser layer's matches: no search, no slices
    # How the matching walks it within the slice's memory (doodle.core.patches.blocks): the
    # style in `walked` slices for each of `chunks` chunks of output rows.
    walked: int = 0
    chunks: int = 1


@dataclasses.dataclass(frozen=True)
class PhasePlan:
    """Where and how one phase runs."""

    phase: int  # 1-based
    size: tuple[int, int]  # (h, w) of the output at this phase
    style_size: tuple[int, int]  # (hs, ws) of the style at this phase
    device: str  # "cpu" or "gpu"
    layers: tuple[LayerPlan, ...]
    bank_dtype: str  # dtype of the stored patch banks
    peak_bytes: int  # predicted peak of the phase on its device
    skipped: bool = False  # too small for a 3×3 patch at the deepest layer
    remat: bool = False  # the network's activations recomputed in the backward pass
    release: bool = False  # freed host memory given back at each matching (doodle.core.hostmem)
    tiles: int = 1  # how many overlapping tiles the phase is painted in (1: whole)
    tile: Optional[tuple[int, int]] = None  # (h, w) of the largest tile; `layers` and the
    # slices are planned for one tile, `peak_bytes` for one tile and the whole canvas
    overlap: int = 0  # rows/columns neighbouring tiles share


@dataclasses.dataclass(frozen=True)
class Plan:
    """The whole run: one entry per phase, and the budgets it was planned for."""

    phases: tuple[PhasePlan, ...]
    budgets: Mapping[str, int]

    @property
    def peak_bytes(self) -> int:
        return max((p.peak_bytes for p in self.phases if not p.skipped), default=0)

    @property
    def memory_short(self) -> bool:
        """Some phase needed a memory saver: trimming, remat or tiles."""
        return any(p.release or p.remat or p.tiles > 1 for p in self.phases if not p.skipped)

    def slice_rows(self, phase: int) -> dict[str, int]:
        """{layer: slice rows} of a 1-based phase."""
        return {lp.layer: lp.slice_rows for lp in self.phases[phase - 1].layers}

    def as_dict(self) -> dict:
        """A JSON-ready dict (``doodle plan --json``)."""
        return {"budgets": dict(self.budgets), "peak_bytes": self.peak_bytes,
                "phases": [dataclasses.asdict(p) for p in self.phases]}


