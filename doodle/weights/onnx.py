"""ONNX models (``.onnx``): the VGG16 or VGG19 convolutions found in any graph.

What is read is the chain VGG's feature part makes: 13 or 16 ``Conv`` nodes (3×3,
stride 1, padding 1 or ``SAME_*`` auto-padding, no dilation, one group), each
followed by a ``Relu``, a 2×2 stride-2 ``MaxPool`` or ``AveragePool`` between
blocks; kernels and biases are the graph's initializers (or ``Constant`` nodes), a
missing bias meaning zeros. Whatever comes before the first conv (a ``Transpose``
from NHWC input, baked-in normalisation) and after the last one (pooling, a
classifier head) is ignored. ONNX's Conv cross-correlates an NCHW input with OIHW
weights, as ``flax.linen.Conv`` does in NHWC/HWIO: the kernels are transposed
(2, 3, 1, 0), never flipped. Only the weights are kept, not the kind of pooling:
doodle's network averages between blocks whatever the graph did (:mod:`doodle.core.vgg`).

The input convention is told from the graph: a first conv that reads the graph's
input directly is PyTorch's (``torch.onnx.export`` of torchvision's vgg16/vgg19:
torchvision convention); one behind a ``Transpose`` with perm (0, 3, 1, 2) was fed
NHWC, as Keras models converted by tf2onnx are (Keras's VGG: Caffe convention).
Anything else is assumed torchvision.

The ``onnx`` package parses the file (the optional ``doodle[onnx]`` extra): a
well-kept parser of a format with many versions and encodings (raw bytes or typed
fields, float16, external data) is worth more than a protobuf reader of our own,
and only this format needs it. It parses the whole file at once, so the file's
size is bounded first; external data is refused, never followed.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Optional

import numpy as np

from doodle.core import vgg
from doodle.errors import InputError
from doodle.weights.layout import Params, PathLike, check_shape, layers_to_read
from doodle.weights.raw import as_float32, corrupt

# VGG19 with its classifier is 548 MB of float32; nothing doodle reads is larger.
MAX_FILE = 1 << 30
# A VGG graph has ~60 nodes and ~40 initializers (a few hundred for tf2onnx's shape
# arithmetic); a graph past these is not one.
MAX_NODES = 20_000
MAX_INITIALIZERS = 20_000
# How far back from the first conv the input's Transpose is looked for.
MAX_LEAD = 16
NCHW_FROM_NHWC = (0, 3, 1, 2)
# The nodes a VGG chain is made of, after the Relus.
_CHAIN_OPS = ("Conv", "MaxPool", "AveragePool")


@dataclasses.dataclass(frozen=True)
class OnnxWeights:
    """What an ONNX graph's VGG chain holds."""

    params: Params  # HWIO float32, conv1_1 … (a prefix with ``partial``)
    layout: Optional[str]  # "NCHW" or "NHWC": how the graph's input is laid out; None: not told
    dtype: str  # of the stored kernels


def is_onnx(head: bytes, named_onnx: bool = False) -> bool:
    """Whether a file's first bytes look like an ONNX ModelProto.

    A serialised ModelProto begins with field 1, ``ir_version`` (a small varint:
    ``08 07`` for IR version 7), then ``producer_name`` (field 2) or another of its
    fields 2–8; ``named_onnx`` (the name ends in .onnx) makes the first field enough.
    """
    if len(head) < 3 or head[0] != 0x08 or not 1 <= head[1] <= 64:
        return False
    # The next key: field 2-8 (producer_name, producer_version, domain, model_version,
    # doc_string, graph, opset_import), varint (5) or length-delimited (the others).
    field, wire = head[2] >> 3, head[2] & 7
    return named_onnx or (2 <= field <= 8 and wire == (0 if field == 5 else 2))


def _onnx():
    """The onnx package, or the InputError saying how to install it."""
    try:
        import onnx  # optional: only this format needs it
    except ImportError:
        raise InputError("reading ONNX files needs the onnx package", "pip install 'doodle[onnx]'") from None
    return onnx


