"""The projected L-BFGS (optax's, without a line search): convergence on a known problem,
the box, and the safeguard."""
import jax.numpy as jnp
import numpy as np

from doodle.core import optim


def _quadratic(a, b):
    def evaluate(x):
        r = a @ x - b
        return 0.5 * jnp.vdot(r, r), a.T @ r, None
    return evaluate


def _run(evaluate, x0, steps, lower=-1e9, upper=1e9):
    loss, grad, _ = evaluate(x0)
    state = optim.init(x0, loss, grad)
    for _ in range(steps):
        state, _ = optim.step(state, evaluate, lower, upper)
    return state


def test_converges_to_the_least_squares_solution(rng):
    a = jnp.asarray(rng.standard_normal((12, 6)), jnp.float32)
    b = jnp.asarray(rng.standard_normal(12), jnp.float32)
    state = _run(_quadratic(a, b), jnp.zeros(6, jnp.float32), 60)
    expected = np.linalg.lstsq(np.asarray(a), np.asarray(b), rcond=None)[0]
    np.testing.assert_allclose(np.asarray(state.x), expected, atol=1e-3)


def test_the_box_is_kept(rng):
    a = jnp.eye(4, dtype=jnp.float32)
    b = jnp.asarray([5.0, -5.0, 0.5, 0.2], jnp.float32)
    state = _run(_quadratic(a, b), jnp.zeros(4, jnp.float32), 40, lower=0.0, upper=1.0)
    np.testing.assert_allclose(np.asarray(state.x), [1.0, 0.0, 0.5, 0.2], atol=1e-4)


def test_a_step_that_blows_up_a_comparable_loss_is_undone():
    bowl = _quadratic(jnp.eye(2, dtype=jnp.float32), jnp.zeros(2, jnp.float32))
    start = jnp.asarray([1.0, 2.0], jnp.float32)
    state = _run(bowl, start, 2)  # two steps down the bowl: a curvature pair in memory
    assert int(state.lbfgs.count) == 2

    def worse(x):
        return state.loss * 5, jnp.ones_like(x), None

    undone, _ = optim.step(state, worse, -10.0, 10.0, comparable=True)
    np.testing.assert_array_equal(np.asarray(undone.x), np.asarray(state.x))
    assert float(undone.loss) == float(state.loss)
    assert int(undone.lbfgs.count) == 0  # the memory is forgotten: the next step is a first step
    # The control: after a re-matching (not comparable) the same step stands.
    kept, _ = optim.step(state, worse, -10.0, 10.0, comparable=False)
    assert not np.array_equal(np.asarray(kept.x), np.asarray(state.x)) and float(kept.loss) == float(state.loss * 5)


def test_a_fresh_state_is_evaluated_where_it_is():
    x0 = jnp.asarray([0.3, -0.2], jnp.float32)
    evaluate = _quadratic(jnp.eye(2, dtype=jnp.float32), jnp.zeros(2, jnp.float32))
    fresh = optim.init(x0, jnp.float32(jnp.nan), jnp.zeros_like(x0))
    state, _ = optim.step(fresh, evaluate, -1.0, 1.0, move=False)
    np.testing.assert_array_equal(np.asarray(state.x), np.asarray(x0))
    np.testing.assert_allclose(float(state.loss), 0.5 * (0.09 + 0.04), rtol=1e-6)
    assert int(state.lbfgs.count) == 0  # optax's memory untouched: no curvature pair from a step of zero
