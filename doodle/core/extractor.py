"""A feature extractor: VGG16 or VGG19 parameters and their input convention.

Weight files (``doodle.weights``) produce one of these; so does :func:`builtin`,
the default that needs no file.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from doodle.core import vgg

Params = Mapping[str, Mapping[str, Any]]

# Seed of the built-in weights. Changing it changes every painting the built-in
# extractor makes: it is part of the product, like a weight file's checksum.
BUILTIN_SEED = 19_2016

# Mean ReLU activation the built-in extractor is pinned to at every layer on its
# calibration image. A ReLU net with zero biases is positively homogeneous, so the
# style and content losses scale with the square of this number while the
# smoothness term does not. Measured on the Coastline doodle at 256×192 (bench
# notes in bench/RESULTS.md): at 1 the smoothness term dominated and painted grey
# mush; 10 stayed blurry; 40 followed the regions; 100 gave the painting's strokes
# with smoothness at ~5 % of the loss, as pretrained VGG19 does under the
# reference's default weights (content 10, style 25, smoothness 1); 300 added noise.
BUILTIN_ACTIVATION = 100.0


@dataclasses.dataclass(frozen=True, eq=False)
class Extractor:
    """Everything synthesis needs to know about a network's weights."""

    params: Params  # {"conv1_1": {"kernel": (3, 3, Cin, Cout), "bias": (Cout,)}, …}
    preprocess: vgg.Preprocess  # how RGB [0, 255] pixels become network input
    name: str  # shown in logs: "built-in", a source name or a file name
    # False for the built-in random extractor; its kind decides the run's default
    # layers and weights (doodle.run.resolve.kind_of).
    pretrained: bool = True
    calibration: tuple[float, ...] = ()  # each layer's unscaled mean on the calibration image (pin)
    arch: str = "vgg19"  # "vgg16" or "vgg19" (vgg.ARCHS): the network the weights describe


def _calibration_image(size: int = 64) -> jax.Array:
    """A fixed, smooth, colourful (size, size, 3) float32 image in [0, 255]."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    img = np.stack(
        [
            127.5 + 100 * np.sin(6.0 * x + 2.0 * y),
            127.5 + 100 * np.cos(5.0 * y - 3.0 * x * y),
            127.5 + 100 * np.sin(9.0 * x * y + 1.0),
        ],
        axis=-1,
    )
    return jnp.asarray(img, jnp.float32)


def builtin(seed: int = BUILTIN_SEED, activation: float = BUILTIN_ACTIVATION, last: str = "5_4",
            calibration: Sequence[float] = ()) -> Extractor:
    """VGG19 with seeded He-normal kernels and zero biases: no file needed.

    Random convolutional features are a usable texture descriptor (Ustyuzhaninov et
    al. 2017, "What does it take to generate natural textures?"); the result follows
    the doodle's regions with the painting's colours, softer than pretrained VGG.
    Each layer's kernel is then rescaled so its mean activation on a fixed
    calibration image is ``activation``: without that, the scale of random features
    drifts layer by layer and the style weight would mean something different at
    every layer.

    ``last``: the deepest layer to build (a run that reads up to relu4_2 needs 6 M
    of the 20 M weights, a start-up ~0.6 s shorter on two cores). Each layer's
    weights and gain depend only on the layers before it, so a shorter network has
    exactly the same weights as the full one's first layers.

    ``calibration``: the per-layer means a previous call returned in
    ``Extractor.calibration`` (at least as many as layers built), to skip the
    calibration pass (about half a second of every start-up; see
    :func:`doodle.weights.builtin_extractor`, which keeps them in the cache folder).
    """
    names = vgg.LAYER_NAMES[: vgg.LAYER_NAMES.index(last) + 1]
    params, means = _builtin_params(seed, activation, names, tuple(calibration)[: len(names)])
    return Extractor(params, vgg.Preprocess(), "built-in", pretrained=False, calibration=means)


def _builtin_params(seed: int, activation: float, names: tuple[str, ...],
                    means: tuple[float, ...] = ()) -> tuple[dict[str, dict[str, jax.Array]], tuple[float, ...]]:
    # numpy's PCG64 gives the same numbers on every platform and draws 20M normals
    # in a fraction of a second; jax.random inside a jit took ~7 s to compile.
    rng = np.random.default_rng(seed)
    params = {
        f"conv{name}": {
            "kernel": rng.standard_normal((3, 3, cin, cout), dtype=np.float32) * np.float32(np.sqrt(2.0 / (9 * cin))),
            "bias": np.zeros((cout,), np.float32),
        }
        for name, _, cin, cout in vgg.LAYERS[: len(names)]
    }
    return pin(params, vgg.Preprocess(), activation, means)


def pin(params: Params, preprocess: vgg.Preprocess, activation: float,
        means: Sequence[float] = ()) -> tuple[dict[str, dict[str, jax.Array]], tuple[float, ...]]:
    """``params`` rescaled so every layer's mean activation on the calibration image is
    ``activation``; returns (params as device arrays, each layer's unscaled mean).

    A ReLU is positively homogeneous and pooling linear, so multiplying layer l's
    pre-activation by g_l > 0 multiplies its output by g_l exactly: with g_l =
    activation / m_l, the kernel takes m_(l-1) / m_l (the previous layer's output
    already carries g_(l-1)) and the bias g_l. The network's features are then its
    own, each layer scaled by one number. The style, content and distribution terms
    are squared differences of features, so that is what makes one set of loss
    weights mean the same for every network: the built-in random one and pretrained
    VGGs, whose layers' natural scales differ by ~20× between relu3_1 and relu4_2
    (the weights the reference tuned for raw VGG19 features do not carry over).

    ``means``: the unscaled means from an earlier call (as many as layers), to skip
    the calibration pass.
    """
    names = [n for n in vgg.LAYER_NAMES if f"conv{n}" in params]
    params = {conv: {"kernel": np.asarray(layer["kernel"], np.float32), "bias": np.asarray(layer["bias"], np.float32)}
              for conv, layer in params.items()}
    means = tuple(means)
    if len(means) != len(names):
        out = vgg.features_jit(params, _calibration_image(), tuple(names), preprocess)
        means = tuple(float(v) for v in jax.device_get([jnp.mean(out[name]) for name in names]))
    previous = activation
    for name, mean in zip(names, means):
        if not math.isfinite(mean) or mean <= 0:
            # A dead or overflowing layer on the calibration image (never seen with
            # trained or built-in weights): it and every deeper layer keep the gain
            # of the layer before, which is still an exact rescaling.
            mean = previous
        layer = params[f"conv{name}"]
        layer["kernel"] = layer["kernel"] * np.float32(previous / max(mean, 1e-12))
        layer["bias"] = layer["bias"] * np.float32(activation / max(mean, 1e-12))
        previous = mean
    # device_put, not jnp.asarray: the latter compiles (or loads from the cache) a
    # small program per array shape, ~15 ms each at start-up.
    return jax.device_put(params), means