def read_onnx(path: PathLike, *, partial: bool = False) -> OnnxWeights:
    """The VGG16 / VGG19 conv chain of an ONNX model as HWIO params.

    Raises InputError, one line saying why, for anything that is not such a chain
    (see the module docstring); with ``partial`` a chain ending early is a prefix.
    """
    onnx = _onnx()
    path = Path(path)
    what = path.name
    size = path.stat().st_size
    if size > MAX_FILE:
        raise InputError(f"{what} is {size:,} bytes, more than any VGG model needs ({MAX_FILE:,})",
                         "it is not a VGG16 or VGG19 ONNX model.")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError, and whatever a damaged file makes of it
        raise corrupt(what, exc) from None
    graph = model.graph
    if len(graph.node) > MAX_NODES or len(graph.initializer) > MAX_INITIALIZERS:
        raise InputError(f"{what} has {len(graph.node):,} nodes and {len(graph.initializer):,} initializers, "
                         "far more than a VGG", "it is not a VGG16 or VGG19 ONNX model.")
    tensors = {t.name: t for t in graph.initializer}
    for node in graph.node:  # some exporters store weights as Constant nodes instead
        if node.op_type == "Constant" and len(node.output) == 1:
            for attr in node.attribute:
                if attr.name == "value" and attr.HasField("t"):
                    tensors[node.output[0]] = attr.t
    chain = _Chain(graph, what)
    convs = chain.convs()
    names = [f"conv{block}_{i}" for block, i, _ in convs]
    arch = "vgg19" if any(n in names for n in ("conv3_4", "conv4_4", "conv5_4")) else "vgg16"
    known = vgg.param_shapes(arch)
    for (block, i, node), name in zip(convs, names):
        if name not in known:
            raise InputError(f"{what}: block {block} of the conv chain has a conv {i} (node {node.name!r}); "
                             f"{arch.upper()}'s block {block} has {sum(n.startswith(f'conv{block}_') for n in known)}",
                             "it is not a VGG16 or VGG19 chain.")
    picked = layers_to_read(lambda conv: conv in names, partial, what, arch)
    out: Params = {}
    dtype = "float32"
    for conv in picked:
        node = convs[names.index(conv)][2]
        kh, kw, cin, cout = known[conv]["kernel"]
        w = _initializer(node, 1, tensors, what, (conv, "weight", (cout, cin, kh, kw), "(out, in, kh, kw)"), onnx)
        if w is None:
            raise InputError(f"{what}: {conv} (node {node.name!r}) has no weights among the initializers",
                             "doodle reads weights stored in the graph, not computed or fed as inputs.")
        b = _initializer(node, 2, tensors, what, (conv, "bias", (cout,), ""), onnx)
        if b is None:
            if len(node.input) > 2 and node.input[2]:
                raise InputError(f"{what}: {conv} (node {node.name!r}) has a bias that is not an initializer")
            b = np.zeros(cout, np.float32)  # ONNX's Conv without B adds nothing
        if conv == "conv1_1":
            dtype = str(w.dtype)
        w32 = as_float32(w, f"layer {conv} weight")
        out[conv] = {"kernel": np.ascontiguousarray(w32.transpose(2, 3, 1, 0)),
                     "bias": as_float32(b, f"layer {conv} bias")}
    return OnnxWeights(out, chain.input_layout(convs[0][2]), dtype)


def _initializer(node: Any, index: int, tensors: dict, what: str, want: tuple, onnx: Any) -> Optional[np.ndarray]:
    """Input ``index`` of ``node`` as an array when the graph stores it; None otherwise.

    ``want``: (conv, part, shape, layout) it must have; its declared dims are checked
    before any of its data is decoded.
    """
    from onnx import numpy_helper

    if len(node.input) <= index or node.input[index] not in tensors:
        return None
    tensor = tensors[node.input[index]]
    conv, part, shape, layout = want
    if tuple(tensor.dims) != shape:
        raise InputError(f"layer {conv} {part} ({tensor.name}) has shape {tuple(tensor.dims)}, "
                         f"expected {shape} {layout}", "the file is not VGG16 or VGG19.")
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        raise InputError(f"{what} keeps {tensor.name!r} in an external data file",
                         "doodle reads self-contained .onnx files only (onnx.save without external data).")
    if tensor.data_type not in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE,
                                onnx.TensorProto.BFLOAT16):
        raise InputError(f"{what}: tensor {tensor.name!r} has ONNX data type {tensor.data_type}, not a float",
                         "VGG weights are float32, float16 or bfloat16.")
    try:
        array = np.asarray(numpy_helper.to_array(tensor))
    except Exception as exc:  # a raw_data length that does not match its dims, say
        raise corrupt(f"{what} (tensor {tensor.name!r})", exc) from None
    check_shape(conv, part, array, shape, layout, tensor.name)
    return array


