"""scipy's L-BFGS-B (the reference's optimiser) and plain optax L-BFGS against doodle's
(optax's L-BFGS with doodle's undo of a step that blew up the loss: doodle/optim.py), same case.

Usage:
    python3 bench/optimizers.py [--size 128x96] [--evaluations 50] [--match-every 1]
                                [--optimizers scipy,ours,optax]
    python3 bench/optimizers.py --overhead --size 512x384

Each optimises the same two-phase doodle → painting problem from the same start, with
matches recomputed every ``--match-every`` evaluations (1: at every evaluation, as the
reference does; doodle's default is 4) and the distribution targets reassigned after
each matching. Prints, per optimiser and phase: evaluations, loss every 10
evaluations and the final one, wall time and time per step (compile excluded).

"optax" is plain ``optax.scale_by_lbfgs`` (memory 5, no line search: a unit step, as ours)
followed by ``optax.projections.projection_box`` onto [0, 255], fused with the
evaluation into one compiled step like ``evaluation.iterate``, without doodle's undo.
Until 2026-11-30 "ours" was a hand-written projected L-BFGS (bench/RESULTS.md compares
the three). ``--overhead`` times the two optimisers' own work per step, without the
evaluation. scipy is needed only here (pip install scipy); doodle itself does not
depend on it.
"""
from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from doodle.run import api  # noqa: E402
from doodle.core import evaluation, synthesis
from doodle.core.phase import prepare_phase  # noqa: E402
from doodle.plan.planner import scaled  # noqa: E402
from doodle.core.problem import resize  # noqa: E402
from doodle.core.extractor import builtin  # noqa: E402
from doodle.plan.options import Options  # noqa: E402
from doodle.run import resolve

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


def run_ours(config, consts, phase, hw, x0, matching, evaluations, every=1, trace=None):
    state, _ = evaluation.fresh(config, x0, phase)  # the matching is the caller's
    retargeted = False
    for k in range(evaluations):
        match = k % every == 0
        state, ev = evaluation.iterate(config, consts, hw, state, matching, match, k > 0, not retargeted)
        matching, retargeted = ev.matching, match
        if match:
            matching = evaluation.reassign(ev.matching, ev.pixels, phase)
        if trace is not None:
            trace.append(ev.loss)
    return state.x.reshape(hw + (3,)), evaluations, float(ev.loss), "budget spent"


OPTAX = optax.chain(optax.scale_by_lbfgs(memory_size=5), optax.scale(-1.0))


@functools.partial(jax.jit, static_argnums=(0, 2))
def optax_iterate(config, consts, hw, carry, matching, match):
    """One optax L-BFGS step, projected onto the box, and one evaluation at the new point."""
    x, grad, opt_state = carry
    updates, opt_state = OPTAX.update(grad, opt_state, x)
    x = optax.projections.projection_box(optax.apply_updates(x, updates), 0.0, 255.0)
    ev = evaluation.evaluation(config, consts, x.reshape(hw + (3,)), matching, match)
    return (x, ev.grad.reshape(-1), opt_state), ev


def run_optax(config, consts, phase, hw, x0, matching, evaluations, every=1, trace=None):
    x = jnp.asarray(x0, jnp.float32).reshape(-1)
    ev = evaluation.evaluation_jit(config, consts, x.reshape(hw + (3,)), matching, True)  # the start, as ours
    carry = (x, ev.grad.reshape(-1), OPTAX.init(x))
    matching = evaluation.reassign(ev.matching, ev.pixels, phase)
    if trace is not None:
        trace.append(ev.loss)
    for k in range(1, evaluations):
        match = k % every == 0
        carry, ev = optax_iterate(config, consts, hw, carry, matching, match)
        matching = evaluation.reassign(ev.matching, ev.pixels, phase) if match else ev.matching
        if trace is not None:
            trace.append(ev.loss)
    return carry[0].reshape(hw + (3,)), evaluations, float(ev.loss), "budget spent"


