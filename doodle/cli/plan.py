"""``doodle plan``: the memory plan of a painting, painting nothing."""
from __future__ import annotations

import json

import click

from doodle.cli import outputs, runtime
from doodle.cli.errors import reports_errors
from doodle.cli.options import defaulted, paint_options, prepare


@click.command("plan")
@paint_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@reports_errors
def plan_command(**kw) -> None:
    """Show the memory plan of a painting: per phase its size, patches, slices, device, peak.

    Takes the same arguments as `doodle paint` and paints nothing.
    """
    from doodle import api

    defaults = defaulted(kw)
    outputs.refuse_overwriting_inputs(kw)  # as `paint` does: the same arguments mean the same
    runtime.start_jax(kw["device"])  # the planner asks JAX for its devices
    prepared = prepare(kw, defaults, kw["output"])
    options = api.extractor_defaults(prepared.options, prepared.problem)
    run_plan = api.make_plan(prepared.problem, None, options)
    if kw["as_json"]:
        click.echo(json.dumps(run_plan.as_dict(), indent=1))
    else:
        _print_table(run_plan)


def _print_table(run_plan) -> None:
    """The plan as a table: a line per phase and style layer."""
    from doodle import planner

    budgets = ", ".join(f"{d} {b / 2**20:,.0f} MiB" for d, b in run_plan.budgets.items())
    click.echo(f"budget: {budgets}")
    click.echo(f"{'phase':>5} {'size':>9} {'style':>9} {'device':>6} {'layer':>5} {'patches out×style':>20} "
               f"{'slices':>6} {'peak':>10}")
    for p in run_plan.phases:
        size, style = f"{p.size[1]}×{p.size[0]}", f"{p.style_size[1]}×{p.style_size[0]}"
        if p.skipped:
            click.echo(f"{p.phase:>5} {size:>9} {style:>9}  skipped: too small for a 3×3 patch")
            continue
        for j, lp in enumerate(p.layers):
            head = f"{p.phase:>5} {size:>9} {style:>9} {p.device:>6}" if j == 0 else " " * 32
            peak = f"{p.peak_bytes / 2**20:8,.0f}Mi" if j == 0 else ""
            slices = "window" if lp.propagated else lp.slices
            click.echo(f"{head} {lp.layer:>5} {f'{lp.out_patches:,}×{lp.style_patches:,}':>20} {slices:>6} {peak:>10}")
    click.echo(f"predicted peak: {planner._mib(run_plan.peak_bytes)}")
