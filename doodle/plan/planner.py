"""Memory and device: predict each phase's peak memory, choose its device and slices.

The planner is pure arithmetic: image sizes, layers, phases and options in, a
:class:`Plan` out. It never touches a device; the caller reads the budgets (host RAM,
each GPU's free memory) and passes them in. The reference made users hand-tune
``--slices`` and crashed when memory ran out (neural-doodle#57, #70); doodle sizes
the matching slices to the budget before it starts.

The model counts float32 buffers that are alive together during one evaluation:
the network's parameters; the activations kept for the backward pass; the style
banks (raw features and normalised, padded copies); the content features; the
folded targets; the optimiser's history; and the largest matching slice (the Gram
block and its shifted sum). ``bench/memory.py`` compares it with measured peaks.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Optional, Sequence

from doodle.core import patches, propagation, vgg
from doodle.core.distribution import RGB_BASES
from doodle.core.problem import refined_in_every_mode, scaled
from doodle.core.recipe import LayerPlan, PhasePlan, Plan

F32 = 4
# Bytes the process holds before any painting (Python, JAX and XLA's runtime on the
# CPU, and nothing on a GPU), and the factor on the forward activations XLA keeps for
# the backward pass: both fitted on peak RSS of one-phase runs with the default
# options at 256×192 and 1024×768 and checked on 512×384 to 2048×1536
# (bench/memory.py, bench/RESULTS.md). The matching slice's factor (XLA reuses part
# of its buffers) was fitted on 3_1,4_1 runs; by default a slice is capped at 512 MiB.
CPU_BASELINE = 650 * 2**20
ACTIVATION_FACTOR = 1.05
SLICE_FACTOR = 0.75
# The share of the activations that rematerialisation (a checkpoint per VGG block)
# removes from the measured CPU peak, of what it removes from the model's count: the
# peak RSS fell by a fifth of the predicted saving at 1024×768 (bench/RESULTS.md).
REMAT_SAVING = 0.2
# Channels of the semantic map appended to features: r, g, b and the constant.
MAP_CHANNELS = 4
# How far a whole CPU run's peak RSS rises above one phase's first evaluations (what
# the factors above were fitted on) when freed memory is not given back: glibc keeps
# the buffers XLA frees, and the heaps grow over the evaluations and phases. Fitted on
# 3-phase runs at 512×384, 1024×768 and 3840×2160, checked on 2048×1536 (bench/RESULTS.md).
# With doodle.core.hostmem trimming at each matching the heaps still grow between two
# matchings, less: fitted on 1024×768 and 2048×1536 (at 512×384 it over-predicts by 4-7 %).
CPU_RETENTION = 1.3
CPU_RETENTION_TRIMMED = 1.2
# What each earlier phase's compiled programs hold on a CPU: the fits above were made
# on runs that kept them all. A run short of memory drops them between phases
# (doodle.core.synthesis), and its later phases peak lower by about this much per earlier
# phase: measured 137 MiB a phase at 1024×768 (trimmed, tiled), 60-190 MiB per set of
# programs at smaller sizes (bench/RESULTS.md, 2026-12-01).
CPU_PROGRAMS = 128 * 2**20


class DoesNotFit(ValueError):
    """No device's budget holds the work; ``largest`` is the largest (w, h) that would fit."""

    def __init__(self, message: str, largest: Optional[tuple[int, int]]) -> None:
        super().__init__(message)
        self.largest = largest


def _activation_bytes(h: int, w: int, last: str, remat: bool = False, kept: Sequence[str] = (),
                      arch: str = "vgg19") -> int:
    """Forward activations of ``arch`` up to ``last`` kept for the backward pass (conv out + ReLU out).

    With ``remat`` (:func:`doodle.core.vgg.features`' checkpoints at block boundaries) the
    backward pass holds each block's input and the ``kept`` layers (those the losses
    read) throughout, and one block's activations at a time while it recomputes them:
    the largest block's.
    """
    per_block: dict[int, int] = {}
    inputs = h * w * 3 * F32
    for name, block, cin, cout in vgg.layers_of(arch):
        fh, fw = vgg.feature_size(h, w, name)
        if block not in per_block and block > 1:
            inputs += fh * fw * cin * F32  # the pooled input of this block
        per_block[block] = per_block.get(block, 0) + 2 * fh * fw * cout * F32
        if name == last:
            break
    if not remat:
        return h * w * 3 * F32 + sum(per_block.values())
    kept_bytes = sum(math.prod(vgg.feature_size(h, w, l)) * vgg.CHANNELS[l] * F32 for l in set(kept))
    return inputs + kept_bytes + max(per_block.values())