def overhead(size: str, repeats: int = 20) -> None:
    """Milliseconds per step of each optimiser alone (a cheap quadratic in place of the
    evaluation) at an image of ``size``, the two alternated in one process."""
    from doodle.core import optim

    w, h = (int(v) for v in size.split("x"))
    n = w * h * 3
    target = jax.random.uniform(jax.random.PRNGKey(0), (n,), jnp.float32, 0.0, 255.0)

    def evaluate(x):
        d = x - target
        return jnp.vdot(d, d), 2 * d, None

    @jax.jit
    def ours(state):
        return optim.step(state, evaluate, 0.0, 255.0, move=True, comparable=False)[0]

    @jax.jit
    def theirs(carry):
        x, grad, opt_state = carry
        updates, opt_state = OPTAX.update(grad, opt_state, x)
        x = optax.projections.projection_box(optax.apply_updates(x, updates), 0.0, 255.0)
        _, grad, _ = evaluate(x)
        return x, grad, opt_state

    x0 = jnp.full((n,), 128.0, jnp.float32)
    loss, grad, _ = evaluate(x0)
    states = {"ours": optim.init(x0, loss, grad), "optax": (x0, grad, OPTAX.init(x0))}
    steps = {"ours": ours, "optax": theirs}
    for key in states:  # compile, and reach a full memory
        for _ in range(8):
            states[key] = jax.block_until_ready(steps[key](states[key]))
    spent = {"ours": 0.0, "optax": 0.0}
    for _ in range(repeats):
        for key in states:
            t = time.perf_counter()
            states[key] = jax.block_until_ready(steps[key](states[key]))
            spent[key] += time.perf_counter() - t
    print(f"optimiser step alone at {w}x{h} ({n} values), {repeats} steps each, alternated: "
          + ", ".join(f"{k} {1000 * v / repeats:.2f} ms" for k, v in spent.items()))


RUNNERS = {"scipy": ("scipy L-BFGS-B", run_scipy), "ours": ("doodle L-BFGS (optim.py)", run_ours),
           "optax": ("optax scale_by_lbfgs+box", run_optax)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", default="128x96")
    p.add_argument("--evaluations", type=int, default=50)
    p.add_argument("--match-every", type=int, default=1, help="re-match every N evaluations (scipy: always 1)")
    p.add_argument("--optimizers", default="scipy,ours", help="comma-separated: scipy, ours, optax")
    p.add_argument("--overhead", action="store_true",
                   help="only time ours and optax's step alone (a quadratic in place of the evaluation) at --size")
    args = p.parse_args()
    if args.overhead:
        overhead(args.size)
        return
    w, h = (int(v) for v in args.size.split("x"))
    style, style_map, doodle, name = case("auto")
    options = Options.of(iterations=args.evaluations, phases=2, random_seed=0, output_size=(w, h))
    problem = api.build_problem(style, style_map=style_map, target_map=doodle, options=options)
    extractor = builtin()
    print(f"case {name} {w}x{h}, {args.evaluations} evaluations per phase, matching every {args.match_every}")
    for key in args.optimizers.split(","):
        label, runner = RUNNERS[key]
        kwargs = {} if key == "scipy" else {"every": args.match_every}
        x = None
        for ph, scale in enumerate((0.5, 1.0), 1):
            hw = scaled(problem.size, scale)
            settings = resolve.recipe(options, problem, resolve.kind_of(extractor))
            x = synthesis.initial_image(problem, settings, hw, key=jax.random.PRNGKey(0)) if x is None else resize(x, hw)
            phase = prepare_phase(problem, extractor, settings, scale, hw, key=jax.random.PRNGKey(ph))
            config = evaluation.eval_config(extractor, settings, phase)
            consts = evaluation.constants(extractor, phase)
            _, start = evaluation.fresh(config, x, phase)
            ev = evaluation.evaluation_jit(config, consts, x, start, True)  # also compiles
            matching = evaluation.reassign(ev.matching, ev.pixels, phase)
            start_loss = float(evaluation.evaluation_jit(config, consts, x, matching, False).loss)
            runner(config, consts, phase, hw, x, matching, 3 + args.match_every, **kwargs)  # compile (optax: twice)
            trace = [] if key != "scipy" else None
            t = time.perf_counter()
            x, n, loss, message = runner(config, consts, phase, hw, jnp.asarray(x, jnp.float32), matching,
                                         args.evaluations, **kwargs, **({"trace": trace} if trace is not None else {}))
            x = jnp.asarray(x, jnp.float32)
            seconds = time.perf_counter() - t
            every10 = " ".join(f"{float(v):.4g}" for v in trace[9::10]) if trace else ""
            print(f"{label:24} phase {ph} {hw[1]}x{hw[0]}: loss {start_loss:.4g} -> {loss:.4g} after {n} "
                  f"evaluations, {seconds:.1f}s, {1000 * seconds / n:.0f} ms/step ({message})"
                  + (f"\n{'':24} every 10th: {every10}" if every10 else ""), flush=True)


if __name__ == "__main__":
    main()
