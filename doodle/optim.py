"""Projected L-BFGS over the image's pixels, in JAX, without a line search.

Why not a line search: the objective changes under the optimiser's feet. Every
evaluation re-matches the patches (as the reference does), so the loss is only
piecewise smooth and two evaluations at nearby points may use different matches.
scipy's L-BFGS-B (the reference's optimiser) then rejects good steps in its line
search and, measured here, stalled on the first step of every phase after the
first (bench/optimizers.py, bench/RESULTS.md). CNNMRF (Li & Wand 2016) ran torch's
L-BFGS with a fixed unit step for the same reason; we do the same, with the box
[lower, upper] kept by projection and curvature pairs with ``s·y <= 0`` (which
re-matching produces) dropped, so the inverse-Hessian estimate stays positive
definite.

The one safeguard in place of a line search: a step that makes the loss much worse
on an unchanged objective is undone (see :func:`step`).

One step is one evaluation, so ``--iterations`` is exactly what the user pays,
and the loop stays on the device (no host round trip is needed per step).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

# evaluate(x) -> (loss, gradient, aux): x and gradient (N,) float32.
Evaluate = Callable[[jax.Array], tuple[jax.Array, jax.Array, Any]]


class LBFGSState(NamedTuple):
    """Optimiser state.

    Attributes:
      x: (N,) float32 current point, inside the box.
      loss: () float32 loss at ``x``.
      grad: (N,) float32 gradient at ``x``.
      s: (M, N) float32 recent steps ``x_(k+1) - x_k`` (ring buffer).
      y: (M, N) float32 matching gradient changes.
      rho: (M,) float32 ``1 / (s·y)``; 0 marks an empty or dropped slot.
      newest: () int32 slot of the most recent pair.
      gamma: () float32 scale of the initial inverse Hessian, ``s·y / y·y``.
      count: () int32 steps taken.
    """

    x: jax.Array
    loss: jax.Array
    grad: jax.Array
    s: jax.Array
    y: jax.Array
    rho: jax.Array
    newest: jax.Array
    gamma: jax.Array
    count: jax.Array


def init(x: jax.Array, loss: jax.Array, grad: jax.Array, memory: int = 5) -> LBFGSState:
    """State at ``x`` (N,) float32 with its loss and gradient, remembering ``memory`` pairs."""
    n = x.shape[0]
    return LBFGSState(
        x=x, loss=jnp.asarray(loss, jnp.float32), grad=grad,
        s=jnp.zeros((memory, n), jnp.float32), y=jnp.zeros((memory, n), jnp.float32),
        rho=jnp.zeros((memory,), jnp.float32), newest=jnp.int32(memory - 1),
        gamma=jnp.float32(0.0), count=jnp.int32(0),
    )


def direction(state: LBFGSState, first_step: float) -> jax.Array:
    """``-H·g`` by the two-loop recursion (Nocedal & Wright, alg. 7.4).

    Without any curvature pair yet, steepest descent scaled so that the largest
    pixel moves by ``first_step``.
    """
    m = state.rho.shape[0]
    order = (state.newest - jnp.arange(m)) % m  # newest first

    def backward(i, carry):
        q, alphas = carry
        j = order[i]
        a = state.rho[j] * jnp.vdot(state.s[j], q)
        return q - a * state.y[j], alphas.at[j].set(a)

    q, alphas = jax.lax.fori_loop(0, m, backward, (state.grad, jnp.zeros((m,), jnp.float32)))
    r = state.gamma * q

    def forward(i, r):
        j = order[m - 1 - i]
        b = state.rho[j] * jnp.vdot(state.y[j], r)
        return r + state.s[j] * (alphas[j] - b)

    r = jax.lax.fori_loop(0, m, forward, r)
    steepest = state.grad * (first_step / jnp.maximum(jnp.max(jnp.abs(state.grad)), 1e-12))
    return -jnp.where(jnp.any(state.rho > 0), r, steepest)


def step(
    state: LBFGSState,
    evaluate: Evaluate,
    lower: float,
    upper: float,
    first_step: float = 8.0,
    move: Any = True,
    comparable: Any = False,
    max_growth: float = 1.1,
) -> tuple[LBFGSState, Any]:
    """One projected step and one evaluation; returns the new state and ``evaluate``'s aux.

    ``move`` (a bool, may be traced) False evaluates at ``state.x`` without moving:
    from :func:`init` with a zero gradient that is the first evaluation (no
    curvature pair is kept, since ``s`` is 0), so one compiled step serves both.

    ``comparable`` (may be traced) says the objective is the one ``state.loss`` was
    measured on (no re-matching in between). Then a step that raised the loss above
    ``max_growth`` times the last is rejected: the state stays where it was and
    forgets its curvature pairs, so the next step is a short steepest-descent one.
    Without a line search a unit step can overshoot; measured on the coffee photo
    with --preserve-colors, one such step took the loss from 5.6e5 to 1.2e6 and the
    next ones to 3.9e6, painting salt-and-pepper noise.
    """
    x = jnp.where(move, jnp.clip(state.x + direction(state, first_step), lower, upper), state.x)
    loss, grad, aux = evaluate(x)
    s, y = x - state.x, grad - state.grad
    sy, yy = jnp.vdot(s, y), jnp.vdot(y, y)
    keep = sy > 1e-10 * yy
    m = state.rho.shape[0]
    slot = jnp.where(keep, (state.newest + 1) % m, state.newest)
    new = LBFGSState(
        x=x, loss=loss, grad=grad,
        s=jnp.where(keep, state.s.at[slot].set(s), state.s),
        y=jnp.where(keep, state.y.at[slot].set(y), state.y),
        rho=jnp.where(keep, state.rho.at[slot].set(1.0 / jnp.where(keep, sy, 1.0)), state.rho),
        newest=slot,
        gamma=jnp.where(keep, sy / jnp.maximum(yy, 1e-30), state.gamma),
        count=state.count + 1,
    )
    reject = jnp.asarray(comparable) & (loss > max_growth * state.loss)
    kept = state._replace(rho=jnp.zeros_like(state.rho), count=state.count + 1)
    new = jax.tree_util.tree_map(lambda a, b: jnp.where(reject, a, b), kept, new)
    return new, aux
