"""The three terms of the objective: MRF style, content, total variation.

All take arrays and return a scalar float32; weights are applied by the caller.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from doodle.core.patches import Targets


def mrf_loss(feats: jax.Array, targets: Targets) -> jax.Array:
    """Mean squared difference between output patches and their matched style patches.

    The reference computes ``mean((patches - matches[:, :C]) ** 2)`` over P patches of
    3×3×C values (feature channels only, the map is not penalised). Expanding the
    square over the pixels the patches cover gives the same value from the folded
    targets without materialising P·9·C patch values:
    ``(Σ_x count·|f|² - 2 f·acc + Σ|s|²) / (P·9·C)``.

    Args:
      feats: (H, W, C) float32 raw features of the output.
      targets: from :func:`doodle.core.patches.fold` for this layer.
    """
    c = feats.shape[-1]
    total = jnp.sum(targets.count * feats * feats) - 2.0 * jnp.sum(feats * targets.acc) + targets.sq
    return total / (float(targets.patches) * 9 * c)  # a Python int past 2**31 at 4096×3072


def content_loss(feats: jax.Array, content: jax.Array) -> jax.Array:
    """Mean squared error between (H, W, C) feature maps (Gatys et al. 2016)."""
    return jnp.mean((feats - content) ** 2)


def total_variation(image: jax.Array, exponent: float = 1.25, wrap: bool = False) -> jax.Array:
    """The reference's smoothness term on an (H, W, 3) image in [0, 255].

    ``mean(((x[i,j] - x[i+1,j])² + (x[i,j] - x[i,j+1])²) ** 1.25)`` per channel.
    The square root of the sum of squares would be the usual TV; the 1.25 power is
    what neural-doodle uses and what its default weight of 1 is tuned for.

    ``wrap``: the image is a seamless tile: every pixel is compared with its
    neighbours below and to the right, across the border to the opposite side
    (H·W terms rather than (H-1)·(W-1)).
    """
    if wrap:
        dy = image - jnp.roll(image, -1, axis=0)
        dx = image - jnp.roll(image, -1, axis=1)
        return jnp.mean((dy * dy + dx * dx + 1e-12) ** exponent)
    x = image[:-1, :-1]
    dy = x - image[1:, :-1]
    dx = x - image[:-1, 1:]
    # The +tiny keeps the gradient of u**1.25 finite where u == 0 under jax.grad.
    return jnp.mean((dy * dy + dx * dx + 1e-12) ** exponent)
