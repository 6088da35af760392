"""Each loss and the full evaluation against finite differences and brute force."""
import jax
import jax.numpy as jnp
import numpy as np

from doodle.core import losses, patches

from recipes import recipe_for


def _fd(f, x, direction, eps=1e-2):
    return (f(x + eps * direction) - f(x - eps * direction)) / (2 * eps)


def _check_grad(f, x, rng, rtol=2e-2):
    x = jnp.asarray(x, jnp.float64) if jax.config.jax_enable_x64 else jnp.asarray(x, jnp.float32)
    g = jax.grad(f)(x)
    for _ in range(3):
        d = jnp.asarray(rng.standard_normal(x.shape), x.dtype)
        analytic = float(jnp.vdot(g, d))
        numeric = float(_fd(f, x, d))
        np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=1e-4 * abs(numeric) + 1e-6)


def test_total_variation_matches_reference_formula(rng):
    x = rng.uniform(0, 255, (5, 6, 3)).astype(np.float32)
    a = x[:-1, :-1]
    ref = np.mean(((a - x[1:, :-1]) ** 2 + (a - x[:-1, 1:]) ** 2) ** 1.25)
    np.testing.assert_allclose(float(losses.total_variation(x)), ref, rtol=1e-5)


def test_seamless_total_variation_is_the_hand_sum_across_the_border(rng):
    x = rng.uniform(0, 255, (4, 5, 3)).astype(np.float32)
    h, w, _ = x.shape
    total = 0.0
    for i in range(h):
        for j in range(w):
            dy = x[i, j] - x[(i + 1) % h, j]
            dx = x[i, j] - x[i, (j + 1) % w]
            total += np.sum((dy * dy + dx * dx) ** 1.25)
    np.testing.assert_allclose(float(losses.total_variation(x, wrap=True)), total / (h * w * 3), rtol=1e-5)
    # A tile that repeats seamlessly costs the same whichever row and column it starts at.
    shifted = np.roll(x, (2, 3), (0, 1))
    np.testing.assert_allclose(float(losses.total_variation(shifted, wrap=True)), total / (h * w * 3), rtol=1e-5)
    _check_grad(lambda a: losses.total_variation(a, wrap=True), x.astype(np.float64), rng)


def test_total_variation_gradient(rng):
    _check_grad(losses.total_variation, rng.uniform(0, 255, (6, 5, 3)), rng)


def test_total_variation_gradient_is_finite_on_flat_image():
    g = jax.grad(losses.total_variation)(jnp.full((4, 4, 3), 7.0))
    assert np.isfinite(np.asarray(g)).all()


def test_content_loss_gradient(rng):
    c = jnp.asarray(rng.standard_normal((4, 5, 6)), jnp.float32)
    _check_grad(lambda f: losses.content_loss(f, c), rng.standard_normal((4, 5, 6)), rng)


def test_mrf_loss_gradient(rng):
    style = rng.standard_normal((6, 6, 3)).astype(np.float32)
    index = jnp.asarray(rng.integers(0, 16, (3 * 4,)), jnp.int32)
    t = patches.fold(style, index, (5, 6))
    _check_grad(lambda f: losses.mrf_loss(f, t), rng.standard_normal((5, 6, 3)), rng)


def test_mrf_loss_normalises_by_a_patch_count_past_32_bits(rng):
    # Found on an H200 at 4096×3072: P·9·C was a Python int past 2**31, which JAX
    # refused as an int32 argument (OverflowError) before the first evaluation.
    style = rng.standard_normal((6, 6, 3)).astype(np.float32)
    t = patches.fold(style, jnp.asarray(rng.integers(0, 16, (12,)), jnp.int32), (5, 6))
    feats = jnp.asarray(rng.standard_normal((5, 6, 3)), jnp.float32)
    many = t._replace(patches=3_000_000_000)
    expected = float(losses.mrf_loss(feats, t)) * t.patches / many.patches
    np.testing.assert_allclose(float(losses.mrf_loss(feats, many)), expected, rtol=1e-6)
    np.testing.assert_allclose(float(jax.jit(lambda f: losses.mrf_loss(f, many))(feats)), expected, rtol=1e-6)


