"""One painting rendered: a prepared problem painted, and stamped with its record.

``doodle paint``, every painting of ``doodle batch``, the drawing page's paintings and
each frame of a sequence end here: the random seed is drawn once, the device named
once, the options made effective (seed and size filled in), the painting made by
:func:`doodle.run.api.paint_problem`, and its provenance fields built from what the
run recorded (:mod:`doodle.run.stamp`).
"""
from __future__ import annotations

import dataclasses
import secrets
from typing import Any, Callable, Optional, Sequence

import numpy as np

from doodle.plan.options import Options
from doodle.run import stamp
from doodle.run.reporting import PhaseRecords

Notice = Callable[[str], None]


def fresh_seed() -> int:
    """A fresh random seed: 31 bits, which every JAX PRNG and every record read back the same."""
    return secrets.randbits(31)


def draw_seed(options: Options) -> int:
    """The run's random seed: the user's, or a fresh one."""
    seed = options.painting.random_seed
    return seed if seed is not None else fresh_seed()


def device_name(options: Options) -> str:
    """The device a painting runs on, as the log and the record name it: "cpu (cpu)".
    InputError for ``--device gpu`` on a machine without one."""
    from doodle.plan import planner

    device = planner.select_device(options.resources.device)
    return f"{device.platform} ({device.device_kind})"


@dataclasses.dataclass(frozen=True)
class Rendered:
    """A finished painting: the (H, W, 3) uint8 image, the text fields of its
    provenance record (None when ``files`` were not given: ``--no-metadata``), and the
    effective options it was painted with."""

    image: np.ndarray
    text: Optional[dict[str, str]]
    options: Options
    device: str


def render(problem: Any, options: Options, extractor: Any, *, random_seed: Optional[int] = None,
           files: Optional[Sequence[dict]] = None, callback: Optional[Callable[[Any], None]] = None,
           notice: Notice = lambda s: None, memo: Optional[Callable] = None,
           started: Callable[[Options, str], None] = lambda options, device: None) -> Rendered:
    """Paint ``problem`` (a :class:`~doodle.core.problem.Problem`, its maps conformed)
    with ``extractor`` and stamp it.

    ``random_seed``: a seed drawn already (a batch draws its tasks' seeds up front, to
    resume them); None: :func:`draw_seed`. ``files``: the input files' records
    (:func:`doodle.run.stamp.input_records`, taken before painting). ``started`` hears
    the effective options and the device before the painting starts (the log's
    summary needs them even when the painting is stopped); ``callback`` every
    :class:`~doodle.core.synthesis.Progress` (it may raise to stop the painting);
    ``memo``: a batch's shared style passes.
    """
    from doodle.run import api

    device = device_name(options)
    options = stamp.effective(options, problem, draw_seed(options) if random_seed is None else random_seed)
    started(options, device)
    phases = PhaseRecords()  # for the stamp

    def heard(p: Any) -> None:
        phases(p)
        if callback is not None:
            callback(p)

    image = api.paint_problem(problem, options, extractor=extractor, callback=heard, notice=notice, memo=memo)
    text = None if files is None else stamp.fields(device, options, files, extractor, phases.phases)
    return Rendered(image, text, options, device)
