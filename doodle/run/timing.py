"""Predicted seconds per evaluation, from a small calibration kept in the cache folder.

An evaluation's cost has three parts that scale differently (bench/RESULTS.md):

- the network's forward and backward pass, the loss terms and the L-BFGS step: in
  proportion to the output's pixels P (``network`` seconds per pixel; with remat one
  more forward pass, ``network_remat``);
- at a matching, the searched layers' Gram blocks: output patches times style
  patches, in proportion to P·S (S the style's pixels; ``search``), and the
  propagated layers' windows, in proportion to P (``window``).

A matching happens once every ``match_every`` evaluations, so the mean evaluation
costs ``network·P + (window·P + search·P·S) / match_every``. The calibration times a
tiny evaluation of the real program (built-in network, default layers, a synthetic
style and doodle) at one output size against two style sizes, with and without a
matching, and solves for the four rates. It is kept per machine, device and version
(:func:`machine_key`) under ``<cache>/timing/``; painting never needs it.

A calibration timed while other work shared the cores reads too slow (bench/RESULTS.md:
one timed under a load of 12-15 on 2 cores predicted 4× the quiet machine's seconds).
So it keeps how busy the machine was (the 1-minute load per core), and one timed busy is
timed again when the machine is quieter, keeping the faster of the two for each rate.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import time
from pathlib import Path
from typing import Callable, Mapping, Optional

# (h, w) of the calibration's output, and of its two styles: large enough that an
# evaluation is not all dispatch overhead, small enough to compile and run in seconds.
OUTPUT = (96, 128)
STYLES = ((96, 128), (192, 256))
REPEATS = 3  # timed evaluations per case; the fastest is kept


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Seconds per pixel (``network``, ``network_remat``, ``window``) and per pixel
    pair (``search``) of one machine and device; ``key`` says which."""

    network: float
    network_remat: float
    window: float
    search: float
    key: Mapping[str, str]
    busy: float = 0.0  # the 1-minute load average per core while it was timed


# Load per core above which a calibration is taken as disturbed and timed again later.
BUSY = 1.0


def busyness() -> float:
    """This machine's 1-minute load average per core (0 where the OS does not say)."""
    try:
        return os.getloadavg()[0] / max(1, os.cpu_count() or 1)
    except (AttributeError, OSError):
        return 0.0


def seconds_per_evaluation(cal: Calibration, hw: tuple[int, int], style_hw: tuple[int, int], match_every: int,
                           remat: bool = False) -> float:
    """The mean seconds of one evaluation of a phase at output ``hw`` and style ``style_hw`` (h, w)."""
    p, s = hw[0] * hw[1], style_hw[0] * style_hw[1]
    network = cal.network_remat if remat else cal.network
    return network * p + (cal.window * p + cal.search * p * s) / max(1, match_every)


def fit(times: Mapping[str, float], key: Mapping[str, str], busy: float = 0.0) -> Calibration:
    """The rates from the calibration's times (seconds) of one evaluation:
    ``plain`` / ``matched`` with the small style (A) and the large one (B), and
    ``remat`` (A, no matching, rematerialised). Negative rates (noise) become 0."""
    p = OUTPUT[0] * OUTPUT[1]
    sa, sb = (h * w for h, w in STYLES)
    network = (times["plain A"] + times["plain B"]) / 2 / p
    match_a = times["matched A"] - times["plain A"]
    match_b = times["matched B"] - times["plain B"]
    search = max(0.0, (match_b - match_a) / (p * (sb - sa)))
    window = max(0.0, (match_a - search * p * sa) / p)
    return Calibration(network, max(network, times["remat A"] / p), window, search, dict(key), busy)


def faster(a: Calibration, b: Calibration) -> Calibration:
    """Each rate the lower of two calibrations of one key (the less disturbed timing);
    ``busy`` that of the quieter one."""
    return Calibration(min(a.network, b.network), min(a.network_remat, b.network_remat), min(a.window, b.window),
                       min(a.search, b.search), a.key, min(a.busy, b.busy))


def machine_key(device: str) -> dict[str, str]:
    """What a calibration holds for: this CPU model, core count, the JAX device, and
    the versions of doodle, JAX and jaxlib."""
    import jax
    import jaxlib

    from doodle import __version__

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    dev = jax.devices("cpu")[0] if device == "cpu" else jax.devices()[0]
    return {"cpu": cpu, "cores": str(os.cpu_count()), "device": f"{dev.platform} {dev.device_kind}",
            "doodle": __version__, "jax": jax.__version__, "jaxlib": jaxlib.__version__}


