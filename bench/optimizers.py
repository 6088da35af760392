"""scipy's L-BFGS-B (the reference's optimiser) against doodle's projected L-BFGS, same case.

Usage:
    python3 bench/optimizers.py [--size 128x96] [--evaluations 50]

Both optimise the same two-phase doodle → painting problem from the same start, with
matches recomputed at every evaluation as the reference does. Prints, per optimiser
and phase: evaluations, final loss, wall time (compile excluded). scipy is needed
only here (pip install scipy); doodle itself does not depend on it.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from doodle import api, evaluation, synthesis  # noqa: E402
from doodle.phase import prepare_phase  # noqa: E402
from doodle.planner import scaled  # noqa: E402
from doodle.problem import resize  # noqa: E402
from doodle.extractor import builtin  # noqa: E402
from doodle.options import Options  # noqa: E402

from speed import case  # noqa: E402


def run_scipy(config, consts, phase, hw, x0, matching, evaluations):
    from scipy.optimize import Bounds, minimize

    state = {"matching": matching, "n": 0, "loss": None}

    def fun(flat):
        ev = evaluation.evaluation_jit(config, consts, jnp.asarray(flat.reshape(hw + (3,)), jnp.float32),
                                       state["matching"], True)
        state["matching"] = evaluation.reassign(ev.matching, ev.pixels, phase)
        state["n"] += 1
        state["loss"] = float(ev.loss)
        return float(ev.loss), np.asarray(ev.grad, np.float64).ravel()

    x0 = np.asarray(x0, np.float64).ravel()
    res = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=Bounds(np.zeros_like(x0), np.full_like(x0, 255.0)),
                   options={"maxcor": 5, "maxfun": evaluations, "ftol": 0.0, "gtol": 0.0})
    return res.x.reshape(hw + (3,)), state["n"], state["loss"], str(res.message)


def run_ours(config, consts, phase, hw, x0, matching, evaluations):
    # Re-match at every evaluation, as the scipy run does.
    state, _ = evaluation.fresh(config, x0, phase)  # the matching is the caller's
    for k in range(evaluations):
        state, ev = evaluation.iterate(config, consts, hw, state, matching, True, k > 0, False)
        matching = evaluation.reassign(ev.matching, ev.pixels, phase)
    return state.x.reshape(hw + (3,)), evaluations, float(ev.loss), "budget spent"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", default="128x96")
    p.add_argument("--evaluations", type=int, default=50)
    args = p.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    style, style_map, doodle, name = case("auto")
    options = Options.of(iterations=args.evaluations, phases=2, random_seed=0, output_size=(w, h))
    problem = api.build_problem(style, style_map=style_map, target_map=doodle, options=options)
    extractor = builtin()
    print(f"case {name} {w}x{h}, {args.evaluations} evaluations per phase, matching every evaluation")
    for label, runner in (("scipy L-BFGS-B", run_scipy), ("doodle projected L-BFGS", run_ours)):
        x = None
        for ph, scale in enumerate((0.5, 1.0), 1):
            hw = scaled(problem.size, scale)
            x = (synthesis.initial_image(problem, options, hw, key=jax.random.PRNGKey(0)) if x is None
                 else resize(x, hw))
            phase = prepare_phase(problem, extractor, options, scale, hw, key=jax.random.PRNGKey(ph))
            config = evaluation.eval_config(extractor, options, problem, phase)
            consts = evaluation.constants(extractor, phase)
            _, start = evaluation.fresh(config, x, phase)
            ev = evaluation.evaluation_jit(config, consts, x, start, True)  # also compiles
            matching = evaluation.reassign(ev.matching, ev.pixels, phase)
            start_loss = float(evaluation.evaluation_jit(config, consts, x, matching, False).loss)
            runner(config, consts, phase, hw, x, matching, 2)  # compile the optimiser's own functions
            t = time.perf_counter()
            x, n, loss, message = runner(config, consts, phase, hw, jnp.asarray(x, jnp.float32), matching,
                                         args.evaluations)
            x = jnp.asarray(x, jnp.float32)
            print(f"{label:24} phase {ph} {hw[1]}x{hw[0]}: loss {start_loss:.4g} -> {loss:.4g} after {n} "
                  f"evaluations, {time.perf_counter() - t:.1f}s ({message})")


if __name__ == "__main__":
    main()
