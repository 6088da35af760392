"""The VGG16 / VGG19 feature extractors (convolutional part only), as a Flax module.

Layers are named as on the reference's command line: ``"1_1" … "5_4"`` stand for
relu1_1 … relu5_4 (VGG16 stops each of blocks 3–5 one layer earlier, at ``3_3``,
``4_3``, ``5_3``; every other name means the same layer in both). Each is a 3×3
same-padded convolution followed by a ReLU; blocks are separated by 2×2 *average*
pooling, as neural-doodle does (Champandard 2016, §3; max pooling gives blockier
gradients). Only the layers up to the deepest one asked for are computed.

Parameters are a plain pytree ``{"conv1_1": {"kernel": (3, 3, Cin, Cout), "bias":
(Cout,)}, …}`` (HWIO, cross-correlation, as ``flax.linen.Conv``). The network is the
one the parameters describe: its convolutions are those present, in network order
(``conv3_4`` present: VGG19; absent: VGG16). Every weight
source (``doodle.weights``) produces that pytree plus a :class:`Preprocess` that
says how the network wants its pixels.
"""
from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

# Per architecture, (block, convs in block, channels); 2×2 pooling separates blocks
# (Simonyan & Zisserman 2015, configurations D and E).
ARCHS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "vgg16": ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512)),
    "vgg19": ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512)),
}


def layers_of(arch: str = "vgg19") -> tuple[tuple[str, int, int, int], ...]:
    """(name, block, in_channels, out_channels) for each conv layer of ``arch``."""
    table = []
    cin = 3
    for block, count, cout in ARCHS[arch]:
        for i in range(count):
            table.append((f"{block}_{i + 1}", block, cin, cout))
            cin = cout
    return tuple(table)


def layer_names(arch: str = "vgg19") -> tuple[str, ...]:
    """``arch``'s layer names in network order (``"1_1"`` … ``"5_3"`` or ``"5_4"``)."""
    return tuple(name for name, *_ in layers_of(arch))


# VGG19's table: its names are a superset of VGG16's, in the same order, with the same
# channels, so ordering, sizes and channels below hold for both.
LAYERS: tuple[tuple[str, int, int, int], ...] = layers_of("vgg19")
LAYER_NAMES: tuple[str, ...] = layer_names("vgg19")
CHANNELS: dict[str, int] = {name: cout for name, _, _, cout in LAYERS}
IN_CHANNELS: dict[str, int] = {name: cin for name, _, cin, _ in LAYERS}


def arch_of(params: Mapping[str, object]) -> str:
    """The architecture parameters describe: ``"vgg19"`` if they hold a fourth conv in
    any of blocks 3–5, else ``"vgg16"``."""
    return "vgg19" if any(f"conv{b}_4" in params for b in (3, 4, 5)) else "vgg16"


def block_of(layer: str) -> int:
    """The block (1…5) a layer lives in; its resolution is 1 / 2**(block - 1)."""
    return int(layer.split("_")[0])


def downscale(layer: str) -> int:
    """How many input pixels one feature pixel of ``layer`` spans along each axis."""
    return 2 ** (block_of(layer) - 1)


def feature_size(height: int, width: int, layer: str) -> tuple[int, int]:
    """Spatial size of ``layer``'s features for an (height, width) input.

    Pooling is 2×2 with stride 2, VALID: each pooling floors odd sizes.
    """
    for _ in range(block_of(layer) - 1):
        height, width = height // 2, width // 2
    return height, width


def deepest(layers: Sequence[str]) -> str:
    """The layer computed last among ``layers``."""
    return max(layers, key=LAYER_NAMES.index)


def min_side(layers: Sequence[str]) -> int:
    """The smallest image side whose deepest layer of ``layers`` still holds one 3×3 patch."""
    side = 3
    while feature_size(side, side, deepest(layers))[0] < 3:
        side += 1
    return side


def check_layers(layers: Sequence[str], arch: str = "vgg19") -> None:
    """Raise ValueError naming the first layer ``arch`` does not have."""
    known = layer_names(arch)
    for layer in layers:
        if layer not in known:
            raise ValueError(
                f"{arch.upper()} has no layer {layer!r}; its layers are {', '.join(known)}"
            )


@dataclasses.dataclass(frozen=True)
class Preprocess:
    """How a network wants its input pixels.

    The network sees ``(pixel * scale / 255 - mean) / std`` in ``order``, where
    ``pixel`` is RGB in [0, 255]. Defaults are the Caffe VGG convention (BGR,
    0–255, mean subtracted), which the reference used.
    """

    order: str = "BGR"  # "RGB" or "BGR": channel order the first conv expects
    scale: float = 255.0  # value of a white pixel: 255 (Caffe) or 1 (torchvision)
    mean: tuple[float, float, float] = (103.939, 116.779, 123.680)  # in `order`, after scaling
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)  # in `order`, after scaling

    def __call__(self, rgb: jax.Array) -> jax.Array:
        """(..., 3) float32 RGB in [0, 255] -> (..., 3) float32 network input."""
        x = rgb[..., ::-1] if self.order == "BGR" else rgb
        x = x * (self.scale / 255.0)
        shape = (1,) * (x.ndim - 1) + (3,)
        mean = jnp.asarray(self.mean, x.dtype).reshape(shape)
        return (x - mean) / jnp.asarray(self.std, x.dtype).reshape(shape)