class _Chain:
    """The graph's nodes by the tensors they read and write, to follow the chain."""

    def __init__(self, graph: Any, what: str) -> None:
        self.graph, self.what = graph, what
        self.readers: dict[str, list[Any]] = {}
        self.writer: dict[str, Any] = {}
        for node in graph.node:
            for name in node.input:
                self.readers.setdefault(name, []).append(node)
            for name in node.output:
                self.writer[name] = node
        self.inputs = {i.name for i in graph.input}

    def _readers(self, node: Any) -> list[Any]:
        """The nodes reading ``node``'s output."""
        return self.readers.get(node.output[0], []) if node.output else []

    def _follow(self, node: Any, ops: tuple[str, ...]) -> Optional[Any]:
        """The node among those reading ``node``'s output whose op is one of ``ops``
        (the chain's next Conv or pool); None when there is none (the chain ends: a
        classifier, a graph output). Readers of other kinds (tf2onnx's ``Shape``)
        are side roads; two of ``ops`` would be a branch, which VGG has not."""
        ahead = [r for r in self._readers(node) if r.op_type in ops]
        if len(ahead) > 1:
            raise InputError(f"{self.what}: the output of {node.op_type} node {node.name!r} feeds "
                             f"{len(ahead)} {'/'.join(sorted({r.op_type for r in ahead}))} nodes; a VGG chain does "
                             "not branch", "it is not a VGG16 or VGG19 chain.")
        return ahead[0] if ahead else None

    def convs(self) -> list[tuple[int, int, Any]]:
        """(block, index in block, Conv node) of the chain from the graph's first Conv."""
        first = next((n for n in self.graph.node if n.op_type == "Conv"), None)
        if first is None:
            raise InputError(f"{self.what} has no Conv node: it is not a VGG", "give a VGG16 or VGG19 model.")
        out: list[tuple[int, int, Any]] = []
        block, index, node = 1, 1, first
        while True:
            self._check_conv(node, len(out) + 1)
            out.append((block, index, node))
            if len(out) > 16:
                raise InputError(f"{self.what}: the conv chain goes on past 16 convs (node {node.name!r})",
                                 "VGG19 has 16, VGG16 13: it is not a VGG16 or VGG19 chain.")
            readers = self._readers(node)
            if len(readers) != 1 or readers[0].op_type != "Relu":
                found = ", ".join(r.op_type for r in readers) or "nothing"
                raise InputError(f"{self.what}: conv {len(out)} (node {node.name!r}) is followed by {found}, "
                                 "not a Relu", "it is not a VGG16 or VGG19 chain.")
            after = self._follow(readers[0], _CHAIN_OPS)
            if after is not None and after.op_type != "Conv":
                # A pool between blocks, or the first of a classifier head's (torchvision's
                # pool5, then its adaptive average pool): only the former is checked.
                pool, after = after, self._follow(after, ("Conv",))
                if after is not None:
                    self._check_pool(pool)
                    block, index = block + 1, 0
            if after is None:
                return out
            node, index = after, index + 1

    def _check_conv(self, node: Any, n: int) -> None:
        """InputError unless ``node`` is a 3×3, stride-1, same-padded, ungrouped Conv."""
        attrs = _attributes(node)
        where = f"{self.what}: conv {n} (node {node.name!r})"
        kernel = tuple(attrs.get("kernel_shape", ()))
        if kernel and kernel != (3, 3):
            raise InputError(f"{where} has a {'×'.join(map(str, kernel))} kernel; VGG's are 3×3",
                             "it is not a VGG16 or VGG19 chain.")
        for name, want in (("strides", (1, 1)), ("dilations", (1, 1))):
            if name in attrs and tuple(attrs[name]) != want:
                raise InputError(f"{where} has {name} {tuple(attrs[name])}; VGG's convs have {want}",
                                 "it is not a VGG16 or VGG19 chain.")
        if attrs.get("group", 1) != 1:
            raise InputError(f"{where} is grouped ({attrs['group']} groups); VGG's are not",
                             "it is not a VGG16 or VGG19 chain.")
        auto_pad = attrs.get("auto_pad", b"NOTSET")
        auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
        pads = tuple(attrs.get("pads", (0, 0, 0, 0)))
        # SAME_UPPER and SAME_LOWER agree for a 3×3 kernel at stride 1: one pixel a side.
        if auto_pad not in ("SAME_UPPER", "SAME_LOWER") and not (auto_pad == "NOTSET" and pads == (1, 1, 1, 1)):
            shown = f"auto_pad {auto_pad}" if auto_pad != "NOTSET" else f"pads {pads}"
            raise InputError(f"{where} has {shown}; VGG's convs pad one pixel a side",
                             "it is not a VGG16 or VGG19 chain.")

    def _check_pool(self, node: Any) -> None:
        """InputError unless ``node`` pools 2×2 with stride 2 and no padding."""
        attrs = _attributes(node)
        kernel, strides = tuple(attrs.get("kernel_shape", ())), tuple(attrs.get("strides", (1, 1)))
        pads = tuple(attrs.get("pads", (0, 0, 0, 0)))
        if kernel != (2, 2) or strides != (2, 2) or any(pads):
            raise InputError(f"{self.what}: {node.op_type} node {node.name!r} pools {kernel} with strides {strides}"
                             f" and pads {pads}; VGG pools 2×2 with stride 2", "it is not a VGG16 or VGG19 chain.")

    def input_layout(self, first: Any) -> Optional[str]:
        """"NCHW" when the first conv reads the graph's input, "NHWC" when it reads it
        through a Transpose (0, 3, 1, 2); None when the way there says neither."""
        name = first.input[0]
        for _ in range(MAX_LEAD):
            if name in self.inputs:
                return "NCHW"
            node = self.writer.get(name)
            if node is None or not node.input:
                return None
            if node.op_type == "Transpose" and tuple(_attributes(node).get("perm", ())) == NCHW_FROM_NHWC:
                return "NHWC"
            name = node.input[0]
        return None


def _attributes(node: Any) -> dict[str, Any]:
    """A node's attributes as Python values (ints, tuples of ints, bytes)."""
    from onnx import helper

    out: dict[str, Any] = {}
    for attr in node.attribute:
        value = helper.get_attribute_value(attr)
        out[attr.name] = tuple(value) if isinstance(value, list) else value
    return out
