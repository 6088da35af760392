"""Projected L-BFGS over the image's pixels: optax's L-BFGS without a line search.

The direction is ``optax.scale_by_lbfgs`` (Nocedal & Wright's two-loop recursion;
the first step of a phase, and the first after a reset, is the gradient scaled to
a Euclidean length of at most 1), taken as a unit step and projected back into the
box [lower, upper] by ``optax.projections.projection_box``. Measured against the
hand-written projected L-BFGS doodle had before, on the Coastline case, it reaches
the same loss per evaluation at the same time per step (bench/optimizers.py,
bench/RESULTS.md 2026-11-30).

Why no line search: the objective changes under the optimiser's feet. Every
evaluation may re-match the patches (as the reference does), so the loss is only
piecewise smooth and two evaluations at nearby points may use different matches.
scipy's L-BFGS-B (the reference's optimiser) then rejects good steps in its line
search and, measured here, stalled on the first step of every phase after the
first (bench/optimizers.py, bench/RESULTS.md). CNNMRF (Li & Wand 2016) ran torch's
L-BFGS with a fixed unit step for the same reason; we do the same.

The one safeguard in place of a line search, which optax does not have: a step
that makes the loss much worse on an unchanged objective is undone (see
:func:`step`).

One step is one evaluation, so ``--iterations`` is exactly what the user pays,
and the loop stays on the device (no host round trip is needed per step).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

# evaluate(x) -> (loss, gradient, aux): x and gradient (N,) float32.
Evaluate = Callable[[jax.Array], tuple[jax.Array, jax.Array, Any]]


class LBFGSState(NamedTuple):
    """Optimiser state.

    Attributes:
      x: (N,) float32 current point, inside the box.
      loss: () float32 loss at ``x``.
      grad: (N,) float32 gradient at ``x``.
      lbfgs: ``optax.scale_by_lbfgs``'s state: the recent steps and gradient
        changes (its memory), and the point and gradient it last saw.
      count: () int32 steps taken.
    """

    x: jax.Array
    loss: jax.Array
    grad: jax.Array
    lbfgs: Any
    count: jax.Array


def _lbfgs(memory: int) -> optax.GradientTransformation:
    return optax.scale_by_lbfgs(memory_size=memory)


def memory_of(state: LBFGSState) -> int:
    """How many curvature pairs ``state`` remembers."""
    return state.lbfgs.weights_memory.shape[0]


def init(x: jax.Array, loss: jax.Array, grad: jax.Array, memory: int = 5) -> LBFGSState:
    """State at ``x`` (N,) float32 with its loss and gradient, remembering ``memory`` pairs."""
    return LBFGSState(x=x, loss=jnp.asarray(loss, jnp.float32), grad=grad, lbfgs=_lbfgs(memory).init(x),
                      count=jnp.int32(0))


def step(
    state: LBFGSState,
    evaluate: Evaluate,
    lower: float,
    upper: float,
    move: Any = True,
    comparable: Any = False,
    max_growth: float = 1.1,
) -> tuple[LBFGSState, Any]:
    """One projected step and one evaluation; returns the new state and ``evaluate``'s aux.

    ``move`` (a bool, may be traced) False evaluates at ``state.x`` without moving
    (and leaves optax's memory as it was): from :func:`init` with a zero gradient
    that is the first evaluation, so one compiled step serves both.

    ``comparable`` (may be traced) says the objective is the one ``state.loss`` was
    measured on (no re-matching in between). Then a step that raised the loss above
    ``max_growth`` times the last is rejected: the state stays where it was and
    forgets its curvature pairs, so the next step is a short steepest-descent one.
    Without a line search a unit step can overshoot; measured on the coffee photo
    with --preserve-colors, one such step took the loss from 5.6e5 to 1.2e6 and the
    next ones to 3.9e6, painting salt-and-pepper noise.
    """
    lbfgs = _lbfgs(memory_of(state))
    direction, moved = lbfgs.update(state.grad, state.lbfgs, state.x)
    x = jnp.where(move, optax.projections.projection_box(state.x - direction, lower, upper), state.x)
    memory = jax.tree_util.tree_map(lambda a, b: jnp.where(move, a, b), moved, state.lbfgs)
    loss, grad, aux = evaluate(x)
    new = LBFGSState(x=x, loss=loss, grad=grad, lbfgs=memory, count=state.count + 1)
    reject = jnp.asarray(comparable) & (loss > max_growth * state.loss)
    kept = state._replace(lbfgs=lbfgs.init(state.x), count=state.count + 1)
    new = jax.tree_util.tree_map(lambda a, b: jnp.where(reject, a, b), kept, new)
    return new, aux