class VGG(nn.Module):
    """VGG convolutions ``convs`` (in network order); returns every ReLU output.

    Call with a (N, H, W, 3) float32 batch already passed through
    :class:`Preprocess`; returns ``{layer: (N, h, w, C) float32}``.
    """

    convs: tuple[str, ...] = LAYER_NAMES
    # Pad each convolution's input circularly instead of with zeros: the features of
    # a periodic image are then periodic (a seamless tile's). The 2×2 stride-2 pools
    # pad nothing; at an odd size they drop the last row or column, as without.
    wrap: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> dict[str, jax.Array]:
        out: dict[str, jax.Array] = {}
        block = 1
        for name in self.convs:
            layer_block, cout = block_of(name), CHANNELS[name]
            if layer_block != block:
                # Average pooling as the reference (and Gatys et al.) rather than max.
                x = nn.avg_pool(x, (2, 2), strides=(2, 2), padding="VALID")
                block = layer_block
            if self.wrap:
                x = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="wrap")
            x = nn.Conv(cout, (3, 3), padding="VALID" if self.wrap else "SAME", name=f"conv{name}")(x)
            x = nn.relu(x)
            out[name] = x
        return out


def convs_to(params: Mapping[str, object], last: str) -> tuple[str, ...]:
    """The layers ``params`` hold, in network order, up to ``last``: the network the
    weights describe (VGG16's have no ``conv3_4``, ``conv4_4``, ``conv5_4``)."""
    convs = tuple(n for n in LAYER_NAMES[: LAYER_NAMES.index(last) + 1] if f"conv{n}" in params)
    if not convs or convs[-1] != last:
        raise ValueError(f"the weights have no layer {last!r}")
    return convs


def features(
    params: Mapping[str, Mapping[str, jax.Array]],
    image: jax.Array,
    layers: Sequence[str],
    preprocess: Preprocess,
    wrap: bool = False,
    remat: bool = False,
) -> dict[str, jax.Array]:
    """ReLU features of one image.

    Args:
      params: ``{"conv1_1": {"kernel", "bias"}, …}``; only layers up to the deepest
        of ``layers`` are read.
      image: (H, W, 3) float32 RGB in [0, 255].
      layers: names such as ``"3_1"``.
      preprocess: the input convention of ``params``.
      wrap: pad circularly (the image is a tile of a periodic one) rather than
        with zeros.
      remat: rematerialise each block's activations in the backward pass
        (``jax.checkpoint`` at block boundaries) instead of keeping them: the same
        values and gradients, less memory under differentiation, one more forward
        pass of compute. No effect when not differentiated.

    Returns:
      ``{layer: (h, w, C) float32}`` for each of ``layers``.
    """
    convs = convs_to(params, deepest(layers))
    used = {f"conv{n}": params[f"conv{n}"] for n in convs}
    if remat:
        return _features_remat(used, preprocess(image)[None], tuple(layers), convs, wrap)
    out = VGG(convs=convs, wrap=wrap).apply({"params": used}, preprocess(image)[None])
    return {layer: out[layer][0] for layer in layers}


def _features_remat(params, x: jax.Array, layers: tuple[str, ...], convs: tuple[str, ...],
                    wrap: bool = False) -> dict[str, jax.Array]:
    """:class:`VGG`'s forward pass, one ``jax.checkpoint`` per block: a backward
    pass keeps only each block's input and the asked-for layers, and recomputes a
    block's convolutions when it reaches them (Chen et al. 2016, "Training deep nets
    with sublinear memory cost"). The same ``nn.Conv`` and ``nn.avg_pool`` as the
    module, so the values are the module's."""
    out: dict[str, jax.Array] = {}
    blocks: dict[int, list[tuple[str, int]]] = {}
    for name in convs:
        blocks.setdefault(block_of(name), []).append((name, CHANNELS[name]))
    for block, convs in blocks.items():
        keep = tuple(n for n, _ in convs if n in layers)

        def run(block_params, x, convs=tuple(convs), keep=keep, pool=block > 1):
            if pool:
                x = nn.avg_pool(x, (2, 2), strides=(2, 2), padding="VALID")
            kept = {}
            for name, cout in convs:
                if wrap:
                    x = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="wrap")
                conv = nn.Conv(cout, (3, 3), padding="VALID" if wrap else "SAME")
                x = nn.relu(conv.apply({"params": block_params[name]}, x))
                if name in keep:
                    kept[name] = x
            return x, kept

        x, kept = jax.checkpoint(run)({n: params[f"conv{n}"] for n, _ in convs}, x)
        out.update(kept)
    return {layer: out[layer][0] for layer in layers}


def param_shapes(arch: str = "vgg19") -> dict[str, dict[str, tuple[int, ...]]]:
    """The shape of every parameter of ``arch``, for validating weight files."""
    return {
        f"conv{name}": {"kernel": (3, 3, cin, cout), "bias": (cout,)}
        for name, _, cin, cout in layers_of(arch)
    }


# The same, compiled once per (shapes, layers, convention).
features_jit = jax.jit(features, static_argnums=(2, 3, 4))


# The module's former name: VGG19 is the default ``convs``.
VGG19 = VGG