def _param_bytes(last: str, arch: str = "vgg19") -> int:
    """The weights of ``arch``'s convolutions up to ``last``."""
    total = 0
    for name, _, cin, cout in vgg.layers_of(arch):
        total += (9 * cin * cout + cout) * F32
        if name == last:
            break
    return total


def slice_bytes(out_hw: tuple[int, int], style_w: int, rows: int) -> int:
    """Matching transient of one slice: the Gram block (H·W × (R+2)·Ws) and its shifted sum."""
    h, w = out_hw
    return (h * w * (rows + 2) * style_w + (h - 2) * (w - 2) * rows * (style_w - 2)) * F32


def window_bytes(out_hw: tuple[int, int], channels: int, chunk: int = propagation.WINDOW_CHUNK) -> int:
    """Transient of :func:`doodle.core.propagation.propagate`: per chunk of ``chunk`` patches
    the 9 output and 25 bank pixels each patch's window reads, (chunk, 34, D), and
    for every patch its 9 candidates' scores, indices and masks, (P, 9) each (about
    five such arrays alive at once)."""
    h, w = out_hw
    return (34 * chunk * channels + 5 * 9 * (h - 2) * (w - 2)) * F32


def phase_fixed_bytes(
    hw: tuple[int, int], style_hw: tuple[int, int], style_layers: Sequence[str],
    content_layers: Sequence[str], semantic: bool, memory: int = 5, remat: bool = False, arch: str = "vgg19",
) -> int:
    """Everything of one phase but the matching slice, in bytes (device side only);
    ``arch`` the network that computes the features (VGG16 has fewer convs)."""
    layers = tuple(style_layers) + tuple(content_layers)
    last = vgg.deepest(layers)
    k = MAP_CHANNELS if semantic else 0
    activations = _activation_bytes(*hw, last, arch=arch)
    if remat:
        activations -= REMAT_SAVING * (activations - _activation_bytes(*hw, last, True, layers, arch))
    total = _param_bytes(last, arch) + ACTIVATION_FACTOR * activations
    for layer in style_layers:
        c = vgg.CHANNELS[layer]
        sh, sw = vgg.feature_size(*style_hw, layer)
        oh, ow = vgg.feature_size(*hw, layer)
        total += sh * sw * c * F32  # raw style features
        total += (sh + 2) * sw * (c + k) * F32  # normalised bank, padded by a slice at most
        total += 2 * oh * ow * (c + k) * F32  # normalised output and folded targets
        # The distribution term (on by default): the style's quantiles and the
        # assigned target, each one value per output pixel and channel.
        total += 2 * oh * ow * c * F32
    # The colour term: 5 bases of 3 directions of quantiles, and the (X, 3) target.
    total += (3 * RGB_BASES + 3) * hw[0] * hw[1] * F32
    for layer in content_layers:
        oh, ow = vgg.feature_size(*hw, layer)
        total += oh * ow * vgg.CHANNELS[layer] * F32
    # L-BFGS history, x and grads, and the last point and gradient optax keeps.
    total += (2 * memory + 6) * hw[0] * hw[1] * 3 * F32
    return int(total)


