"""``doodle plan``: the memory plan of a painting, painting nothing."""
from __future__ import annotations

import json

import click

from doodle.cli import outputs, runtime
from doodle.cli.errors import reports_errors
from doodle.cli.options import defaulted, paint_options, prepare


@click.command("plan", short_help="Show the plan of a painting: per phase its size, memory and seconds.")
@paint_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@reports_errors
def plan_command(**kw) -> None:
    """Show the plan of a painting: per phase its size, patches, slices, device, remat, trim
    bank dtype, tiles, predicted peak memory and seconds per evaluation.

    Takes the same arguments as `doodle paint` and paints nothing. The seconds come
    from a small timed evaluation run once per machine and kept in the cache folder.
    """
    from doodle.io import cache
    from doodle.run import api, timing

    defaults = defaulted(kw)
    outputs.refuse_overwriting_inputs(kw)  # as `paint` does: the same arguments mean the same
    runtime.start_jax(kw["device"])  # the planner asks JAX for its devices
    prepared = prepare(kw, defaults, kw["output"])
    settings = api.make_recipe(prepared.problem, prepared.options)
    run_plan = settings.plan
    folder = cache.cache_dir() / "timing"
    calibrations = {}
    for device in sorted({p.device for p in run_plan.phases if not p.skipped}):
        def measure(device=device):  # said only when the calibration does time one
            click.echo(f"timing a small evaluation on the {device} (once per machine, kept in {folder})", err=True)
            return timing.measure(device)

        calibrations[device] = timing.calibration(folder, device, measure_with=measure)
        if calibrations[device].busy > timing.BUSY:
            click.echo(f"the {device}'s timing was taken while other work loaded the machine "
                       f"({calibrations[device].busy:.1f} per core): the seconds may be high; it is timed again "
                       f"when the machine is quieter", err=True)
    seconds = [None if p.skipped else _seconds(calibrations[p.device], p, settings) for p in run_plan.phases]
    if kw["as_json"]:
        data = run_plan.as_dict()
        for phase, s in zip(data["phases"], seconds):
            phase["seconds_per_evaluation"] = s
        data["seconds_at_most"] = _total(seconds, settings)
        data["quilted"] = settings.quilt
        click.echo(json.dumps(data, indent=1))
    else:
        _print_table(run_plan, seconds, settings)
        if settings.quilt:
            click.echo("then quilted from the style's pixels (--finish): seconds, more for a larger output")


def _seconds(calibration, phase, settings) -> float:
    """Predicted seconds of one evaluation of a phase; a tiled phase evaluates every
    tile once per iteration, so its tiles' times (overlaps included) add up."""
    from doodle.core import tiles
    from doodle.run import timing

    parts = tiles.layout(phase.size, phase.tile, phase.overlap) if phase.tiles > 1 else None
    sizes = [t.hw for t in parts] if parts else [phase.size]
    return sum(timing.seconds_per_evaluation(calibration, hw, phase.style_size, settings.match_every,
                                             phase.remat) for hw in sizes)


def _total(seconds, settings) -> float:
    """Seconds of every phase's evaluations if none stops early (the stall rule may end one sooner)."""
    return sum(s * settings.iterations for s in seconds if s is not None)


def _duration(s: float) -> str:
    return f"{s:.1f} s" if s < 60 else f"{s / 60:.0f} min" if s < 3600 else f"{s / 3600:.1f} h"


def _print_table(run_plan, seconds, settings) -> None:
    """The plan as a table: a line per phase and style layer."""
    from doodle.plan import planner

    budgets = ", ".join(f"{d} {b / 2**20:,.0f} MiB" for d, b in run_plan.budgets.items())
    click.echo(f"budget: {budgets}")
    click.echo(f"{'phase':>5} {'size':>9} {'style':>9} {'device':>6} {'remat':>5} {'trim':>4} {'bank':>7} {'tiles':>5} "
               f"{'layer':>5} {'patches out×style':>20} {'slices':>6} {'peak':>10} {'s/eval':>7}")
    for p, sec in zip(run_plan.phases, seconds):
        size, style = f"{p.size[1]}×{p.size[0]}", f"{p.style_size[1]}×{p.style_size[0]}"
        if p.skipped:
            click.echo(f"{p.phase:>5} {size:>9} {style:>9}  skipped: too small for a 3×3 patch")
            continue
        for j, lp in enumerate(p.layers):
            head = (f"{p.phase:>5} {size:>9} {style:>9} {p.device:>6} {'on' if p.remat else 'off':>5} "
                    f"{'on' if p.release else 'off':>4} {p.bank_dtype:>7} {p.tiles:>5}" if j == 0 else " " * 57)
            peak = f"{p.peak_bytes / 2**20:8,.0f}Mi" if j == 0 else ""
            per = f"{sec:7.2f}" if j == 0 else ""
            slices = "window" if lp.propagated else lp.walked if lp.chunks == 1 else f"{lp.walked}×{lp.chunks}"
            click.echo(f"{head} {lp.layer:>5} {f'{lp.out_patches:,}×{lp.style_patches:,}':>20} {slices:>6} "
                       f"{peak:>10} {per:>7}")
    click.echo(f"predicted peak: {planner._mib(run_plan.peak_bytes)}")
    click.echo(f"predicted time: at most {_duration(_total(seconds, settings))} of evaluations "
               f"({settings.iterations} per phase; a phase that stalls ends sooner)")