def test_evaluation_gradient_through_vgg(builtin_extractor, rng):
    """The fused evaluation (VGG forward, matching, loss, VJP) against finite differences.

    Matches and distribution targets are fixed (as between two matchings) so the loss
    is smooth in the image.
    """
    from doodle.core.evaluation import make_evaluate
    from doodle.plan.options import Options
    from doodle.core.phase import prepare_phase
    from doodle.core.problem import Problem

    style = rng.uniform(0, 255, (24, 24, 3)).astype(np.float32)
    content = rng.uniform(0, 255, (24, 24, 3)).astype(np.float32)
    problem = Problem(style, None, content, None, (24, 24))
    options = Options.of(style_layers=("2_1", "3_1"), content_layers=("2_2",), smoothness=0.1)
    settings = recipe_for(options, problem, builtin_extractor)
    phase = prepare_phase(problem, builtin_extractor, settings, 1.0, (24, 24), key=jax.random.PRNGKey(0))
    assert phase.dist  # the distribution terms are part of the loss checked here
    evaluate = make_evaluate(builtin_extractor, recipe_for(options, problem, builtin_extractor), phase)
    x0 = jnp.asarray(rng.uniform(40, 200, (24, 24, 3)), jnp.float32)
    first = evaluate(x0)
    matching = first.matching
    f = lambda x: evaluate(x, matching).loss  # noqa: E731
    g = evaluate(x0, matching).grad
    # Along the gradient, the directional derivative is |g|: large against float32
    # round-off. The step is small per pixel so ReLU kinks are rarely crossed.
    d = g / jnp.linalg.norm(g)
    numeric = float(_fd(f, x0, d, eps=0.05))
    np.testing.assert_allclose(float(jnp.vdot(g, d)), numeric, rtol=2e-2)
    # A random direction mixes many pixels; a wrong sign or factor anywhere shows.
    d = jnp.asarray(rng.standard_normal(x0.shape), jnp.float32)
    d = d / jnp.linalg.norm(d)
    numeric = float(_fd(f, x0, d, eps=0.05))
    np.testing.assert_allclose(float(jnp.vdot(g, d)), numeric, rtol=5e-2, atol=2e-3 * float(jnp.linalg.norm(g)))
    assert set(first.terms) == {"style 2_1", "style 3_1", "content 2_2", "smoothness", "colour",
                                "distribution 2_1", "distribution 3_1"}


def test_rematerialised_evaluation_has_the_same_loss_and_gradient(builtin_extractor, rng):
    """``remat`` (jax.checkpoint at the network's block boundaries) recomputes the
    activations in the backward pass: the loss and the gradient must not change."""
    from doodle.core.evaluation import eval_config, make_evaluate
    from doodle.plan.options import Options
    from doodle.core.phase import prepare_phase
    from doodle.core.problem import Problem

    from images import swapped_doodle, two_textures

    style, sem = two_textures(size=32)
    doodle = swapped_doodle(size=32)
    problem = Problem(style, sem, None, doodle, (32, 32))
    x0 = jnp.asarray(rng.uniform(40, 200, (32, 32, 3)), jnp.float32)
    out = {}
    for remat in ("off", "on"):
        options = Options.of(style_layers=("2_1", "3_1"), remat=remat)
        settings = recipe_for(options, problem, builtin_extractor)
        phase = prepare_phase(problem, builtin_extractor, settings, 1.0, (32, 32), key=jax.random.PRNGKey(0))
        assert eval_config(builtin_extractor, settings, phase).remat == (remat == "on")
        out[remat] = make_evaluate(builtin_extractor, settings, phase)(x0)
    assert float(jnp.max(jnp.abs(out["off"].grad))) > 0
    np.testing.assert_allclose(float(out["on"].loss), float(out["off"].loss), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(out["on"].grad), np.asarray(out["off"].grad), rtol=1e-4,
                               atol=1e-5 * float(jnp.max(jnp.abs(out["off"].grad))))