def plan_phase(
    phase: int, hw: tuple[int, int], style_hw: tuple[int, int], style_layers: Sequence[str],
    content_layers: Sequence[str], semantic: bool, budgets: Mapping[str, int],
    prefer: str = "auto", slices: Optional[int] = None, baseline: Mapping[str, int] = None,
    slice_budget: int = 512 * 2**20, propagated: Sequence[str] = (), remat: str = "auto",
    release: str = "auto", arch: str = "vgg19",
) -> PhasePlan:
    """Plan one phase: the first device in preference order whose budget it fits.

    ``propagated`` layers are matched by refining a coarser layer's matches
    (``PaintingOptions.propagate``): no slices, a window transient instead.
    ``budgets`` maps "gpu"/"cpu" to bytes available; ``prefer`` is "auto" (GPU
    first), "gpu" or "cpu". With ``slices`` the user's slice count is kept as is;
    otherwise a slice is as large as fits, but at most ``slice_budget`` bytes (larger
    blocks buy no speed and crowd out everything else). ``remat`` ("auto", "on",
    "off", ``ResourceOptions.remat``): "auto" rematerialises the network's
    activations on a device only when the phase does not fit there without it
    (it costs a forward pass per evaluation). ``release`` (the same choices,
    ``ResourceOptions.release_memory``) gives freed host memory back at each
    matching on a CPU; "auto" only when the phase does not fit otherwise (it costs a
    few per cent of time, remat far more, so it is tried first). ``arch``: the
    network (:data:`doodle.core.vgg.ARCHS`) whose activations and weights are counted.
    Raises DoesNotFit when no device holds even one-row slices.
    """
    baseline = baseline if baseline is not None else {"cpu": CPU_BASELINE, "gpu": 0}
    order = {"auto": ("gpu", "cpu"), "gpu": ("gpu",), "cpu": ("cpu",)}[prefer]
    remats, releases = _SWITCH[remat], _SWITCH[release]
    shortest = None
    for device in order:
        if device not in budgets:
            continue
        # Cheapest first: neither, trimming (a few per cent), remat (a forward pass).
        # (Trimming is for a CPU's heap: a GPU's allocator gives nothing back to trim.)
        for with_remat, with_release in dict.fromkeys(sorted((m, r and device == "cpu")
                                                             for m in remats for r in releases)):
            candidate = _candidate(phase, hw, style_hw, style_layers, content_layers, semantic, budgets[device],
                                   device, slices, baseline.get(device, 0), slice_budget, propagated, with_remat,
                                   with_release, arch)
            fits = all(lp.slice_rows >= 1 for lp in candidate.layers) and candidate.peak_bytes <= budgets[device]
            if fits:
                return candidate
            if shortest is None or candidate.peak_bytes < shortest.peak_bytes:
                shortest = candidate
    raise DoesNotFit(
        f"phase {phase} at {hw[1]}×{hw[0]} needs about {_mib(shortest.peak_bytes) if shortest else '?'}, more "
        f"than {', '.join(f'{d} {_mib(b)}' for d, b in budgets.items())}", None)


# The settings an "auto" / "on" / "off" option lets the planner try, in that order.
_SWITCH = {"auto": (False, True), "on": (True,), "off": (False,)}