def calibration_path(folder: Path, key: Mapping[str, str]) -> Path:
    """The file under ``folder`` that holds the calibration of ``key``."""
    digest = hashlib.sha256(json.dumps(dict(key), sort_keys=True).encode()).hexdigest()[:16]
    return Path(folder) / f"calibration-{digest}.json"


def load_or_calibrate(folder: Path, key: Mapping[str, str], measure: Callable[[], Mapping[str, float]],
                      busy: Optional[Callable[[], float]] = None) -> Calibration:
    """The calibration of ``key`` kept in ``folder``, or one made now with ``measure``
    (``() -> times`` as :func:`fit` takes them) and kept there. One kept from a busy
    machine (``busy()`` above :data:`BUSY` then) is measured again once ``busy()`` is
    below it, and the faster rates kept. A folder that cannot keep it only means
    measuring again next time."""
    busy = busy or busyness  # looked up at the call: tests pin it
    path = calibration_path(folder, key)
    old = _kept(folder, key)
    if not _needs_timing(old, busy):
        return old
    cal = fit(measure(), key, busy())
    cal = faster(old, cal) if old is not None else cal
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(cal), indent=1))
        os.replace(tmp, path)
    except OSError:
        pass
    return cal


def _needs_timing(kept: Optional[Calibration], busy: Optional[Callable[[], float]] = None) -> bool:
    """Whether :func:`load_or_calibrate` would time an evaluation now."""
    return kept is None or (kept.busy > BUSY and (busy or busyness)() <= BUSY)


def _kept(folder: Path, key: Mapping[str, str]) -> Optional[Calibration]:
    """The calibration of ``key`` in ``folder``, or None."""
    try:
        data = json.loads(calibration_path(folder, key).read_text())
        return Calibration(**data) if data.get("key") == dict(key) else None
    except (OSError, ValueError, TypeError):
        return None


def measure(device: str = "cpu") -> dict[str, float]:
    """Time the real evaluation program at the calibration's sizes (seconds, the fastest of each case).

    Synthetic inputs: a two-region style and the doodle swapped; the built-in network
    (any VGG19 weights cost the same); the default options. Each case is compiled and
    run once before it is timed.
    """
    import jax
    import numpy as np

    from doodle.core import evaluation, extractor, phase
    from doodle.core.problem import Problem
    from doodle.run import resolve
    from doodle.plan.options import Options

    dev = jax.devices("cpu")[0] if device == "cpu" else jax.devices()[0]
    ex = extractor.builtin(last="4_1")
    times: dict[str, float] = {}
    with jax.default_device(dev):
        for name, style_hw in zip("AB", STYLES):
            rng = np.random.default_rng(0)
            style = rng.uniform(0, 255, style_hw + (3,)).astype(np.uint8)
            sem = np.zeros(style_hw + (3,), np.uint8)
            sem[: style_hw[0] // 2] = (255, 0, 0)
            sem[style_hw[0] // 2:] = (0, 0, 255)
            doodle = np.zeros(OUTPUT + (3,), np.uint8)
            doodle[: OUTPUT[0] // 2] = (0, 0, 255)
            doodle[OUTPUT[0] // 2:] = (255, 0, 0)
            problem = Problem(style, sem, None, doodle, OUTPUT)
            x = jax.device_put(rng.uniform(16, 240, OUTPUT + (3,)).astype(np.float32))
            for remat in ((False, True) if name == "A" else (False,)):
                options = Options.of(remat="on" if remat else "off", random_seed=0)
                settings = resolve.recipe(options, problem, resolve.kind_of(ex))
                ph = phase.prepare_phase(problem, ex, settings, 1.0, OUTPUT, key=jax.random.PRNGKey(0))
                config = evaluation.eval_config(ex, settings, ph)
                consts = evaluation.constants(ex, ph)
                state, matching = evaluation.fresh(config, x, ph)
                cases = ((f"remat {name}", False),) if remat else ((f"plain {name}", False), (f"matched {name}", True))
                for label, match in cases:
                    run = lambda: jax.block_until_ready(  # noqa: E731
                        evaluation.iterate(config, consts, OUTPUT, state, matching, match, False, False))
                    run()
                    spans = []
                    for _ in range(REPEATS):
                        start = time.perf_counter()
                        run()
                        spans.append(time.perf_counter() - start)
                    times[label] = min(spans)  # the least disturbed by other work on the machine
    return times


def calibration(folder: Path, device: str = "cpu",
                measure_with: Optional[Callable[[], Mapping[str, float]]] = None) -> Calibration:
    """This machine's calibration for ``device``, from ``folder`` or measured now."""
    return load_or_calibrate(folder, machine_key(device), measure_with or (lambda: measure(device)))
