"""Weight files in every format, written by hand: no torch, no safetensors package.

Each writer takes weights in its format's file layout (see weight_refs.py) and
writes what that framework's own writer would, down to the odd corners the readers
must handle (non-contiguous views, shared storages, storage views, bfloat16).
"""
from __future__ import annotations

import bz2
import io
import json
import pickle
import struct
import tarfile
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, Optional

import numpy as np

from doodle import weights
from weight_refs import CONVS_OF, TORCH_INDEX_OF, hwio_weights, oihw_weights

TORCH_INDEX = {"conv1_1": 0, "conv1_2": 2, "conv2_1": 5, "conv2_2": 7}


def write_lasagne(path: Path, w: dict, protocol: int = 2, old_numpy_names: bool = False, extra=(),
                  compress: bool = True) -> Path:
    flat = [a for conv in w for a in w[conv]] + list(extra)
    data = pickle.dumps(flat, protocol=protocol)
    if old_numpy_names:  # as pickled in 2016: numpy.core, not numpy._core (GLOBAL is newline-framed)
        assert protocol <= 3
        data = data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
        assert b"numpy.core.multiarray\n_reconstruct" in data
    path.write_bytes(bz2.compress(data) if compress else data)  # plain: full-size lists compress slowly
    return path


class G:
    """A global, written as GLOBAL "module\\nname\\n" without importing it (no torch here)."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *args: Any) -> None:  # pickle insists reduce functions be callable
        raise AssertionError("never called")


class FakeStorage:
    def __init__(self, key: str, array: np.ndarray, type_name: str = "FloatStorage", view=None, untyped=False):
        self.key, self.type_name, self.view, self.untyped = key, type_name, view, untyped
        self.data = array.tobytes()
        self.numel = len(self.data) if untyped else array.size


class FakeTensor:
    def __init__(self, storage: FakeStorage, offset: int, size, stride, rebuild: str = "v2", dtype: str = ""):
        self.args = (storage, offset, tuple(size), tuple(stride))
        self.rebuild, self.dtype = rebuild, dtype

    def __reduce__(self):
        if self.rebuild == "v1":  # torch < 0.4
            return G("torch._utils", "_rebuild_tensor"), self.args
        if self.rebuild == "v3":
            return G("torch._utils", "_rebuild_tensor_v3"), self.args + (False, OrderedDict(), G("torch", self.dtype))
        return G("torch._utils", "_rebuild_tensor_v2"), self.args + (False, OrderedDict())


class TorchPickler(pickle._Pickler):  # the pure-Python pickler lets save() be overridden
    def __init__(self, file, legacy: bool = False) -> None:
        super().__init__(file, protocol=2)
        self.legacy = legacy

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, G):
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            return
        super().save(obj, save_persistent_id)

    def persistent_id(self, obj):
        if not isinstance(obj, FakeStorage):
            return None
        storage_type = G("torch.storage", "UntypedStorage") if obj.untyped else G("torch", obj.type_name)
        pid = ("storage", storage_type, obj.key, "cpu", obj.numel)
        return pid + (obj.view,) if self.legacy else pid


def cstride(a: np.ndarray) -> tuple[int, ...]:
    """C-contiguous strides of ``a`` in elements."""
    return tuple(s // a.itemsize for s in a.strides)


def torch_state(w: dict, index: dict = TORCH_INDEX, **kw) -> tuple[OrderedDict, list[FakeStorage]]:
    """A torchvision-named state dict over fake storages, exercising odd layouts:
    conv1_1's weight is a transposed (non-contiguous) view; conv1_2's weight and bias
    share one storage; a classifier tensor must be skipped. ``index``: each conv's
    ``features`` index (the network's, weight_refs.TORCH_INDEX_OF)."""
    state, storages = OrderedDict(), []
    for conv, (wt, b) in w.items():
        i = index[conv]
        out_c, in_c = wt.shape[:2]
        if conv == "conv1_1":
            s = FakeStorage(f"{i}w", np.ascontiguousarray(wt.transpose(1, 0, 2, 3)), **kw)
            state[f"features.{i}.weight"] = FakeTensor(s, 0, wt.shape, (9, out_c * 9, 3, 1))
            sb = FakeStorage(f"{i}b", b, **kw)
            state[f"features.{i}.bias"] = FakeTensor(sb, 0, b.shape, (1,))
            storages += [s, sb]
        elif conv == "conv1_2":
            s = FakeStorage(f"{i}wb", np.concatenate([wt.ravel(), b]), **kw)
            state[f"features.{i}.weight"] = FakeTensor(s, 0, wt.shape, cstride(wt))
            state[f"features.{i}.bias"] = FakeTensor(s, wt.size, b.shape, (1,))
            storages.append(s)
        else:
            s, sb = FakeStorage(f"{i}w", wt, **kw), FakeStorage(f"{i}b", b, **kw)
            state[f"features.{i}.weight"] = FakeTensor(s, 0, wt.shape, cstride(wt))
            state[f"features.{i}.bias"] = FakeTensor(sb, 0, b.shape, (1,))
            storages += [s, sb]
    fc = FakeStorage("fc", np.arange(12, dtype=np.float32), **kw)
    state["classifier.0.weight"] = FakeTensor(fc, 0, (3, 4), (4, 1))
    return state, storages + [fc]


def write_torch_zip(path: Path, state, storages, root: str = "archive", pickled: Optional[bytes] = None) -> Path:
    """torch.save's zip layout: <root>/data.pkl and <root>/data/<key> (stored)."""
    if pickled is None:
        buf = io.BytesIO()
        TorchPickler(buf).dump(state)
        pickled = buf.getvalue()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{root}/data.pkl", pickled)
        zf.writestr(f"{root}/byteorder", "little")
        for s in storages:
            zf.writestr(f"{root}/data/{s.key}", s.data)
        zf.writestr(f"{root}/version", "3\n")
    return path


def write_torch_legacy(path: Path, state, storages) -> Path:
    """torch.save before 1.6: magic, protocol, sys_info, object, keys, raw storages."""
    with open(path, "wb") as f:
        f.write(pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2))
        f.write(pickle.dumps(1001, protocol=2))
        f.write(pickle.dumps({"protocol_version": 1001, "little_endian": True,
                              "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2))
        TorchPickler(f, legacy=True).dump(state)
        roots = {s.key: s for s in storages}
        keys = sorted(roots)
        f.write(pickle.dumps(keys, protocol=2))
        for key in keys:
            f.write(struct.pack("<q", roots[key].numel))
            f.write(roots[key].data)
    return path


def write_torch_tar(path: Path, w: dict) -> Path:
    """torch.save's early-2017 tar layout (PAX members sys_info, pickle, tensors, storages).

    Keys are ints, as torch wrote them; conv1_2's bias lives in a storage view."""
    def member(tar, name, data):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    def dumps(obj) -> bytes:
        buf = io.BytesIO()
        TorchPickler(buf).dump(obj)
        return buf.getvalue()

    class Key(int):  # pickled as a persistent id, i.e. a reference to a tensor
        pass

    class RefPickler(TorchPickler):
        def persistent_id(self, obj):
            return str(int(obj)) if isinstance(obj, Key) else None

    state, tensors, storages, views = OrderedDict(), [], [], []
    next_key = iter(range(1000, 10**6))
    for conv, (wt, b) in w.items():
        i = TORCH_INDEX[conv]
        root = next(next_key)
        storages.append((root, np.concatenate([wt.ravel(), b])))
        wkey, bkey = next(next_key), next(next_key)
        tensors.append((wkey, root, wt.shape, cstride(wt), 0))
        if conv == "conv1_2":
            view = next(next_key)
            views.append((view, root, wt.size, b.size))
            tensors.append((bkey, view, b.shape, (1,), 0))
        else:
            tensors.append((bkey, root, b.shape, (1,), wt.size))
        state[f"features.{i}.weight"], state[f"features.{i}.bias"] = Key(wkey), Key(bkey)
    buf = io.BytesIO()
    RefPickler(buf).dump(state)
    tensor_blob = pickle.dumps(len(tensors), protocol=2)
    for key, storage, size, stride, offset in tensors:
        tensor_blob += dumps((key, storage, G("torch", "FloatTensor")))
        tensor_blob += struct.pack("<i", len(size)) + bytes(4)
        tensor_blob += struct.pack(f"<{len(size)}q", *size) + struct.pack(f"<{len(size)}q", *stride)
        tensor_blob += struct.pack("<q", offset)
    storage_blob = pickle.dumps(len(storages), protocol=2)
    for key, array in storages:
        storage_blob += dumps((key, "cpu", G("torch", "FloatStorage")))
        storage_blob += struct.pack("<q", array.size) + array.astype("<f4").tobytes()
    storage_blob += pickle.dumps(views, protocol=2)
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        member(tar, "sys_info", pickle.dumps({"protocol_version": 1000, "little_endian": True}, protocol=2))
        member(tar, "pickle", buf.getvalue())
        member(tar, "tensors", tensor_blob)
        member(tar, "storages", storage_blob)
    return path


def legacy_state(w: dict) -> tuple[OrderedDict, list[FakeStorage]]:
    """torch 0.3-style: _rebuild_tensor (4 args), and conv1_2's bias as a storage view."""
    state, storages = OrderedDict(), []
    for conv, (wt, b) in w.items():
        i = TORCH_INDEX[conv]
        root = FakeStorage(f"r{i}", np.concatenate([wt.ravel(), b]))
        storages.append(root)
        state[f"features.{i}.weight"] = FakeTensor(root, 0, wt.shape, cstride(wt), rebuild="v1")
        if conv == "conv1_2":
            view = FakeStorage(f"r{i}", b)
            view.view = (f"v{i}", wt.size, b.size)
            state[f"features.{i}.bias"] = FakeTensor(view, 0, b.shape, (1,), rebuild="v1")
        else:
            state[f"features.{i}.bias"] = FakeTensor(root, wt.size, b.shape, (1,), rebuild="v1")
    fc = FakeStorage("fc", np.arange(12, dtype=np.float32))
    state["classifier.0.weight"] = FakeTensor(fc, 0, (3, 4), (4, 1), rebuild="v1")
    return state, storages + [fc]


def st_bytes(tensors: dict[str, tuple[str, np.ndarray]], metadata=None) -> bytes:
    """A safetensors file: {name: (dtype code, array)} in the given order."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, (code, array) in tensors.items():
        if code == "BF16":
            raw = (np.asarray(array, np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
        else:
            raw = np.asarray(array, {"F32": "<f4", "F16": "<f2"}[code]).tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


def bf16_round(a: np.ndarray) -> np.ndarray:
    """What a float32 array reads back as after truncation to bfloat16."""
    return ((a.view(np.uint32) >> 16) << 16).view(np.float32)


def timm_tensors(w: dict, code: str = "F32", fc_floats: int = 16, index: dict = TORCH_INDEX) -> dict:
    """timm vgg19.tv_in1k (or vgg16.tv_in1k, with its ``index``) naming, with
    classifier tensors around and between convs."""
    t: dict[str, tuple[str, np.ndarray]] = {"head.fc.bias": ("F32", np.zeros(10, np.float32))}
    for n, (conv, (wt, b)) in enumerate(w.items()):
        i = index[conv]
        t[f"features.{i}.weight"] = (code, wt)
        t[f"features.{i}.bias"] = (code, b)
        if n == 1:
            t["pre_logits.fc1.weight"] = ("F32", np.ones(fc_floats, np.float32))
    t["head.fc.weight"] = ("F32", np.full(fc_floats, 2.0, np.float32))
    return t


def doodle_metadata(order="RGB", scale=255.0, mean=(1.0, 2.0, 3.0), std=(2.0, 3.0, 4.0)) -> str:
    return json.dumps({"version": 1, "convention": "custom",
                       "preprocess": {"order": order, "scale": scale, "mean": list(mean), "std": list(std)}})


def all_formats(tmp_path: Path) -> dict[str, Path]:
    w, k = oihw_weights(), hwio_weights()
    files = {
        "lasagne": write_lasagne(tmp_path / "a.pkl.bz2", w),
        "torch-zip": write_torch_zip(tmp_path / "b.pth", *torch_state(w)),
        "torch-legacy": write_torch_legacy(tmp_path / "c.pth", *legacy_state(w)),
        "safetensors": tmp_path / "d.safetensors",
        "npz": tmp_path / "e.npz",
    }
    files["safetensors"].write_bytes(st_bytes(timm_tensors(w)))
    np.savez(files["npz"], **{f"{c}.{p}": a for c, (kk, bb) in k.items() for p, a in (("kernel", kk), ("bias", bb))})
    files["torch-tar"] = write_torch_tar(tmp_path / "f.pth", w)
    try:
        import onnx  # noqa: F401
    except ImportError:
        pass
    else:
        files["onnx"] = vgg_onnx(tmp_path / "h.onnx", w)
    try:
        import h5py
    except ImportError:
        return files
    files["keras-h5"] = tmp_path / "g.h5"
    with h5py.File(files["keras-h5"], "w") as f:
        for conv, (kk, bb) in k.items():
            g = f.create_group(weights.KERAS_GROUPS[conv])
            g["kernel:0"], g["bias:0"] = kk, bb
    return files


def vgg_onnx(path, w, *, nhwc=False, pool="MaxPool", head=True, no_bias=(), same_upper=(), attrs=None,
             fed=(), extra_convs=0, constants=()):
    """An ONNX model of the conv chain ``w`` ({conv: (W OIHW, b)}), written to ``path``.

    ``nhwc``: the input is (N, H, W, 3) and a Transpose (0, 3, 1, 2) feeds the first
    conv (tf2onnx); else (N, 3, H, W) (torch.onnx.export). ``head``: a classifier
    after the last pool (a 1×1 AveragePool as torchvision's adaptive pool exports,
    GlobalAveragePool, Flatten, Gemm), and a Shape node reading
    that pool too, as tf2onnx writes. ``no_bias``: convs without B; ``same_upper``:
    convs padded by auto_pad instead of pads; ``attrs``: {conv: attributes to set};
    ``fed``: convs whose weights are graph inputs, not initializers; ``extra_convs``:
    that many more 512-channel convs after the last one; ``constants``: convs whose
    weights are ``Constant`` nodes (as some exporters write them).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    if nhwc:  # tf2onnx reads the input's shape beside the chain
        nodes.append(helper.make_node("Shape", ["input"], ["input_shape"]))
    shape = ["N", "H", "W", 3] if nhwc else ["N", 3, "H", "W"]
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)]
    x = "input"
    if nhwc:
        nodes.append(helper.make_node("Transpose", ["input"], ["input_nchw"], name="to_nchw", perm=[0, 3, 1, 2]))
        x = "input_nchw"
    convs = list(w.items()) + [(f"conv5_{5 + i}", w["conv5_1"]) for i in range(extra_convs)]
    block = 1
    for conv, (wt, b) in convs:
        if int(conv[4]) != block:
            nodes.append(helper.make_node(pool, [x], [f"pool{block}"], name=f"pool{block}", kernel_shape=[2, 2],
                                          strides=[2, 2]))
            x, block = f"pool{block}", int(conv[4])
        ins = [x, f"{conv}.W"]
        if conv in fed:
            inputs.append(helper.make_tensor_value_info(f"{conv}.W", TensorProto.FLOAT, list(wt.shape)))
        elif conv in constants:
            nodes.append(helper.make_node("Constant", [], [f"{conv}.W"], value=numpy_helper.from_array(wt)))
        else:
            inits.append(numpy_helper.from_array(wt, f"{conv}.W"))
        if conv not in no_bias:
            inits.append(numpy_helper.from_array(b, f"{conv}.b"))
            ins.append(f"{conv}.b")
        kw = dict(kernel_shape=[3, 3], auto_pad="SAME_UPPER") if conv in same_upper else dict(kernel_shape=[3, 3],
                                                                                             pads=[1, 1, 1, 1])
        kw.update((attrs or {}).get(conv, {}))
        nodes.append(helper.make_node("Conv", ins, [f"{conv}.out"], name=conv, **kw))
        nodes.append(helper.make_node("Relu", [f"{conv}.out"], [f"relu{conv[4:]}"], name=f"relu{conv[4:]}"))
        x = f"relu{conv[4:]}"
    outputs = [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)]
    if head:
        c = convs[-1][1][0].shape[0]
        nodes += [
            helper.make_node(pool, [x], ["last_pool"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Shape", ["last_pool"], ["last_shape"]),
            # torchvision's AdaptiveAvgPool2d as exported at 224×224: a 1×1 average.
            helper.make_node("AveragePool", ["last_pool"], ["adaptive"], kernel_shape=[1, 1], strides=[1, 1]),
            helper.make_node("GlobalAveragePool", ["adaptive"], ["gap"]),
            helper.make_node("Flatten", ["gap"], ["flat"]),
            helper.make_node("Gemm", ["flat", "fc.W", "fc.b"], ["logits"], transB=1),
        ]
        inits += [numpy_helper.from_array(np.ones((10, c), np.float32), "fc.W"),
                  numpy_helper.from_array(np.zeros(10, np.float32), "fc.b")]
        outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, None),
                   helper.make_tensor_value_info("last_shape", TensorProto.INT64, None)]
    graph = helper.make_graph(nodes, "vgg", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="tests")
    onnx.save(model, str(path))
    return path


def lasagne_bytes(tmp_path: Path) -> bytes:
    return write_lasagne(tmp_path / "src.pkl.bz2", oihw_weights()).read_bytes()


def torch_index(arch: str) -> dict[str, int]:
    """{conv: torchvision ``features`` index} for ``arch``, from weight_refs' own table."""
    return dict(zip(CONVS_OF[arch], TORCH_INDEX_OF[arch]))


def write_keras_h5(path: Path, k: dict, groups: dict) -> Path:
    """A Keras 2 ``…_notop.h5``: group ``block1_conv1`` with ``block1_conv1_W_1:0`` and
    ``…_b_1:0`` (HWIO kernel, bias) per conv; ``groups`` maps conv -> group name."""
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [groups[c].encode() for c in k]
        for conv, (kk, bb) in k.items():
            g = f.create_group(groups[conv])
            g[f"{groups[conv]}_W_1:0"], g[f"{groups[conv]}_b_1:0"] = kk, bb
    return path


def keras_groups(arch: str) -> dict[str, str]:
    """{conv: Keras group}: ``conv3_2`` -> ``block3_conv2``."""
    return {c: "block{}_conv{}".format(*c[len("conv"):].split("_")) for c in CONVS_OF[arch]}