def _candidate(phase, hw, style_hw, style_layers, content_layers, semantic, budget, device, slices, baseline,
               slice_budget, propagated, remat, release=False, arch="vgg19") -> PhasePlan:
    """One phase on one device with remat and trimming on or off: its slices and
    predicted peak (the baseline, plus what the phase holds, grown on a CPU by what
    its heaps keep of the freed buffers: :data:`CPU_RETENTION`, or
    :data:`CPU_RETENTION_TRIMMED` when trimmed)."""
    fixed = phase_fixed_bytes(hw, style_hw, style_layers, content_layers, semantic, remat=remat, arch=arch)
    growth = 1.0 if device != "cpu" else CPU_RETENTION_TRIMMED if release else CPU_RETENTION
    room = (budget - baseline) / growth - fixed
    layers = []
    worst = 0
    for layer in style_layers:
        oh, ow = vgg.feature_size(*hw, layer)
        sh, sw = vgg.feature_size(*style_hw, layer)
        rows_total = max(sh - 2, 1)

        def rows_within(cap: float) -> int:  # style rows per slice whose transient stays within cap
            per_row = slice_bytes((oh, ow), sw, 1) - slice_bytes((oh, ow), sw, 0)
            return min(int(max(0, cap - slice_bytes((oh, ow), sw, 0)) // max(per_row, 1)), rows_total)

        if layer in propagated:
            sb = window_bytes((oh, ow), vgg.CHANNELS[layer] + (MAP_CHANNELS if semantic else 0))
            worst = max(worst, sb)
            if device == "cpu" and not refined_in_every_mode(layer):
                # On a CPU the slice term is a fitted stand-in (below), not the
                # slice itself: the CPU terms above were fitted with relu3_1 searched,
                # and the peak RSS did not fall when it went to refined with maps (the
                # commit aca6120; bench/RESULTS.md, 2026-12-01, the wall-time heading). So a layer
                # refined in one mode only keeps the term it was fitted with; those
                # refined in every mode (as when fitted) count their window only.
                worst = max(worst, slice_bytes((oh, ow), sw, max(rows_within(slice_budget), 1)))
            layers.append(LayerPlan(layer, (oh - 2) * (ow - 2), (sh - 2) * (sw - 2), rows_total, 1, sb, True))
            continue

        rows = -(-rows_total // slices) if slices else rows_within(min(room / SLICE_FACTOR, slice_budget))
        depth = vgg.CHANNELS[layer] + (MAP_CHANNELS if semantic else 0)
        walk_rows, out_rows = patches.blocks((oh, ow), rows_total, max(sw - 2, 1), max(rows, 1), depth,
                                             patches.block_limit(device))
        # The whole planned slice is counted, though on a CPU the matching walks smaller
        # blocks: counting only the block predicted less than the peak RSS fell by
        # (bench/RESULTS.md, 2026-11-30, "matching blocks, time against pixels"), and SLICE_FACTOR was fitted this way. So on
        # a CPU the term stands for memory that smaller slices do not free: it is counted
        # at the largest slice whatever the budget (shrinking the slices to fit a tight
        # budget under-predicted by 30-36 %), and a tight budget takes trimming, remat or
        # tiles instead, which do free memory.
        sb = slice_bytes((oh, ow), sw, max(rows, 1))
        counted = max(rows_within(slice_budget), rows, 1) if device == "cpu" else max(rows, 1)
        worst = max(worst, slice_bytes((oh, ow), sw, counted))
        layers.append(LayerPlan(layer, (oh - 2) * (ow - 2), (sh - 2) * (sw - 2), max(rows, 1),
                                -(-rows_total // max(rows, 1)), sb, walked=-(-rows_total // walk_rows),
                                chunks=-(-max(oh - 2, 1) // out_rows)))
    peak = int(baseline + growth * (fixed + SLICE_FACTOR * worst))
    return PhasePlan(phase, hw, style_hw, device, tuple(layers), "float32", peak, remat=remat, release=release)


def tile_overlap(style_layers: Sequence[str], content_layers: Sequence[str]) -> int:
    """Pixels neighbouring tiles share: 8 feature pixels of the deepest layer, which
    holds a 3×3 patch there with room on both sides for the zero padding's reach, so
    the pixels a tile keeps were painted with their neighbours in view."""
    return 8 * vgg.downscale(vgg.deepest(tuple(style_layers) + tuple(content_layers)))


# The whole canvas a tiled phase keeps beside the tile it paints: the canvas, the image
# it was resized from, the blend's copy and the content and map at full size.
CANVAS_COPIES = 5


def plan_tiled(
    phase: int, hw: tuple[int, int], style_hw: tuple[int, int], style_layers: Sequence[str],
    content_layers: Sequence[str], semantic: bool, budgets: Mapping[str, int],
    prefer: str = "auto", slices: Optional[int] = None, slice_budget: int = 512 * 2**20,
    propagated: Sequence[str] = (), remat: str = "auto", most: int = 8, release: str = "auto",
    arch: str = "vgg19",
) -> PhasePlan:
    """Plan a phase painted in overlapping tiles (:mod:`doodle.core.tiles`): the fewest tiles,
    up to ``most`` along each side, whose one tile fits beside the whole canvas.

    Every tile matches against the whole style bank, so only the output's share of the
    memory (activations, gradients, matches, L-BFGS history) shrinks with the tile.
    Raises DoesNotFit when even the smallest tiles do not fit.
    """
    overlap = tile_overlap(style_layers, content_layers)
    canvas = CANVAS_COPIES * hw[0] * hw[1] * 3 * F32
    room = {d: b - canvas for d, b in budgets.items() if b > canvas}  # what a tile may use
    grids = sorted(((ny, nx) for ny in range(1, most + 1) for nx in range(1, most + 1) if ny * nx > 1),
                   key=lambda g: (g[0] * g[1], abs(math.log((hw[0] / g[0]) / (hw[1] / g[1])))))
    for ny, nx in grids:
        th = -(-(hw[0] + (ny - 1) * overlap) // ny) if ny > 1 else hw[0]
        tw = -(-(hw[1] + (nx - 1) * overlap) // nx) if nx > 1 else hw[1]
        if (ny > 1 and th < 3 * overlap) or (nx > 1 and tw < 3 * overlap):
            continue  # tiles hardly larger than their overlaps: more seams than painting
        try:
            one = plan_phase(phase, (th, tw), style_hw, style_layers, content_layers, semantic, room, prefer,
                             slices, slice_budget=slice_budget, propagated=propagated, remat=remat, release=release,
                             arch=arch)
        except DoesNotFit:
            continue
        return dataclasses.replace(one, size=hw, peak_bytes=one.peak_bytes + canvas, tiles=ny * nx,
                                   tile=(th, tw), overlap=overlap)
    raise DoesNotFit(f"phase {phase} at {hw[1]}×{hw[0]} does not fit even in {most}×{most} tiles", None)


def plan(
    size: tuple[int, int], style_size: tuple[int, int], style_layers: Sequence[str],
    content_layers: Sequence[str], semantic: bool, phases: int, budgets: Mapping[str, int],
    prefer: str = "auto", slices: Optional[int] = None, slice_budget: int = 512 * 2**20,
    propagated: Sequence[str] = (), remat: str = "auto", tiling: bool = True, release: str = "auto",
    arch: str = "vgg19",
) -> Plan:
    """Plan every phase of a run (sizes (h, w); phase i at scale 1/2**(phases-1-i)).

    A phase that does not fit whole is painted in tiles (``tiling``; off for a
    seamless tile, whose borders must wrap round): the final phase, and for a very
    large output the coarser ones too.
    ``arch``: the network whose convolutions are counted (:func:`plan_phase`).
    Raises DoesNotFit naming the largest output size that would fit.
    """
    need = vgg.min_side(tuple(style_layers) + tuple(content_layers))
    out = []
    try:
        for i in range(phases):
            scale = 1.0 / 2 ** (phases - 1 - i)
            hw, shw = scaled(size, scale), scaled(style_size, scale)
            if min(hw + shw) < need:
                out.append(PhasePlan(i + 1, hw, shw, "none", (), "float32", 0, skipped=True))
                continue
            try:
                out.append(plan_phase(i + 1, hw, shw, style_layers, content_layers, semantic, budgets, prefer,
                                      slices, slice_budget=slice_budget, propagated=propagated, remat=remat,
                                      release=release, arch=arch))
            except DoesNotFit:
                if not tiling:
                    raise
                out.append(plan_tiled(i + 1, hw, shw, style_layers, content_layers, semantic, budgets, prefer,
                                      slices, slice_budget=slice_budget, propagated=propagated, remat=remat,
                                      release=release, arch=arch))
    except DoesNotFit as e:
        largest = largest_fitting(size, style_size, style_layers, content_layers, semantic, budgets, prefer,
                                  propagated, remat, release, arch)
        hint = f"; the largest output that fits is {largest[0]}×{largest[1]}" if largest else ""
        raise DoesNotFit(f"{e}{hint}", largest) from None
    return _without_dropped_programs(Plan(tuple(out), dict(budgets)))


def _without_dropped_programs(run: Plan) -> Plan:
    """A plan short of memory drops each phase's programs before the next
    (:func:`doodle.core.synthesis.synthesize`): a later CPU phase's peak is lowered by the
    :data:`CPU_PROGRAMS` of each painted phase before it, which the fitted factors
    count as held. Each phase was planned (and fits) with them counted."""
    if not run.memory_short:
        return run
    phases, earlier = [], 0
    for p in run.phases:
        if not p.skipped and p.device == "cpu":
            p = dataclasses.replace(p, peak_bytes=p.peak_bytes - earlier * CPU_PROGRAMS)
        earlier += not p.skipped
        phases.append(p)
    return dataclasses.replace(run, phases=tuple(phases))


def largest_fitting(size, style_size, style_layers, content_layers, semantic, budgets, prefer="auto",
                    propagated=(), remat="auto", release="auto", arch="vgg19"):
    """The largest (w, h) with the aspect of ``size`` whose final phase fits, or None.

    The style is scaled with the output, as the final phase would see both.
    """
    need = vgg.min_side(tuple(style_layers) + tuple(content_layers))

    def fits(s: float) -> bool:
        if min(scaled(size, s) + scaled(style_size, s)) < need:  # too small to plan at all
            return False
        try:
            plan_phase(1, scaled(size, s), scaled(style_size, s), style_layers, content_layers, semantic,
                       budgets, prefer, propagated=propagated, remat=remat, release=release, arch=arch)
            return True
        except DoesNotFit:
            return False

    lo, hi = 1e-3 + need / min(size + style_size), 1.0
    if not fits(lo):
        return None
    for _ in range(20):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    h, w = scaled(size, lo)
    return w, h



def _mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB" if n < 10 * 2**30 else f"{n / 2**30:,.1f} GiB"


def parse_size(text: str) -> int:
    """"8G", "512M", "2.5GiB", "1000000" -> bytes."""
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    factor = units.get(t[-1:], 1)
    number = t[:-1] if t[-1:] in units else t
    value = float(number)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(text)
    return int(value * factor)


def is_out_of_memory(error: BaseException) -> bool:
    """Whether an exception is XLA running out of memory (never reported as divergence)."""
    text = f"{type(error).__name__}: {error}"
    return "RESOURCE_EXHAUSTED" in text or "Out of memory" in text or "out of memory" in text


# --- the runtime side: reading budgets and choosing devices (not pure) ------------


def gpu_devices() -> list:
    """The accelerators JAX can see (empty on a CPU-only machine)."""
    import jax

    try:
        return [d for d in jax.devices() if d.platform in ("gpu", "cuda", "rocm")]
    except RuntimeError:
        return []


def host_available() -> int:
    """Bytes of host RAM available now (MemAvailable), or 8 GiB if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 2**30


def budgets(device: str = "auto", max_memory: Optional[int] = None) -> dict[str, int]:
    """{"cpu": bytes, "gpu": bytes} available to a run, capped by ``max_memory``."""
    out: dict[str, int] = {}
    if device in ("auto", "cpu"):
        out["cpu"] = host_available()
    if device in ("auto", "gpu"):
        for d in gpu_devices()[:1]:
            stats = d.memory_stats() or {}
            limit = stats.get("bytes_limit", 0) - stats.get("bytes_in_use", 0)
            if limit > 0:
                out["gpu"] = int(limit * 0.9)  # leave room for XLA's own scratch space
    if max_memory is not None:
        out = {k: min(v, max_memory) for k, v in out.items()}
    return out


def select_device(name: str):
    """``"cpu"``, ``"gpu"`` or ``"auto"`` (a GPU when there is one) -> a jax.Device."""
    import jax

    from doodle.errors import InputError

    if name == "cpu":
        return jax.devices("cpu")[0]
    gpus = gpu_devices()
    if name == "gpu":
        if not gpus:
            raise InputError("`device gpu`: no GPU is visible to JAX.", "Install jax[cuda12] or use `device cpu`.")
        return gpus[0]
    if name != "auto":
        raise InputError(f"unknown device {name!r}.", "Use cpu, gpu or auto.")
    return gpus[0] if gpus else jax.devices("cpu")[0]
